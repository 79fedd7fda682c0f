"""AdSERP raw folders for tests: the real sample (read in place, copied per trial when a test must
break it) and hand-written trials with every event placed on purpose."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fixate.data.adserp.raw import (
    FIXATION_COLUMNS,
    MOUSE_COLUMNS,
    PARTICIPANTS_FILE,
    TRIAL_FOLDERS,
    trial_file,
)
from fixate.data.adserp.timeline import SCALE
from fixate.data.tables import write_csv

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "adserp_sample" / "data"
REAL_TRIALS = (
    "p004-b1-t3",
    "p005-b6-t3",
    "p007-b3-t8",
    "p013-b5-t7",
    "p014-b4-t5",
    "p031-b1-t9",
    "p035-b1-t5",
)


def real_sample() -> Path:
    """The shared folder of real trials (the test is skipped without it)."""
    if not SAMPLE.is_dir():
        pytest.skip("the real AdSERP sample is not next to this checkout")
    return SAMPLE


def copy_trials(dest: Path, trials: tuple[str, ...] = REAL_TRIALS) -> Path:
    """A scratch copy of some real trials (for tests that break a file), with participants.csv."""
    src = real_sample()
    for trial in trials:
        for role in TRIAL_FOLDERS:
            target = trial_file(dest, trial, role)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(trial_file(src, trial, role), target)
    shutil.copy2(src / PARTICIPANTS_FILE, dest / PARTICIPANTS_FILE)
    return dest


PARTICIPANTS = (
    "participant_id,gender,age,english,education,pref_device,pref_website,online_shopping_freq\n"
    "p101,Female,40,Advanced,Graduate,Computers or laptops,Monthly,Amazon\n"
    "p102,Male,25,Native speaker,Graduate,Smartphones,eBay,Weekly\n"
)


def write_trial(
    raw: Path,
    trial: str,
    mouse: list[tuple],
    fixations: list[tuple] = (),
    ads: dict | None = None,
    page_h: int = 2000,
    page_w: int = 1280,
) -> Path:
    """One hand-written trial: mouse rows (t, x_css, y_css, event, xpath), fixations (t, x, y,
    ms in page px), ad boxes as (x, y, w, h) per kind, a blank screenshot."""
    ads = ads or {}
    boxes = {
        kind: [
            {"location": {"x": x, "y": y}, "size": {"height": h, "width": w}}
            for x, y, w, h in ads.get(kind, [])
        ]
        for kind in ("native_ad", "dd_top", "dd_right")
    }
    write_csv(pd.DataFrame(mouse, columns=MOUSE_COLUMNS), trial_file(raw, trial, "mouse"))
    write_csv(
        pd.DataFrame(list(fixations), columns=FIXATION_COLUMNS),
        trial_file(raw, trial, "fixations"),
    )
    path = trial_file(raw, trial, "ads")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(boxes))
    path = trial_file(raw, trial, "metadata")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc_h = round(page_h / SCALE)
    path.write_text(
        f"<?xml version='1.0'?>\n<data>\n <document>1403x{doc_h}</document>\n"
        f" <task>batch_1_trial_1 | buy-{trial}</task>\n</data>\n"
    )
    path = trial_file(raw, trial, "screenshot")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (page_w, page_h), "white").save(path)
    (raw / PARTICIPANTS_FILE).write_text(PARTICIPANTS)
    return raw


def write_organic(folder: Path, trial: str, boxes: list[tuple[int, float, float, float, float]]):
    """An organic-aoi-data file: (rank, x_left, y_top, x_right, y_bot) per result."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = [
        {
            "rank": r,
            "title": f"result {r}",
            "site": "example.com",
            "x_left": x0,
            "y_top": y0,
            "x_right": x1,
            "y_bot": y1,
        }
        for r, x0, y0, x1, y1 in boxes
    ]
    (folder / f"{trial}.json").write_text(json.dumps({"organic": entries}))
