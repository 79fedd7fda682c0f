"""Launching runs: the GPUs a run claims on a machine where no scheduler assigns them."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
import time

import pytest
import torch

from fixate import launch as launching
from fixate.launch import claimed_gpus
from fixate.runlock import RunLocked, run_lock


def test_concurrent_runs_claim_different_gpus(tmp_path):
    with claimed_gpus(1, 3, tmp_path) as first, claimed_gpus(2, 3, tmp_path) as second:
        assert (first, second) == ([0], [1, 2])
    with claimed_gpus(3, 3, tmp_path) as everything:
        assert everything == [0, 1, 2]


def test_a_run_waits_for_a_free_gpu(tmp_path):
    claimed = []

    def claim() -> None:
        with claimed_gpus(1, 1, tmp_path, poll_s=0.02) as devices:
            claimed.append(devices)

    with claimed_gpus(1, 1, tmp_path):
        waiting = threading.Thread(target=claim)
        waiting.start()
        time.sleep(0.3)
        assert claimed == []
    waiting.join(timeout=10)
    assert claimed == [[0]]


_HOLD_GPU_0 = """
import sys, time
from pathlib import Path
from fixate.launch import claimed_gpus
from fixate.runlock import RunLocked, run_lock
with claimed_gpus(1, 1, Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_killed_run_frees_its_gpu(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_GPU_0, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with open(tmp_path / "gpu0.lock") as handle, pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        holder.kill()
        holder.wait()
    with claimed_gpus(1, 1, tmp_path, poll_s=0.02) as devices:
        assert devices == [0]


@pytest.fixture
def two_gpu_machine(tmp_path, monkeypatch):
    """`launch` on a machine with two GPUs and no scheduler. Records the device a run in this
    process is given, and the GPUs that data-parallel processes would see."""
    seen = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: seen.append(f"device {index}"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(launching, "GPU_LOCKS", tmp_path / "locks")
    monkeypatch.setattr(launching, "run", lambda **spec: seen.append("run"))

    def processes(command, env, **kwargs):
        seen.append(f"processes see {env.get('CUDA_VISIBLE_DEVICES')}")

    monkeypatch.setattr(launching.subprocess, "run", processes)
    return seen


def test_a_run_trains_on_the_gpus_it_claimed(two_gpu_machine, tmp_path, monkeypatch):
    spec = {"out_dir": str(tmp_path), "config": {}}
    with claimed_gpus(1, 2, tmp_path / "locks"):  # another run holds GPU 0
        launching.launch(spec, processes=1)
    assert two_gpu_machine == ["device 1", "run"]
    launching.launch(spec, processes=2)
    assert two_gpu_machine[2:] == ["processes see 0,1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")  # a scheduler's choice stands
    launching.launch(spec, processes=1)
    assert two_gpu_machine[3:] == ["run"]


def test_a_run_folder_in_use_stops_a_second_launch(two_gpu_machine, tmp_path):
    spec = {"out_dir": str(tmp_path / "run"), "config": {}}
    with run_lock(tmp_path / "run"), pytest.raises(RunLocked, match="is being trained by PID"):
        launching.launch(spec, processes=1)
    assert two_gpu_machine == []  # stopped before claiming a GPU or training
    launching.launch(spec, processes=1)
    assert two_gpu_machine == ["device 0", "run"]
