"""Rule enroll_curve: the enrollment learning curve's summary, table and figure."""

from fixate.report.enroll import write_curve
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
write_curve(
    list(snakemake.input),
    snakemake.params.enroll,
    snakemake.output.json,
    snakemake.output.md,
    snakemake.output.plot,
)
