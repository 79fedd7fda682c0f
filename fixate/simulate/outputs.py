"""One simulation job: check the inputs, simulate, write every output into one folder at once.

The folder holds ``simulated.parquet`` and ``simulated.json`` (one record per user and screen:
slot attention, click distribution, most likely click), ``overlays/<screen>/<user>.jpg`` and the
gallery ``index.html``. Everything is written into a temporary folder beside the target and moved
into place at the end, so a failed or killed job leaves no half-written gallery behind.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fixate.data.tables import write_json, write_parquet
from fixate.simulate.gallery import write_gallery, write_overlays
from fixate.simulate.screens import check_users, read_screens
from fixate.simulate.simulator import TrainedRun, simulate

log = logging.getLogger(__name__)

ALL_USERS = "all"


def simulate_to_folder(
    run_dir: str | Path,
    screens_path: str | Path,
    users: Sequence[str] | str,
    out_dir: str | Path,
    *,
    operator: str | None = None,
    enrolled: Sequence[str | Path] = (),
    model_dir: str | Path | None = None,
    batch_size: int = 8,
) -> Path:
    """Simulate ``users`` (or ``"all"`` the run knows) on the screens of ``screens_path`` (a spec
    file or sample shards) with the run in ``run_dir``; returns the gallery's path."""
    out_dir = Path(out_dir)
    screens = read_screens(screens_path)  # a bad spec stops here, before the model loads
    run = TrainedRun.load(run_dir, enrolled)
    chosen = run.users if users == ALL_USERS else list(users)
    check_users(chosen, run.users, f"simulate {run_dir}")
    backbone = run.backbone(model_dir)
    run.prompt.to(backbone.device)
    log.info("simulating %d users on %d screens from %s", len(chosen), len(screens), screens_path)
    simulated = simulate(run, backbone, screens, chosen, operator, batch_size)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write_parquet(simulated, staging / "simulated.parquet")
        write_json(simulated.to_dict("records"), staging / "simulated.json")
        write_overlays(simulated, screens, staging)
        write_gallery(simulated, staging, f"Simulated users: {Path(run_dir).as_posix()}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir / "index.html"
