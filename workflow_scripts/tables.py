"""Rules tables and ablation_table: a results table of one dataset."""

from fixate.report.tables import build_table
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
build_table(
    list(snakemake.input),
    snakemake.params.variants,
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.params.title,
    snakemake.params.fixate_only,
)
