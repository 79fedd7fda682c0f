"""Rule plot_metrics: metric bars of one dataset."""

from fixate.report.plots import metric_bars
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
metric_bars(list(snakemake.input), snakemake.params.variant, snakemake.output[0])
