"""One trainer per run folder: a lock file naming its owner, held for the whole training job.

Two trainers on one run folder would overwrite each other's checkpoint and outputs. That happens
when a job outlives its Snakemake process and the workflow is unlocked and rerun, or when two
Snakemake instances run with `--nolock`. The job's launcher holds `train.lock` in the run folder
from start to end (data-parallel workers do not take it: they are the launcher's own processes).

The lock is an exclusive `flock` on that file, which the kernel drops when the holder ends however
it ends, so a killed trainer never leaves a live lock behind; the file's JSON (PID, host, start
time) names the owner in the error a second trainer stops with, and a record left by a trainer
that died is taken over with a log line. On a filesystem without file locks (Lustre mounted
without `flock`, for one) the record alone decides: a lock of a dead PID on this host is taken
over, a lock of a live PID or of another host stops the trainer.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from fixate.processes import HOST, pid_alive

log = logging.getLogger(__name__)

LOCK_NAME = "train.lock"


class RunLocked(RuntimeError):
    """Another trainer holds the run folder."""


@dataclass(frozen=True)
class Owner:
    """The process recorded in a lock file."""

    pid: int
    host: str
    since: str

    def running(self) -> bool | None:
        """Whether the owner still runs; None when it ran on another host (unknowable here)."""
        return pid_alive(self.pid) if self.host == HOST else None

    def __str__(self) -> str:
        return f"PID {self.pid} on host {self.host} (since {self.since})"


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold the run folder's lock for the block; yields the lock file's path.

    Raises RunLocked, naming the folder, the lock file and the owner, if another trainer holds
    it. On leaving, the file is removed (while still locked, so nobody takes a lock on a file
    that is going away) and the lock dropped.
    """
    path = Path(run_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path)
    try:
        yield path
    finally:
        try:
            if _is_mine(_owner(path)):
                path.unlink()
        finally:
            os.close(fd)


def _acquire(path: Path) -> int:
    """Lock the file, record this process in it, and return the open descriptor."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            kernel_lock = True
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(_held(path, _owner(path), kernel_lock=True)) from None
        except OSError:
            kernel_lock = False  # the filesystem keeps no locks: the record decides
        if not kernel_lock or _same_file(fd, path):
            break
        os.close(fd)  # its owner removed it while this process opened it: open it anew
    previous = _owner(path)
    if previous is not None and not _is_mine(previous):
        if not kernel_lock and previous.running() is not False:
            os.close(fd)
            raise RunLocked(_held(path, previous, kernel_lock=False))
        log.warning("%s: taking over the lock of %s, which has stopped", path, previous)
    record = Owner(os.getpid(), HOST, time.strftime("%Y-%m-%d %H:%M:%S"))
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(asdict(record)) + "\n").encode(), 0)
    os.fsync(fd)
    return fd


def _held(path: Path, owner: Owner | None, kernel_lock: bool) -> str:
    """The message of a trainer that finds the run folder taken."""
    who = str(owner) if owner else "another trainer (not yet recorded)"
    text = (
        f"{path.parent} is being trained by {who}; a second trainer would overwrite its files, "
        f"so this one stops. Wait for that one to finish or stop it (lock file {path})"
    )
    if not kernel_lock:
        text += "; this filesystem keeps no file locks: if no trainer runs, delete the lock file"
    return text


def _owner(path: Path) -> Owner | None:
    """The owner recorded in the lock file, or None if there is no readable record."""
    try:
        record = json.loads(path.read_text())
        return Owner(int(record["pid"]), str(record["host"]), str(record.get("since", "?")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _is_mine(owner: Owner | None) -> bool:
    return owner is not None and (owner.pid, owner.host) == (os.getpid(), HOST)


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file is still the one at ``path``."""
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False
