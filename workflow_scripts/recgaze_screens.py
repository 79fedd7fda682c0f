"""Rule recgaze_screens: decision screens, split and preprocessing report."""

from fixate.data.recgaze.pipeline import run_screens
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_screens(
    snakemake.params.raw_dir,
    snakemake.input.events,
    snakemake.input.counts,
    snakemake.output.screens,
    snakemake.output.split,
    snakemake.output.report,
    split_seed=snakemake.params.split_seed,
)
