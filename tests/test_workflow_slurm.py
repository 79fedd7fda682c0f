"""Cluster submission for real: the demo target as sbatch jobs on a one-node SLURM cluster.

Runs when a SLURM controller answers (`.ci/start-local-slurm.sh` starts one); skipped otherwise.
The cluster has no accounting database, so the status command is squeue, and its node is small,
so the training job's memory request is lowered on the command line: the same overrides a user
passes for their own cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from workflow_helpers import ROOT, scratch_workflow, snakemake

pytestmark = pytest.mark.workflow
TINY = {
    "recgaze": {"synthetic": {"n_users": 2, "posters": False}},
    "experiment": {"seeds": [5]},
    "train": {"epochs": 1, "n_basis": 2, "n_tokens": 4, "batch_size": 8},
}
CLUSTER_OVERRIDES = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-keep-successful-logs",
    "--default-resources",
    "slurm_partition=debug",
    "mem_mb=1000",
    "runtime=20",
    "--set-resources",
    "train:mem_mb=3000",
    "--max-threads",
    "2",
    "--latency-wait",
    "10",
)


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and "idle" in result.stdout


@pytest.mark.skipif(not slurm_is_up(), reason="no SLURM cluster answers (.ci/start-local-slurm.sh)")
def test_the_demo_target_runs_as_slurm_jobs(tmp_path):
    work = scratch_workflow(tmp_path, TINY)
    snakemake(
        work,
        "results/recgaze_attnlrp.json",
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        *CLUSTER_OVERRIDES,
    )
    result = json.loads((work / "results" / "recgaze_attnlrp.json").read_text())
    assert result["results"]["qwen3vl"]["fixation"]["seeds"] == [5]
    submitted = {p.name for p in (work / ".snakemake" / "slurm_logs").iterdir()}
    assert {
        "rule_recgaze_events",
        "rule_recgaze_screens",
        "rule_recgaze_render",
        "rule_recgaze_shard",
        "rule_model_tiny",
        "rule_train",
    } <= submitted
    assert "rule_aggregate" not in submitted  # a local rule: runs on the submitting host
    assert list((work / ".snakemake" / "slurm_logs" / "rule_train").rglob("*.log"))
