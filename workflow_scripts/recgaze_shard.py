"""Rule recgaze_shard: one user's Sample shard."""

from fixate.data.recgaze.pipeline import run_shard
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
truth = list(snakemake.input.truth)  # empty for released data
run_shard(
    snakemake.input.screens,
    snakemake.input.rendered,
    snakemake.wildcards.user,
    snakemake.output.shard,
    truth_path=truth[0] if truth else None,
)
