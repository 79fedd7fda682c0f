"""Rule new_screens: carousel pages nobody saw, and their screen spec."""

from fixate.simulate.new_screens import new_carousel_screens
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
spec = new_carousel_screens(
    snakemake.input.item_features.rsplit("/", 1)[0],
    snakemake.output[0],
    n=snakemake.params.n,
    seed=snakemake.params.seed,
)
log.info("wrote %s", spec)
