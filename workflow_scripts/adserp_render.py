"""Rule adserp_render: one user's viewport images."""

from pathlib import Path

from fixate.data.adserp.pipeline import run_render
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
done = Path(snakemake.output.done)
run_render(
    snakemake.input.trials,
    Path(snakemake.input.screenshots).parent,
    snakemake.wildcards.user,
    dataset_dir=done.parent.parent,
    done_out=done,
    quality=snakemake.params.quality,
)
