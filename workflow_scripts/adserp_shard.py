"""Rule adserp_shard: one user's Sample shard (with the planted gaze truth of synthetic users)."""

from fixate.data.adserp.pipeline import run_shard
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
truth = snakemake.input.get("truth") or []  # synthetic data only
truth = [truth] if isinstance(truth, str) else list(truth)
run_shard(
    snakemake.input.trials,
    snakemake.input.split,
    snakemake.input.rendered,
    snakemake.wildcards.user,
    snakemake.output.shard,
    truth_path=truth[0] if truth else None,
)
