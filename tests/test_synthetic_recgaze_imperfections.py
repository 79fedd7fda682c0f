"""The cases real RecGaze logs have that a clean simulation would not: the synthetic generator
writes each at the demo settings, in the released files' form, and the preprocessing's report
counts each."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fixate.data.recgaze.pipeline import raw_files, run_events, run_screens
from fixate.data.recgaze.split import task_split
from fixate.data.synthetic.recgaze import generate_recgaze
from fixate.data.synthetic.recgaze.imperfections import LogImperfections

DEMO = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
DEMO_SYNTHETIC = DEMO["recgaze"]["synthetic"]
SPLIT_SEED = DEMO["recgaze"]["preprocess"]["split_seed"]


def preprocess(raw: Path, out: Path) -> dict:
    """The preprocessing report of a raw folder (both stages)."""
    files = raw_files(raw)
    events, counts = out / "events.parquet", out / "counts.json"
    run_events(files["summary"], files["non_public"], files["aoi"], events, counts)
    run_screens(
        events, counts, files["aoi"], files["items"], files["users"],
        out / "screens.parquet", out / "split.json", out / "report.json", SPLIT_SEED,
    )  # fmt: skip
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """The demo's raw folder (config.yaml's settings; no posters or truth, which change none of
    the logs), the generator's summary and the preprocessing report."""
    folder = tmp_path_factory.mktemp("recgaze_demo")
    summary = generate_recgaze(
        folder / "raw",
        n_users=DEMO_SYNTHETIC["n_users"],
        seed=DEMO_SYNTHETIC["seed"],
        posters=False,
        truth=False,
        imperfections=LogImperfections(**DEMO_SYNTHETIC["imperfections"]),
    )
    return folder / "raw", summary, preprocess(folder / "raw", folder / "out")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_unmapped_fixations_have_no_scroll_and_take_their_sessions(demo):
    raw, summary, report = demo
    assert summary["n_unmapped_fixations"] > 0
    assert report["events"]["fixations_scroll_filled"] == summary["n_unmapped_fixations"]
    assert report["events"]["fixations_without_scroll"] == 0
    # in the non-public file: a fixation row with its time stamp and duration, no location, and
    # its raw gaze rows after it as usual
    gaze = read(raw / "non_public_feedback_dataset.csv")
    fixation = gaze["Fixation_Duration"] != ""
    unmapped = fixation & (gaze["Fixation_LocY"] == "")
    assert unmapped.sum() == summary["n_unmapped_fixations"]
    assert (gaze.loc[unmapped, "Fixation_LocX"] == "").all()
    assert (gaze.shift(-1).loc[unmapped, "Gaze_LocY"] != "").all()
    events = read(raw / "summary_feedback.csv")
    logged = events[events["Fixation_Duration"] != ""]
    key = ["UserID", "TaskID", "Timestamp", "Fixation_Duration"]
    assert (gaze.loc[fixation, key].to_numpy() == logged[key].to_numpy()).all()


def test_stale_fixations_after_a_swipe_are_counted_off_screen(demo):
    _, summary, report = demo
    assert summary["n_stale_fixations"] > 0
    # an unmapped fixation whose filled-in scroll is an earlier one's may be off screen too
    assert report["events"]["movie_fixations_off_screen"] >= summary["n_stale_fixations"]


def test_stale_fixations_alone_are_exactly_the_off_screen_ones(tmp_path):
    only_stale = LogImperfections(unmapped_fixation=0, stale_swipe_aoi=1, partial_row_click=0)
    summary = generate_recgaze(
        tmp_path / "raw", n_users=3, seed=11, posters=False, truth=False, tasks=range(1, 13),
        imperfections=only_stale,
    )  # fmt: skip
    report = preprocess(tmp_path / "raw", tmp_path / "out")
    assert summary["n_stale_fixations"] > 0
    assert report["events"]["movie_fixations_off_screen"] == summary["n_stale_fixations"]


def test_clicks_on_partly_visible_rows_are_the_reported_drops(demo):
    _, summary, report = demo
    split = task_split(SPLIT_SEED)
    expected = {(u, t) for u, t in summary["partial_row_clicks"] if split.split_of(t)}
    dropped = {
        (d["user_id"], d["task_id"])
        for d in report["dropped_sessions"]
        if d["reason"] == "click_on_partial_row"
    }
    assert expected and dropped == expected
    assert report["dropped_by_reason"]["click_on_partial_row"] == len(expected)


def test_rates_are_chances():
    with pytest.raises(ValueError, match=r"imperfections\.stale_swipe_aoi"):
        LogImperfections(stale_swipe_aoi=1.5)
