"""Rule known_truth: the known-truth study's summary, table and figure."""

from fixate.report.study import run_study
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_study(
    list(snakemake.input),
    snakemake.params.study,
    snakemake.output.json,
    snakemake.output.md,
    snakemake.output.plot,
)
