"""Rule recgaze_render: one user's interface images."""

from fixate.data.recgaze.pipeline import run_render
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_render(
    snakemake.params.raw_dir,
    snakemake.input.screens,
    snakemake.wildcards.user,
    snakemake.params.dataset_dir,
    snakemake.output.done,
    quality=snakemake.params.quality,
)
