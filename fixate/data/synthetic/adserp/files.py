"""The released-format files of one synthetic AdSERP trial: fixation, mouse and pupil logs, ad
boundaries, trial metadata, organic result boxes and the full-page screenshot.

The mouse log is evtrack's: pointer rows with their XPaths, ``mouseover``/``mouseout`` on element
changes, scroll rows; pupil samples come at 150 Hz near the fixation in progress.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.adserp.raw import FIXATION_COLUMNS, MOUSE_COLUMNS, ORGANIC_FOLDER, PUPIL_COLUMNS
from fixate.data.adserp.timeline import SCALE
from fixate.data.synthetic.adserp.page import Item, screenshot
from fixate.data.synthetic.adserp.simulator import Simulator, Trial
from fixate.data.tables import atomic_path, write_csv

_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/108.0.0.0 Safari/537.36"
)
_LOCAL = timezone(timedelta(hours=1))


def write_logs(
    out: Path, trial: str, sim: Simulator, log: Trial, rng: np.random.Generator, t0: int
) -> pd.DataFrame:
    """The ``fixation-data``, ``mouse-movement-data`` and ``pupil-data`` files of one trial
    (the pupil noise drawn from ``rng``); returns the mouse log."""
    fixations = pd.DataFrame(
        [(t, round(x), round(y), d) for t, x, y, d in log.fixations],
        columns=FIXATION_COLUMNS,
    )
    mouse = mouse_frame(sim, log, t0)
    write_csv(fixations, out / "fixation-data" / f"{trial}.csv")
    write_csv(mouse, out / "mouse-movement-data" / f"{trial}.csv")
    write_csv(pupil_frame(rng, log, t0), out / "pupil-data" / f"{trial}.csv")
    return mouse


def write_page(
    out: Path,
    trial: str,
    items: list[Item],
    page_h: int,
    metadata: str,
    query: str,
    seed: int,
    organic: bool,
) -> None:
    """The ``ad-boundary-data``, ``trial-metadata``, ``full-page-screenshots`` and, with
    ``organic``, ``organic-aoi-data`` files of one trial's page."""
    ads = {
        kind: [
            {
                "location": {"x": i.x0, "y": i.y0},
                "size": {"height": i.y1 - i.y0, "width": i.x1 - i.x0},
            }
            for i in items
            if i.kind == kind
        ]
        for kind in ("native_ad", "dd_top", "dd_right")
    }
    _write_text(json.dumps(ads), out / "ad-boundary-data" / f"{trial}.json")
    _write_text(metadata, out / "trial-metadata" / f"{trial}.xml")
    if organic:
        boxes = [
            {
                "rank": i.rank,
                "title": i.title,
                "site": i.site,
                "x_left": i.x0,
                "y_top": i.y0,
                "x_right": i.x1,
                "y_bot": i.y1,
            }
            for i in items
            if i.kind == "organic"
        ]
        _write_text(json.dumps({"organic": boxes}), out / ORGANIC_FOLDER / f"{trial}.json")
    with atomic_path(out / "full-page-screenshots" / f"{trial}.png") as tmp:
        screenshot(items, page_h, query, seed).save(tmp, format="PNG", compress_level=1)


def final_click_kind(mouse: pd.DataFrame) -> str:
    """What the trial's last click chose: ``organic``, ``ad`` or ``shopping``."""
    last = mouse[mouse["event"] == "click"]["xpath"].iloc[-1]
    return "organic" if "rso" in last else "ad" if "tads" in last else "shopping"


