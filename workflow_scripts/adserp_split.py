"""Rule adserp_split: the query-disjoint split and the preprocessing report."""

from pathlib import Path

from fixate.data.adserp.pipeline import run_split
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.split
run_split(
    snakemake.input.trials,
    Path(snakemake.input.participants).parent,
    snakemake.output.split,
    snakemake.output.report,
    seed=cfg["seed"],
    test_fraction=cfg["test_fraction"],
    val_fraction=cfg["val_fraction"],
    serp_aoi_paths=list(snakemake.input.get("serp_aoi", [])),
)
