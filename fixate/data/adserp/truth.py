"""The planted gaze truth of synthetic AdSERP users, carried to the slots of their samples.

The synthetic generator writes, beside the released-format folders, the expected gaze dwell on
every item of each trial's page in the decision stop (:mod:`fixate.data.synthetic.adserp.truth`
says how it is defined and derived). Real data has no such file, so its samples carry no truth.
Items are matched to slots by kind and box (clipped to the viewport as the slots are), so the
join relies on no numbering convention; a slot that matches no item gets 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.tables import Column, read_csv_table

TRUTH_FILE = "truth/gaze_truth.csv"  # relative to the generated data/ folder
TRUTH_INFO = "truth/truth.json"
TRUTH_COLUMNS = [
    "trial_id",
    "stop_start_ms",  # the decision stop: its last scroll (or the page load) ...
    "press_ms",  # ... to the final mousedown
    "click_ms",  # the logged click that ends the trial
    "scroll_px",
    "item",
    "kind",
    "x0",
    "y0",
    "x1",
    "y1",
    "stop_ms",  # expected fixation ms on the box from stop_start_ms to press_ms
    "after_press_ms",  # ... and from press_ms to click_ms
]
TRUTH_SCHEMA = [
    Column("trial_id", "key"),
    *(Column(name, "int", nonempty=True) for name in ("stop_start_ms", "press_ms", "click_ms")),
    Column("scroll_px", "float", nonempty=True),
    Column("item", "int", nonempty=True),
    Column("kind", "key"),
    *(Column(name, "float", nonempty=True) for name in ("x0", "y0", "x1", "y1")),
    Column("stop_ms", "float", lo=0, nonempty=True),
    Column("after_press_ms", "float", lo=0, nonempty=True),
]
MATCH_PX = 0.5  # slot boxes are stored as float32 of whole px


def read_truth(path: str | Path) -> pd.DataFrame:
    """The truth table, checked (a broken file names its line and column)."""
    return read_csv_table(path, TRUTH_SCHEMA)


def _window_truth(trial: pd.Series, rows: pd.DataFrame, where: str) -> np.ndarray:
    """Expected ms per item in the trial's window: the decision stop up to the press, plus the
    continuation to the logged click when the window ends there (``decision_end: click``)."""
    first = rows.iloc[0]
    if int(first["stop_start_ms"]) != trial["stop_start"]:
        raise ValueError(
            f"{where}: {trial['trial_id']} has its window from {trial['stop_start']}, the truth "
            f"from {int(first['stop_start_ms'])}"
        )
    stop = rows["stop_ms"].to_numpy(dtype=float)
    if trial["stop_end"] == int(first["press_ms"]):
        return stop
    if trial["stop_end"] == int(first["click_ms"]):
        return stop + rows["after_press_ms"].to_numpy(dtype=float)
    raise ValueError(
        f"{where}: {trial['trial_id']} has its window ending at {trial['stop_end']}, neither "
        "the press nor the click of the truth"
    )


def slot_truth(trial: pd.Series, rows: pd.DataFrame, where: str) -> list[float]:
    """The truth of one kept trial per slot, in slot order: the items whose box, clipped to the
    viewport like the slots, and kind equal the slot's."""
    scroll, image_h, page_w = trial["scroll_px"], trial["image_h"], trial["page_w"]
    boxes = rows[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float)
    clipped = np.stack(
        [
            boxes[:, 0].clip(0, page_w),
            boxes[:, 1].clip(scroll, scroll + image_h) - scroll,
            boxes[:, 2].clip(0, page_w),
            boxes[:, 3].clip(scroll, scroll + image_h) - scroll,
        ],
        axis=1,
    )
    slots = np.array([np.asarray(b, dtype=float) for b in trial["slot_boxes"]]).reshape(-1, 4)
    kinds = np.array(list(trial["slot_kinds"]), dtype=object)
    match = np.abs(slots[:, None, :] - clipped[None, :, :]).max(axis=2) <= MATCH_PX
    match &= kinds[:, None] == rows["kind"].to_numpy(dtype=object)[None, :]
    return (match @ _window_truth(trial, rows, where)).tolist()


def truth_per_slot(kept: pd.DataFrame, truth: pd.DataFrame, where: str) -> list[list[float]]:
    """The truth of every kept trial (rows of the trial table), aligned with its slots."""
    by_trial = dict(tuple(truth.groupby("trial_id", sort=False)))
    missing = sorted(set(kept["trial_id"]) - set(by_trial))
    if missing:
        raise ValueError(f"{where}: no truth for trials {missing[:5]}")
    return [slot_truth(row, by_trial[row["trial_id"]], where) for _, row in kept.iterrows()]
