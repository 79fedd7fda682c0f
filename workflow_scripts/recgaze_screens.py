"""Rule recgaze_screens: decision screens, split and preprocessing report."""

from fixate.data.recgaze.pipeline import run_screens
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_screens(
    snakemake.input.events,
    snakemake.input.counts,
    snakemake.input.aoi,
    snakemake.input.item_features,
    snakemake.input.user_features,
    snakemake.output.screens,
    snakemake.output.split,
    snakemake.output.report,
    split_seed=snakemake.params.split_seed,
)
