"""Glue that the Snakemake rules share: code digests and logging for rule scripts."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path


def code_digest(root: str | Path, *parts: str) -> str:
    """A short SHA-256 of the library sources a rule depends on.

    Snakemake does not see modules that a rule's script imports, so a rule passes this digest as a
    param: editing one of ``parts`` (files or folders under ``root``, ``*.py`` inside folders)
    changes the param and reruns exactly the rules that use that code.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for part in parts:
        path = root / part
        if not path.exists():
            raise FileNotFoundError(f"code_digest: {path} does not exist")
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def script_logging(log_file: str | Path) -> logging.Logger:
    """Send the library's log records and any traceback of a rule script to its ``log:`` file."""
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_file, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    os.dup2(handle.fileno(), 2)  # native libraries and child processes write to descriptor 2
    sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(handle)],
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("fixate")
