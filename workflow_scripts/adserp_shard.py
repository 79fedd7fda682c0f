"""Rule adserp_shard: one user's Sample shard."""

from fixate.data.adserp.pipeline import run_shard
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_shard(
    snakemake.input.trials,
    snakemake.input.split,
    snakemake.input.rendered,
    snakemake.wildcards.user,
    snakemake.output.shard,
)
