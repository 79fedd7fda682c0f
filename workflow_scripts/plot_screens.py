"""Rule plot_screens: test screens seen through gaze, backbone and FixATE."""

from fixate.report.plots import screen_panels
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
screen_panels(
    list(snakemake.input.shards),
    snakemake.input.per_sample,
    snakemake.params.signal,
    snakemake.output[0],
)
