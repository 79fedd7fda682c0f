"""Stop a training job when the Snakemake process that started it dies.

Killing only Snakemake leaves its jobs running: a rule's script is a process of its own. An
orphaned trainer keeps writing its run folder, and after `snakemake --unlock` and a rerun a second
trainer would write it too (the run lock then stops the second one, but the orphan would still
train on to nobody). So a job watches its Snakemake process and exits once it is gone.

How: a daemon thread checks every `interval_s` whether the watched process is still among this
process's ancestors (`fixate.processes.ancestors`); a dead process's children are re-parented,
so the check fails as soon as it dies, and a recycled PID never passes for it. The watched
process is the nearest ancestor whose command is Snakemake, else the parent.

Why not `prctl(PR_SET_PDEATHSIG)`: the kernel sends that signal when the direct parent dies, and
the direct parent is not always Snakemake. Under `--software-deployment-method conda` (or a
container) the script runs inside `bash -c "activate ...; python script"`, and that shell
outlives a killed Snakemake; with data parallel the workers' parent is the `accelerate` agent.
The signal is also tied to the parent *thread* that forked, and is Linux only. Watching the
ancestry covers all of these, at the cost of noticing up to `interval_s` late.

The job then ends with `os._exit`: the main thread may be inside a long native call that no
exception can interrupt. Nothing is left half written (outputs are renamed into place whole), and
the kernel releases the job's run lock and GPU locks with the process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fixate.processes import ancestors, command_of

log = logging.getLogger(__name__)

ORPHANED_EXIT = 1


def is_snakemake(command: list[str]) -> bool:
    """Whether a command line runs Snakemake (`snakemake ...`, `python .../snakemake ...` or
    `python -m snakemake ...`)."""
    return "snakemake" in {os.path.basename(arg) for arg in command[:3]}


def guardian() -> int:
    """The process whose death ends this one: the nearest Snakemake ancestor, else the parent."""
    chain = ancestors()
    return next((pid for pid in chain if is_snakemake(command_of(pid))), chain[0])


@contextmanager
def exit_with_parent(interval_s: float = 1.0) -> Iterator[int]:
    """Exit this process (status `ORPHANED_EXIT`) if its `guardian` dies during the block;
    yields the guardian's PID."""
    watched = guardian()
    stop = threading.Event()
    thread = threading.Thread(
        target=_watch, args=(watched, stop, interval_s), name="parent-watch", daemon=True
    )
    thread.start()
    try:
        yield watched
    finally:
        stop.set()
        thread.join()


def _watch(watched: int, stop: threading.Event, interval_s: float) -> None:
    while not stop.wait(interval_s):
        if watched not in ancestors():
            log.error("the process that started this job (PID %d) is gone: stopping", watched)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(ORPHANED_EXIT)
