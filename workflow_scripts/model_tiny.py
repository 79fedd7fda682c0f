"""Rule model_tiny: write a tiny random model folder."""

from fixate.models.tiny import materialise
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
path = materialise(snakemake.wildcards.name, snakemake.output[0])
log.info("wrote %s", path)
