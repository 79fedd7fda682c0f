"""Rule aggregate: seed statistics of one (dataset, operator)."""

from fixate.aggregate import aggregate_runs
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
aggregate_runs(list(snakemake.input.runs), snakemake.output[0], snakemake.params.experiment)
