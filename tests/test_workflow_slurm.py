"""Cluster submission for real: the RecGaze stages as sbatch jobs on a one-node SLURM.

Runs when a SLURM controller answers (`.ci/start-local-slurm.sh` starts one); skipped otherwise.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from workflow_helpers import ROOT, scratch_workflow, snakemake

from fixate.data.samples import read_samples

pytestmark = pytest.mark.workflow


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and "idle" in result.stdout


@pytest.mark.skipif(
    not slurm_is_up(), reason="no SLURM cluster answers (see .ci/start-local-slurm.sh)"
)
def test_the_recgaze_stages_run_as_slurm_jobs(tmp_path):
    work = scratch_workflow(tmp_path, {"recgaze": {"synthetic": {"n_users": 2, "posters": False}}})
    snakemake(work, "--profile", str(ROOT / "profiles" / "slurm-ci"))
    shards = sorted((work / "results" / "recgaze" / "samples").glob("*.parquet"))
    assert [p.stem for p in shards] == ["KInIT_1", "UvA_1"]
    assert len(read_samples(shards)) > 0
    slurm_logs = work / ".snakemake" / "slurm_logs"
    submitted = {p.name for p in slurm_logs.iterdir()}
    assert {
        "rule_recgaze_events",
        "rule_recgaze_screens",
        "rule_recgaze_render",
        "rule_recgaze_shard",
    } <= submitted
    assert "rule_all" not in submitted  # the target rule runs on the submitting host