def mouse_frame(sim: Simulator, trial: Trial, t0: int) -> pd.DataFrame:
    """The evtrack log: pointer rows in page CSS px with their XPaths, mouseover/mouseout where
    the element under the pointer changes, scroll rows; ``ypos`` as float when the trial scrolls."""
    pointer = pd.DataFrame(trial.pointer, columns=["timestamp", "cx", "cy", "event"])
    pointer = pointer.sort_values("timestamp", kind="stable").reset_index(drop=True)
    scroll = np.array(trial.scroll, dtype=float).reshape(-1, 2)
    i = np.searchsorted(scroll[:, 0], pointer["timestamp"].to_numpy(), side="right") - 1
    offset = np.where(i >= 0, scroll[np.clip(i, 0, None), 1] if len(scroll) else 0.0, 0.0)
    x = np.round(pointer["cx"].to_numpy()).astype(int)
    y = np.round(pointer["cy"].to_numpy() + offset)
    px, py = x * SCALE, y * SCALE
    b = sim.boxes
    hit = (px[:, None] >= b[:, 0]) & (px[:, None] <= b[:, 2])
    hit &= (py[:, None] >= b[:, 1]) & (py[:, None] <= b[:, 3])
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    paths = np.array(
        [
            sim.items[k].xpath(yy < sim.items[k].y0 + 36, xx)
            if k >= 0
            else "//*[@id='center_col']"
            if xx < 760
            else "//*[@id='rcnt']"
            for k, xx, yy in zip(first, px, py, strict=True)
        ],
        dtype=object,
    )
    rows = pd.DataFrame(
        {
            "timestamp": pointer["timestamp"],
            "xpos": x,
            "ypos": y,
            "event": pointer["event"],
            "xpath": paths,
        }
    )
    # entering a new element fires mouseout (old) and mouseover (new) before the mousemove
    moves = rows[rows["event"] == "mousemove"]
    changed = moves["xpath"].to_numpy() != np.r_[None, moves["xpath"].to_numpy()[:-1]]
    over = moves[changed].assign(event="mouseover")
    out = moves[changed].assign(
        event="mouseout", xpath=np.r_[None, moves["xpath"].to_numpy()[:-1]][changed]
    )
    frame = pd.concat(
        [
            pd.DataFrame(
                [(t0, 0, 0.0, "load", "/"), (t0, 0, 0.0, "pageshow", "/")], columns=MOUSE_COLUMNS
            ),
            out[out["xpath"].notna()].assign(order=0),
            over.assign(order=1),
            rows.assign(order=2),
            pd.DataFrame(
                [(t, 0, v, "scroll", "/") for t, v in trial.scroll], columns=MOUSE_COLUMNS
            ),
            pd.DataFrame([(t, 0, 0.0, e, p) for t, e, p in trial.extra], columns=MOUSE_COLUMNS),
        ],
        ignore_index=True,
    )
    frame = frame.sort_values(["timestamp", "order"], kind="stable", na_position="first")
    frame = frame[MOUSE_COLUMNS].reset_index(drop=True)
    frame["ypos"] = frame["ypos"].map(repr) if trial.scroll else frame["ypos"].astype(int)
    return frame


def pupil_frame(rng: np.random.Generator, trial: Trial, t0: int) -> pd.DataFrame:
    """150-Hz gaze and pupil samples from load to click, near the fixation in progress."""
    t = t0 + np.cumsum(np.r_[0, np.resize([7, 7, 6], int((trial.t_end - t0) / 6.67))])
    t = t[t <= trial.t_end]
    fix = np.array([f[:3] for f in trial.fixations], dtype=float).reshape(-1, 3)
    idx = np.clip(np.searchsorted(fix[:, 0], t, side="right") - 1, 0, max(len(fix) - 1, 0))
    x = (fix[idx, 1] if len(fix) else np.full(len(t), 640.0)) + rng.normal(0, 14, len(t))
    y = (fix[idx, 2] if len(fix) else np.full(len(t), 400.0)) + rng.normal(0, 14, len(t))
    base = rng.uniform(12.5, 16.5)
    drift = np.cumsum(rng.normal(0, 0.02, len(t)))
    return pd.DataFrame(
        {
            "timestamp": t,
            "BPOGX": np.round(x).astype(int),
            "BPOGY": np.round(y).astype(int),
            "LPD": np.round(base + drift + rng.normal(0, 0.05, len(t)), 5),
            "LPV": (rng.random(len(t)) > 0.015).astype(int),
            "RPD": np.round(base + 0.6 + drift + rng.normal(0, 0.05, len(t)), 5),
            "RPV": (rng.random(len(t)) > 0.015).astype(int),
        },
        columns=PUPIL_COLUMNS,
    )


def metadata_xml(t0: int, slug: str, batch: int, trial: int, doc_h: int) -> str:
    stamp = t0 // 1000 - 1
    local = datetime.fromtimestamp(stamp, _LOCAL).strftime("%m/%d/%Y %H:%M:%S")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<data>",
        " <ip>::1</ip>",
        f" <date>{local}</date>",
        f" <timestamp>{stamp}</timestamp>",
        f" <url>http://localhost/page.php?q={slug}</url>",
        f" <ua>{_UA}</ua>",
        " <screen>1280x1024</screen>",
        " <window>1422x1137</window>",
        f" <document>1403x{doc_h}</document>",
        f" <task>batch_{batch}_trial_{trial} | {slug}</task>",
        "</data>",
        "",
    ]
    return "\r\n".join(lines)


def _write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.encode())
