"""Rule adserp_serp_aoi: organic and ad boxes of every trial from its saved result page, each
checked against the shipped ad boxes and the final click (the check travels in the JSON)."""

from pathlib import Path

from fixate.data.adserp.serp_stage import run_serp_aoi
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_serp_aoi(
    snakemake.input.pages,
    Path(snakemake.output.aoi[0]).parent,
    workers=snakemake.threads,
    chromium=snakemake.params.chromium,
)
