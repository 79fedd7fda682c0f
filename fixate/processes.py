"""What this host can tell about its processes: alive or not, parent, command line.

The run lock, the parent watch and the clean-up of temporary files ask these questions. Linux
answers from /proc; elsewhere a process's parent and command are unknown (`parent_of` and
`command_of` return None and an empty list) and only `os.getppid` names this process's parent.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()
_PROC = Path("/proc")


def pid_alive(pid: int) -> bool:
    """Whether the process runs on this host. A zombie (finished, not yet reaped by its parent)
    counts as gone: it can no longer write anything."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    fields = _stat(pid)
    return fields is None or fields[0] != "Z"


def parent_of(pid: int) -> int | None:
    """The parent PID of a process, or None if it is gone (or /proc is missing)."""
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def command_of(pid: int) -> list[str]:
    """A process's arguments (empty if it is gone or unknown)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def ancestors() -> list[int]:
    """This process's parent, its parent's parent, ... up to PID 1 (only the parent without
    /proc)."""
    chain = [os.getppid()]
    while chain[-1] > 1 and _PROC.is_dir():
        parent = parent_of(chain[-1])
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, then parent PID)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()
