"""Rule recgaze_render: one user's interface images."""

from pathlib import Path

from fixate.data.recgaze.pipeline import run_render
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
done = Path(snakemake.output.done)
run_render(
    snakemake.input.screens,
    snakemake.input.aoi,
    snakemake.input.item_features,
    Path(snakemake.input.item_features).parent / "posters",
    snakemake.wildcards.user,
    dataset_dir=done.parent.parent,
    done_out=done,
    quality=snakemake.params.quality,
)
