"""Temporary files and folders beside an output, named after their writer so a rerun cleans up.

Outputs are written under a temporary name and renamed into place whole (`atomic_path`), so a
killed job never leaves an output that looks finished; it does leave its temporary behind. So a
temporary is named `.<output name>.<pid>@<host>.<random>.tmp`, and each write of an output first
removes that output's temporaries whose writer is gone: a process of this host that has ended, or
an earlier version's temporary (`.<output name>.<random>.tmp`, writer unknown). A temporary of
another host is left alone: whether its writer still runs cannot be known from here.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from fixate.processes import HOST, pid_alive

log = logging.getLogger(__name__)

SUFFIX = ".tmp"
_RANDOM = r"[a-z0-9_]{8}"  # the random part `tempfile` names its files with
_OWNED = re.compile(rf"(\d+)@(.+)\.{_RANDOM}")
_UNOWNED = re.compile(_RANDOM)


def temp_file(path: str | Path) -> Path:
    """A new empty file beside ``path`` to write it under, once stale temporaries are gone."""
    fd, name = tempfile.mkstemp(**_beside(Path(path)))
    os.close(fd)
    return Path(name)


def temp_folder(path: str | Path) -> Path:
    """A new empty folder beside ``path`` to build it in, once stale temporaries are gone."""
    return Path(tempfile.mkdtemp(**_beside(Path(path))))


def _beside(path: Path) -> dict[str, str]:
    """`tempfile` arguments naming a temporary of ``path`` after this process; clears the way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    return {
        "dir": str(path.parent),
        "prefix": f".{path.name}.{os.getpid()}@{HOST}.",
        "suffix": SUFFIX,
    }


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by writers that have stopped; return them."""
    path = Path(path)
    pattern = f".{glob.escape(path.name)}.*{SUFFIX}"
    removed = []
    for leftover in sorted(path.parent.glob(pattern)):
        writer = leftover.name[len(path.name) + 2 : -len(SUFFIX)]
        if _writer_stopped(writer):
            _remove(leftover)
            removed.append(leftover)
    if removed:
        log.info("removed %d temporary file(s) of %s left by a stopped job", len(removed), path)
    return removed


def _writer_stopped(writer: str) -> bool:
    """Whether the writer part of a temporary's name names a writer that no longer runs."""
    owned = _OWNED.fullmatch(writer)
    if owned is None:
        return _UNOWNED.fullmatch(writer) is not None
    return owned[2] == HOST and not pid_alive(int(owned[1]))


def _remove(leftover: Path) -> None:
    try:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    except FileNotFoundError:
        pass  # another rerun removed it first
