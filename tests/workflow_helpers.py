"""Run the real Snakefile in a scratch copy of the workflow, and read its dry-run job list."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = (
    "Snakefile",
    "config.yaml",
    "rules",
    "workflow_scripts",
    "fixate",
    "envs",
    "profiles",
    "report",
)


def scratch_workflow(tmp: Path, overrides: dict | None = None) -> Path:
    """Copy the workflow (and the library sources that the code digests read) into ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, tmp / part)
    if overrides:
        config = yaml.safe_load((tmp / "config.yaml").read_text())
        merge(config, overrides)
        (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return tmp


def merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value


def snakemake(
    workdir: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake as a user would, from the workflow folder (``env``: extra variables)."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    result = subprocess.run(
        cmd,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def planned_jobs(workdir: Path, *targets: str) -> dict[str, int]:
    """Job counts per rule of a dry run (empty when nothing is to be done)."""
    out = snakemake(workdir, "--dry-run", *targets)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            jobs[match.group(1)] = int(match.group(2))
    return jobs


def edited_config(workdir: Path, overrides: dict, *targets: str) -> dict[str, int]:
    """Jobs planned after changing config values (the file is restored afterwards)."""
    path = workdir / "config.yaml"
    original = path.read_text()
    try:
        config = yaml.safe_load(original)
        merge(config, overrides)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return planned_jobs(workdir, *targets)
    finally:
        path.write_text(original)
