"""The rendered-result-page stage as a function of plain paths (rule ``adserp_serp_aoi``).

Apart from :mod:`.pipeline` on purpose: a rule reruns when any library module its script imports
changes, and rendering every trial's page is the slowest AdSERP stage, so it imports only the
renderer and the check, never the trial, split and shard stages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from fixate.data.adserp.serp import render_serp_aois
from fixate.data.adserp.serp_check import check_trial_files
from fixate.data.tables import write_json

log = logging.getLogger(__name__)


def run_serp_aoi(
    pages: Sequence[str | Path],
    out_dir: str | Path,
    workers: int | None = None,
    chromium: str | None = None,
) -> dict[str, dict]:
    """Render every trial's saved result page (``<raw folder>/serps/<trial>.html``) and write
    its organic and ad boxes to ``out_dir/<trial>.json``, each with its check against the
    shipped ad boxes and the final click (``check``; a trial that fails it is dropped by the
    trial stage). Returns the checks by trial.

    ``workers`` pages render at once in one browser (``chromium``: see
    :func:`~fixate.data.adserp.serp.find_chromium`).
    """
    pages = [Path(page) for page in pages]
    out_dir = Path(out_dir)
    render_serp_aois([(p.stem, p) for p in pages], out_dir, workers=workers, chromium=chromium)
    checks = {}
    for page in pages:
        path = out_dir / f"{page.stem}.json"
        aoi = json.loads(path.read_text())
        aoi["check"] = check_trial_files(aoi, page.parent.parent)
        if not aoi["check"]["ok"]:
            log.warning("%s fails the SERP check: %s", page.stem, aoi["check"]["reason"])
        write_json(aoi, path)
        checks[page.stem] = aoi["check"]
    return checks
