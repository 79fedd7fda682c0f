"""Semantics of the RecGaze stages, pinned on small hand-written raw files, and what the stages
make of repeated, reordered, empty or broken input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from recgaze_raw import Session, movie_id, write_raw

from fixate.data.errors import RawDataError
from fixate.data.recgaze.pipeline import raw_files, run_events, run_render, run_screens


def preprocess(
    tmp_path: Path,
    sessions: list[Session],
    users: list[str] | None = None,
    edit: Callable[[dict[str, Path]], None] | None = None,
):
    """Both stages on the raw files of ``sessions`` (changed by ``edit`` first, if given)."""
    raw = raw_files(write_raw(tmp_path / "raw", sessions, users))
    if edit is not None:
        edit(raw)
    out = tmp_path / "out"
    run_events(
        raw["summary"], raw["non_public"], raw["aoi"], out / "events.parquet", out / "counts.json"
    )
    report = run_screens(
        out / "events.parquet",
        out / "counts.json",
        raw["aoi"],
        raw["items"],
        raw["users"],
        out / "screens.parquet",
        out / "split.json",
        out / "report.json",
    )
    screens = pd.read_parquet(out / "screens.parquet")
    events = pd.read_parquet(out / "events.parquet")
    return screens, report, events


def kept() -> Session:
    """A session that gives a sample (task 13), beside one that a test expects to be dropped:
    a run in which no session gives a sample is an error."""
    return Session("U1", 13).fix(1, 1).click("Movie", 1, 1)


def one(screens: pd.DataFrame, task: int) -> pd.Series:
    rows = screens[screens["task_id"] == task]
    assert len(rows) == 1, screens[["task_id", "label"]]
    return rows.iloc[0]


def test_scroll_is_recovered_and_sets_the_candidate_rows(tmp_path):
    # scroll 500: rows 2-4 are fully on screen, row 5 shows 46 px at the bottom
    s = Session("U1", 2).fix(3, 2, 300, scroll=500).fix(4, 5, 200).fix(5, 1, 250)
    s.click("Movie", 4, 5)
    screens, report, events = preprocess(tmp_path, [s])
    row = one(screens, 2)
    assert events.loc[events["kind"] == "fixation", "scroll_y"].tolist() == [500, 500, 500]
    assert row["full_rows"].tolist() == [2, 3, 4]
    assert row["label"] == 2 * 5 + 4  # row 4 is the third candidate row, column 5
    gaze = row["gaze_ms"]
    assert gaze[5 + 1] == 300 and gaze[10 + 4] == 200
    assert sum(gaze) == 500  # the fixation on partly visible row 5 is not a candidate
    assert report["dwell"]["fixation_ms_off_candidates"] == 250
    top = 1195 - 500
    assert row["slot_boxes"][10].tolist() == [76, top, 418, top + 193]


def test_swipes_in_both_directions_wrap_around_three_pages(tmp_path):
    s = Session("U1", 2).fix(1, 1).click("Forward", 1).fix(1, 6).click("Forward", 1)
    s.fix(1, 12).click("Forward", 1).fix(1, 3).click("Backward", 1).click("Backward", 2)
    s.fix(1, 14, 400).fix(2, 12, 300).click("Movie", 1, 14)
    screens, _report, events = preprocess(tmp_path, [s])
    fix = events[events["kind"] == "fixation"]
    assert fix["page_r1"].tolist() == [0, 1, 2, 0, 2, 2]
    assert fix["page_r2"].tolist() == [0, 0, 0, 0, 2, 2]
    assert fix["on_screen"].all()
    row = one(screens, 2)
    assert row["page_state"].tolist()[:2] == [2, 2]
    assert row["label"] == 3  # position 14 on page 3 is column 4
    assert row["gaze_ms"][3] == 400 and row["gaze_ms"][5 + 1] == 300
    assert row["visit_index"] == 4  # every page change started a new visit


def test_background_fixation_counts_through_its_closest_movie(tmp_path):
    s = Session("U1", 2).fix(None, None, 220, kind="Background", closest=(2, 3))
    s.fix(None, None, 180, kind="Background").fix(2, 3, 100).click("Movie", 2, 3)
    screens, report, _ = preprocess(tmp_path, [s])
    row = one(screens, 2)
    assert row["gaze_ms"][5 + 2] == 320
    assert report["events"]["movie_fixations_via_closest"] == 1


def test_a_click_on_a_partly_visible_row_drops_the_session(tmp_path):
    # scroll 250: row 1 shows its lower 119 px only
    s = Session("U1", 2).fix(1, 2, 300, scroll=250).fix(2, 1).click("Movie", 1, 2)
    screens, report, _ = preprocess(tmp_path, [s, kept()])
    assert screens["task_id"].tolist() == [13]
    assert report["dropped_by_reason"]["click_on_partial_row"] == 1


def test_a_click_on_a_movie_that_is_not_shown_drops_the_session(tmp_path):
    s = Session("U1", 2).fix(1, 2).click("Movie", 1, 7)  # position 7 is on page 2
    _screens, report, _ = preprocess(tmp_path, [s, kept()])
    assert report["dropped_by_reason"]["click_not_on_screen"] == 1


def test_missing_click_and_other_drops_are_each_reported(tmp_path):
    sessions = [
        Session("U1", 2).fix(1, 1).fix(1, 2),  # no selection click
        Session("U1", 38).fix(1, 1).click("Movie", 1, 1),  # direct search: not in the protocol
        Session("U9", 3).fix(1, 1).click("Movie", 1, 1),  # not in user_features
        Session("U1", 5).fix(1, 1).click("Movie", 1, 2, movie=999),  # unknown movie id
        Session("U1", 6).fix(1, 1).click("Movie", 1, 2, movie=movie_id(6, 1, 3)),  # mismatch
        Session("U1", 8).click("Movie", 1, 1).fix(1, 1),  # fixations only after the click
        Session("U1", 10).fix(1, 1, with_scroll=False).click("Movie", 1, 1),  # no scroll at all
        Session("U1", 12).fix(2, 1).click("Movie", 1, 1),  # gaze on another candidate: kept
        Session("U1", 13).fix(1, 1).click("Movie", 1, 1),  # kept
    ]
    screens, report, _ = preprocess(tmp_path, sessions, users=["U1"])
    dropped = {k: v for k, v in report["dropped_by_reason"].items() if v}
    assert dropped == {
        "no_selection_click": 1,
        "task_not_in_split": 1,
        "unknown_user": 1,
        "unknown_movie": 1,
        "click_movie_mismatch": 1,
        "no_fixation_before_click": 1,
        "no_scroll_data": 1,
    }
    assert sorted(screens["task_id"]) == [12, 13]
    assert report["sessions"] == {"raw": 9, "kept": 2, "dropped": 7}
    reasons = {(d["user_id"], d["task_id"]): d["reason"] for d in report["dropped_sessions"]}
    assert reasons[("U9", 3)] == "unknown_user"


def test_no_dwell_on_candidates_is_a_reported_drop(tmp_path):
    s = Session("U1", 2).fix(5, 1, scroll=500).click("Movie", 2, 1)  # gaze on a partial row only
    _screens, report, _ = preprocess(tmp_path, [s, kept()])
    assert report["dropped_by_reason"]["no_dwell_on_candidates"] == 1


def test_cursor_dwell_attaches_to_the_decision_visit_only(tmp_path):
    s = Session("U1", 2).fix(1, 1).cursor(1, 1, 2.0).click("Forward", 1).fix(1, 6, 300)
    s.cursor(1, 6, 0.5).cursor(1, 7, 0.25).fix(1, 7).cursor(1, 7, 0.125, kind="Background")
    s.click("Movie", 1, 7)
    screens, _, _ = preprocess(tmp_path, [s])
    row = one(screens, 2)
    assert row["cursor_ms"][:3].tolist() == [500, 250, 0]
    assert sum(row["cursor_ms"]) == 750  # the 2 s before the swipe belong to an earlier visit


def test_a_long_fixation_after_a_scroll_starts_a_new_visit(tmp_path):
    s = Session("U1", 2).fix(2, 1, 300, scroll=0).fix(2, 2, 300, scroll=10)  # small move: same
    s.fix(2, 3, 300, scroll=40).fix(2, 4, 100, scroll=80).click("Movie", 2, 4)  # >17 px: new
    screens, _, events = preprocess(tmp_path, [s])
    assert events.loc[events["kind"] == "fixation", "visit"].tolist() == [0, 0, 1, 1]
    assert one(screens, 2)["gaze_ms"][5:10].tolist() == [0, 0, 300, 100, 0]


def test_split_and_report_files(tmp_path):
    sessions = [Session("U1", t).fix(1, 1).click("Movie", 1, 1) for t in (1, 2, 7)]
    screens, report, _ = preprocess(tmp_path, sessions)
    assert dict(zip(screens["task_id"], screens["split"], strict=False)) == {
        1: "test",
        2: "train",
        7: "val",
    }
    split = json.loads((tmp_path / "out" / "split.json").read_text())
    assert split["test"] == [1, 4, 9, 21, 24, 32] and split["val"] == [7, 11, 29, 31]
    assert split["counts"] == {"train": 1, "val": 1, "test": 1}
    assert report["per_user"] == {"U1": {"test": 1, "train": 1, "val": 1}}
    assert screens["profile"].iloc[0] == "Top_genre: Drama, Preferred_genres: Drama, Crime"


@pytest.mark.parametrize("task", [1, 4, 9, 21, 24, 32])
def test_published_test_tasks(task):
    from fixate.data.recgaze.split import task_split

    split = task_split(42)
    assert split.split_of(task) == "test"
    assert len(split.train) == 25 and split.split_of(36) is None


def clicked_slot_session() -> Session:
    """Fixations of 250 ms on A, and of 341 + 300 = 641 ms on the clicked poster B."""
    s = Session("U1", 2).fix(1, 1, 250).fix(1, 2, 341).cursor(1, 2, 0.5).fix(1, 2, 300)
    return s.click("Movie", 1, 2)


def repeat_line(line: int) -> Callable[[dict[str, Path]], None]:
    def edit(raw: dict[str, Path]) -> None:
        lines = raw["summary"].read_text().splitlines(keepends=True)
        raw["summary"].write_text("".join([*lines[:line], lines[line - 1], *lines[line:]]))

    return edit


@pytest.mark.parametrize(
    ("line", "kind"), [(5, "fixation"), (4, "cursor"), (6, "click"), (2, "first fixation")]
)
def test_a_repeated_event_row_is_removed_and_counted_and_leaves_the_dwell_alone(
    tmp_path, line, kind
):
    clean, _, _ = preprocess(tmp_path / "clean", [clicked_slot_session()])
    assert one(clean, 2)["gaze_ms"][:2].tolist() == [250, 641]
    screens, report, _ = preprocess(
        tmp_path / "repeated", [clicked_slot_session()], edit=repeat_line(line)
    )
    row = one(screens, 2)
    assert row["gaze_ms"].tolist() == one(clean, 2)["gaze_ms"].tolist()
    assert row["cursor_ms"].tolist() == one(clean, 2)["cursor_ms"].tolist()
    assert row["label"] == one(clean, 2)["label"] == 1
    notes = report["raw_files"]["summary_feedback.csv"]
    assert notes["duplicate_rows_dropped"] == 1 and notes["duplicate_lines"] == [line + 1]
    assert notes["rows"] - notes["duplicate_rows_dropped"] == report["events"]["summary_rows"]


def test_a_reversed_event_log_is_sorted_counted_and_gives_the_same_screens(tmp_path):
    sessions = [clicked_slot_session(), Session("U2", 3).fix(2, 1).click("Movie", 2, 1)]

    def reverse(raw: dict[str, Path]) -> None:
        lines = raw["summary"].read_text().splitlines(keepends=True)
        raw["summary"].write_text("".join([lines[0], *reversed(lines[1:])]))

    clean, _, _ = preprocess(tmp_path / "clean", sessions)
    screens, report, _ = preprocess(tmp_path / "reversed", sessions, edit=reverse)
    assert report["raw_files"]["summary_feedback.csv"]["rows_out_of_order"] == 4 + 1
    columns = ["user_id", "task_id", "label", "gaze_ms", "cursor_ms", "slot_boxes"]
    assert screens[columns].to_json() == clean[columns].to_json()


def test_the_report_lists_every_raw_file_read(tmp_path):
    _, report, _ = preprocess(tmp_path, [kept()])
    assert sorted(report["raw_files"]) == [
        "aoi_data.csv",
        "item_features.csv",
        "non_public_feedback_dataset.csv",
        "summary_feedback.csv",
        "user_features.csv",
    ]
    assert report["raw_files"]["summary_feedback.csv"] == {
        "rows": 2,
        "duplicate_rows_dropped": 0,
        "duplicate_lines": [],
        "rows_out_of_order": 0,
        "extra_columns": [],
    }


@pytest.mark.parametrize("role", ["summary", "non_public", "items", "users"])
def test_a_header_only_table_stops_the_run_naming_it(tmp_path, role):
    def header_only(raw: dict[str, Path]) -> None:
        raw[role].write_text(raw[role].read_text().splitlines(keepends=True)[0])

    with pytest.raises(RawDataError, match=r"\.csv: no data rows: the file holds only its header"):
        preprocess(tmp_path, [kept()], edit=header_only)


def test_a_run_that_keeps_no_session_stops_with_the_reasons(tmp_path):
    dropped = Session("U1", 2).fix(1, 2).click("Movie", 1, 7)  # position 7 is not on screen
    with pytest.raises(
        RawDataError,
        match=r"raw: no session of summary_feedback.csv gave a sample \(all 2 dropped: "
        r"unknown_user 1, click_not_on_screen 1\)",
    ):
        preprocess(tmp_path, [dropped, Session("U9", 3).fix(1, 1).click("Movie", 1, 1)], ["U1"])
    assert not (tmp_path / "out" / "screens.parquet").exists()


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_a_broken_poster_stops_the_render_naming_it(tmp_path, damage):
    preprocess(tmp_path, [kept()])
    raw = raw_files(tmp_path / "raw")
    raw["posters"].mkdir()
    poster = raw["posters"] / f"p{movie_id(13, 1, 1)}.jpg"
    Image.new("RGB", (342, 193), "orange").save(poster)
    data = poster.read_bytes()
    poster.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"GIF89a?")
    with pytest.raises(RawDataError, match=rf"p{movie_id(13, 1, 1)}.jpg: not a readable image"):
        run_render(
            tmp_path / "out" / "screens.parquet",
            raw["aoi"],
            raw["items"],
            raw["posters"],
            "U1",
            tmp_path / "dataset",
            tmp_path / "dataset" / "U1.json",
        )
