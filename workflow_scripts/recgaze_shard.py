"""Rule recgaze_shard: one user's Sample shard."""

from fixate.data.recgaze.pipeline import run_shard
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
run_shard(
    snakemake.input.screens,
    snakemake.input.rendered,
    snakemake.wildcards.user,
    snakemake.output.shard,
)
