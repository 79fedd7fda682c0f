"""Rule plot_training: training curves of one (dataset, backbone, operator)."""

from fixate.report.plots import training_curves
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
training_curves(list(snakemake.input), snakemake.output[0])
