"""One trainer per run folder, and no trainer outliving the Snakemake process that started it."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixate import runlock
from fixate.processes import HOST, pid_alive
from fixate.runlock import LOCK_NAME, RunLocked, run_lock


def dead_pid() -> int:
    """The PID of a process that has finished (and been reaped)."""
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(done.stdout)


def plant(run_dir: Path, pid: int, host: str = HOST) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": host, "since": "earlier"}))
    return path


def test_the_lock_is_held_for_the_block_and_released(tmp_path):
    with run_lock(tmp_path / "run") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()
    with run_lock(tmp_path / "run"):  # free again
        pass


def test_a_second_trainer_stops_naming_the_folder_and_the_owner(tmp_path):
    run = tmp_path / "run"
    with run_lock(run), pytest.raises(RunLocked) as second, run_lock(run):
        pytest.fail("two trainers hold one run folder")
    message = str(second.value)
    assert str(run) in message and f"PID {os.getpid()} on host {HOST}" in message
    assert not (run / LOCK_NAME).exists()  # the first released it on leaving


def test_the_lock_of_a_dead_trainer_is_taken_over(tmp_path, caplog):
    stale = dead_pid()
    plant(tmp_path, stale)
    with caplog.at_level(logging.WARNING, "fixate.runlock"), run_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert f"taking over the lock of PID {stale} on host {HOST}" in caplog.text


def test_without_file_locks_the_record_decides(tmp_path, monkeypatch):
    """On a filesystem that keeps no locks: a live owner or one on another host stops the
    trainer, a dead owner on this host is taken over."""

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runlock.fcntl, "flock", no_locks)
    plant(tmp_path, os.getppid())
    with pytest.raises(RunLocked, match=f"PID {os.getppid()} on host {HOST}"), run_lock(tmp_path):
        pass
    plant(tmp_path, 123, host="elsewhere")
    with pytest.raises(RunLocked, match="no trainer runs, delete the lock"), run_lock(tmp_path):
        pass
    plant(tmp_path, dead_pid())
    with run_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


# A trainer-like job: the launcher's lock and parent watch, then one line per write.
TRAINER = """
import os, sys, time
from pathlib import Path
from fixate.parentwatch import exit_with_parent
from fixate.runlock import run_lock

run = Path(sys.argv[1])
with run_lock(run), exit_with_parent(interval_s=0.2) as watched:
    (run / "started").write_text(f"{os.getpid()} {watched}")
    while True:
        with open(run / "writes.log", "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(0.05)
"""

# Stands in for Snakemake (its file is named snakemake): runs the job inside a shell that
# outlives it, as a conda environment's activation does, then waits.
SNAKEMAKE = """
import subprocess, sys, time
subprocess.Popen(["bash", "-c", '"$0" "$1" "$2"; true', sys.executable, *sys.argv[1:]])
time.sleep(600)
"""


def wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_killing_only_snakemake_stops_its_trainer_and_a_rerun_takes_over(tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "trainer.py").write_text(TRAINER)
    (tmp_path / "snakemake").write_text(SNAKEMAKE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    snakemake = subprocess.Popen(
        [sys.executable, tmp_path / "snakemake", tmp_path / "trainer.py", run], env=env
    )
    trainer = None
    try:
        wait_for((run / "started").exists)
        trainer, watched = map(int, (run / "started").read_text().split())
        assert watched == snakemake.pid  # the Snakemake process, not the shell between them
        with pytest.raises(RunLocked, match=f"PID {trainer} on host"), run_lock(run):
            pass  # a rerun while the first trainer lives stops
        snakemake.kill()
        snakemake.wait()
        wait_for(lambda: not pid_alive(trainer), timeout_s=10)
    finally:
        snakemake.kill()
        snakemake.wait()
        if trainer and pid_alive(trainer):
            os.kill(trainer, signal.SIGKILL)  # a failing test leaves no orphan behind
    killed_at = len((run / "writes.log").read_text().split())
    with caplog.at_level(logging.WARNING, "fixate.runlock"), run_lock(run):
        assert f"taking over the lock of PID {trainer}" in caplog.text
        time.sleep(0.3)  # an orphan still writing would show here
        with open(run / "writes.log", "a") as log:
            log.write("rerun\n")
    writers = (run / "writes.log").read_text().split()
    assert writers == [str(trainer)] * killed_at + ["rerun"]
