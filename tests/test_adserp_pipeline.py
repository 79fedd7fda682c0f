"""The AdSERP stages on the 7 real trials, checked against plain loops over the raw rows, and on
broken copies of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from adserp_raw import (
    REAL_TRIALS,
    copy_trials,
    real_sample,
    write_organic,
    write_trial,
)
from PIL import Image

from fixate.data.adserp.pipeline import (
    read_trials,
    run_render,
    run_shard,
    run_split,
    run_trials,
)
from fixate.data.adserp.raw import TRIAL_FOLDERS, participant_of, trial_file
from fixate.data.adserp.trials import Settings
from fixate.data.errors import RawDataError
from fixate.data.samples import read_samples

S = 1280 / 1422
# the final stop of every real trial: (last scroll or load, mousedown, scroll px), pinned
WINDOWS = {
    "p004-b1-t3": (1671196645197, 1671196653933, 0),
    "p005-b6-t3": (1671206646946, 1671206652498, 100),
    "p007-b3-t8": (1671705595493, 1671705596612, 100),
    "p013-b5-t7": (1675246166400, 1675246170085, 0),
    "p014-b4-t5": (1675251370534, 1675251376150, 500),
    "p031-b1-t9": (1677142487544, 1677142489195, 400),
    "p035-b1-t5": (1677595310855, 1677595316376, 537),
}
# the organic result each organic click names (rank = rso div), as rendered from serps/<trial>
CLICKED_RESULTS = {
    "p004-b1-t3": (1, 162, 703, 702, 862),
    "p005-b6-t3": (2, 162, 300, 702, 459),
    "p013-b5-t7": (2, 162, 894, 749, 1034),
    "p014-b4-t5": (4, 162, 850, 749, 1042),
    "p031-b1-t9": (1, 162, 906, 749, 1118),
    "p035-b1-t5": (6, 162, 1158, 749, 1247),
}


def rows(raw: Path, trial: str, role: str) -> list[dict]:
    with trial_file(raw, trial, role).open() as handle:
        return list(csv.DictReader(handle))


def loop_window(raw: Path, trial: str, end_at: str = "mousedown") -> tuple[int, int, int]:
    """The final stop, by walking the mouse log row by row."""
    log = rows(raw, trial, "mouse")
    t_load = next(int(r["timestamp"]) for r in log if r["event"] in ("load", "pageshow"))
    click = max(i for i, r in enumerate(log) if r["event"] == "click")
    end = int(log[click]["timestamp"])
    if end_at == "mousedown":
        end = int([r for r in log[:click] if r["event"] == "mousedown"][-1]["timestamp"])
    start, scroll = t_load, 0
    for r in log:
        if r["event"] == "scroll" and int(r["timestamp"]) <= end:
            start, scroll = int(r["timestamp"]), round(float(r["ypos"]) * S)
    return start, end, scroll


def loop_slots(raw: Path, trial: str, scroll: int, organic=()) -> list[tuple]:
    """Visible AOIs (page px, clipped to rows scroll..scroll+922), top-down then left-right."""
    ads = json.loads(trial_file(raw, trial, "ads").read_text())
    boxes = [
        (
            b["location"]["x"],
            b["location"]["y"],
            b["location"]["x"] + b["size"]["width"],
            b["location"]["y"] + b["size"]["height"],
        )
        for kind in ("native_ad", "dd_top", "dd_right")
        for b in ads[kind]
    ]
    boxes += [(x0, y0, x1, y1) for _, x0, y0, x1, y1 in organic]
    out = []
    for x0, y0, x1, y1 in boxes:
        top, bottom = max(y0, scroll), min(y1, scroll + 922)
        if bottom > top:
            out.append((x0, top, x1, bottom))
    return sorted(out, key=lambda b: (b[1], b[0]))


def loop_dwell(raw: Path, trial: str, window: tuple, slots: list[tuple]) -> tuple[list, list]:
    """Gaze and cursor ms per slot, one raw row at a time."""
    start, end, scroll = window
    gaze = [0.0] * len(slots)
    for r in rows(raw, trial, "fixations"):
        t, x, y, d = (float(r[k]) for k in ("timestamp", "FPOGX", "FPOGY", "FPOGD"))
        if start <= t < end:
            for i, (x0, y0, x1, y1) in enumerate(slots):
                if x0 <= x <= x1 and y0 <= y <= y1:
                    gaze[i] += min(d, end - t)
    log = rows(raw, trial, "mouse")
    offset, pointer = 0, []
    for r in log:  # the screen position of the pointer after each pointer event
        if r["event"] == "scroll":
            offset = round(float(r["ypos"]) * S)
        elif r["event"] in (
            "mousemove",
            "mouseover",
            "mouseout",
            "mousedown",
            "mouseup",
            "click",
            "wheel",
        ):
            pointer.append(
                (int(r["timestamp"]), float(r["xpos"]) * S, float(r["ypos"]) * S - offset)
            )
    cursor = [0.0] * len(slots)
    for k, (t, x, client_y) in enumerate(pointer):
        t_next = pointer[k + 1][0] if k + 1 < len(pointer) else end
        ms = min(t_next, end) - max(t, start)
        for i, (x0, y0, x1, y1) in enumerate(slots):
            if ms > 0 and x0 <= x <= x1 and y0 <= client_y + scroll <= y1:
                cursor[i] += ms
    return gaze, cursor


def run_all(raw: Path, out: Path, organic_dir=None, settings=None) -> tuple:
    """Every stage, the way the workflow chains them: (trial table, report, shard paths)."""
    users = sorted({participant_of(t) for t in REAL_TRIALS if trial_file(raw, t, "ads").exists()})
    tables, shards = [], [out / "samples" / f"{user}.parquet" for user in users]
    for user in users:
        table = out / "tables" / f"{user}.parquet"
        run_trials(raw, user, table, organic_dir=organic_dir, settings=settings)
        run_render(table, raw, user, out, out / "images" / f"{user}.json")
        tables.append(table)
    report = run_split(tables, raw, out / "split.json", out / "report.json")
    for user, table, shard in zip(users, tables, shards, strict=True):
        run_shard(table, out / "split.json", out / "images" / f"{user}.json", user, shard)
    return read_trials(tables).set_index("trial_id"), report, shards


@pytest.fixture(scope="module")
def ads_only(tmp_path_factory):
    return run_all(real_sample(), tmp_path_factory.mktemp("ads_only"))


@pytest.fixture(scope="module")
def with_organic(tmp_path_factory):
    raw = real_sample()
    folder = tmp_path_factory.mktemp("rendered")
    for trial, box in CLICKED_RESULTS.items():
        write_organic(folder, trial, [box])
    return run_all(raw, tmp_path_factory.mktemp("with_organic"), organic_dir=folder)


@pytest.mark.parametrize("trial", REAL_TRIALS)
def test_final_stop_windows_of_the_real_trials(ads_only, trial):
    trials, _, _ = ads_only
    row = trials.loc[trial]
    window = (row["stop_start"], row["stop_end"], row["scroll_px"])
    assert window == WINDOWS[trial] == loop_window(real_sample(), trial)
    assert row["stop_end"] == row["t_mousedown"] < row["t_click"]


def test_without_organic_boxes_only_the_ad_click_is_kept(ads_only):
    trials, report, _ = ads_only
    assert report["trials"] == {"raw": 7, "kept": 1, "dropped": 6}
    assert {k: v for k, v in report["dropped_by_reason"].items() if v} == {"no_organic_boxes": 6}
    assert report["organic_boxes"] == {"user": 0, "rendered": 0, "none": 7}
    kept = trials.loc["p007-b3-t8"]
    assert trials["reason"].isna().tolist() == [t == "p007-b3-t8" for t in REAL_TRIALS]
    # the click lands inside the first top text ad, slot 2 under the shopping carousel
    assert kept["slot_kinds"].tolist() == ["dd_top", "native_ad", "native_ad"]
    assert kept["slot_ranks"].tolist() == [1, 1, 2]
    assert kept["label"] == 1
    x0, y0, x1, y1 = kept["slot_boxes"][1]
    assert x0 <= kept["click_x"] <= x1 and y0 <= kept["click_y"] - kept["scroll_px"] <= y1
    gaze, cursor = loop_dwell(
        real_sample(),
        "p007-b3-t8",
        WINDOWS["p007-b3-t8"],
        loop_slots(real_sample(), "p007-b3-t8", 100),
    )
    assert kept["gaze_ms"].tolist() == pytest.approx(gaze)
    assert kept["cursor_ms"].tolist() == pytest.approx(cursor)
    assert (sum(gaze), sum(cursor)) == (187, 652)
    assert report["users"]["without_samples"] == ["p004", "p005", "p013", "p014", "p031", "p035"]


@pytest.mark.parametrize("trial", REAL_TRIALS)
def test_with_organic_boxes_every_trial_is_kept_with_loop_checked_dwell(with_organic, trial):
    trials, _, _ = with_organic
    row = trials.loc[trial]
    assert pd.isna(row["reason"])
    organic = [CLICKED_RESULTS[trial]] if trial in CLICKED_RESULTS else []
    slots = loop_slots(real_sample(), trial, WINDOWS[trial][2], organic)
    scroll = WINDOWS[trial][2]
    assert [list(b) for b in row["slot_boxes"]] == [
        [x0, y0 - scroll, x1, y1 - scroll] for x0, y0, x1, y1 in slots
    ]
    gaze, cursor = loop_dwell(real_sample(), trial, WINDOWS[trial], slots)
    assert row["gaze_ms"].tolist() == pytest.approx(gaze)
    assert row["cursor_ms"].tolist() == pytest.approx(cursor)
    clicked = row["slot_kinds"][row["label"]]
    assert clicked == ("native_ad" if trial == "p007-b3-t8" else "organic")
    if clicked == "organic":
        assert row["slot_ranks"][row["label"]] == CLICKED_RESULTS[trial][0]


def test_with_organic_boxes_the_report_reconciles_and_shards_follow_the_split(
    with_organic,
):
    _, report, _ = with_organic
    assert report["trials"] == {"raw": 7, "kept": 7, "dropped": 0}
    assert report["organic_boxes"] == {"user": 0, "rendered": 6, "none": 1}
    assert sum(report["kept_by_split"].values()) == 7
    assert report["clicks"]["final_click_kind"] == {"organic": 6, "ad_top": 1}
    assert report["users"]["with_samples"] == 7
    per_user = report["per_user"]
    assert sum(sum(c.values()) for c in per_user.values()) == 7
    assert report["users"]["without_train_samples"] == sorted(
        u for u, c in per_user.items() if not c["train"]
    )
    assert report["queries"] == {"distinct": 7, "train": 5, "val": 1, "test": 1}


def test_shards_hold_numbered_slots_and_images_of_the_viewport(with_organic):
    _, _, shards = with_organic
    samples = read_samples(shards)
    assert len(samples) == 7
    assert set(samples["dataset"]) == {"adserp"}
    split = json.loads((shards[0].parent.parent / "split.json").read_text())
    for row in samples.itertuples():
        assert row.content_id in split[row.split]
        assert list(row.slot_names) == [str(i + 1) for i in range(row.n_candidates)]
        assert (row.image_width, row.image_height) == (1280, 922)
    assert set(split["test"]).isdisjoint(split["train"])
    row = samples[samples["screen_id"] == "p014-b4-t5"].iloc[0]
    base = Path(row["dataset_dir"])
    with (
        Image.open(base / row["image_path"]) as plain,
        Image.open(base / row["labelled_image_path"]) as labelled,
    ):
        assert plain.size == labelled.size == (1280, 922)
        page = Image.open(trial_file(real_sample(), "p014-b4-t5", "screenshot")).convert("RGB")
        crop = np.asarray(page.crop((0, 500, 1280, 1422)), dtype=float)
        assert np.abs(np.asarray(plain, dtype=float) - crop).mean() < 3  # the stop's viewport
        # slot 1's number tag sits left of the box's top-left corner, in the page margin
        x0, y0 = (int(v) for v in row["slot_boxes"][0][:2])
        top = max(y0 - 3, 0)
        tag = np.asarray(labelled.crop((x0 - 10, top, x0 - 5, top + 2)), dtype=float)
        assert tag[..., 0].mean() > 150 and tag[..., 1].mean() < 110  # the red fill
    assert "pref_website: Amazon" in samples.set_index("user_id").loc["p004", "profile"]


def test_the_reference_click_end_moves_the_window_to_the_logged_click(tmp_path):
    trials, _, _ = run_all(
        copy_trials(tmp_path / "raw", ("p007-b3-t8",)),
        tmp_path / "out",
        settings=Settings(decision_end="click"),
    )
    row = trials.loc["p007-b3-t8"]
    assert (row["stop_start"], row["stop_end"]) == loop_window(
        real_sample(), "p007-b3-t8", end_at="click"
    )[:2]
    assert row["stop_end"] == 1671705598570


def test_user_supplied_organic_boxes_come_before_rendered_ones(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3", "p007-b3-t8"))
    rendered = tmp_path / "rendered"
    write_organic(rendered, "p004-b1-t3", [(1, 162, 703, 702, 862)])
    write_organic(raw / "organic-aoi-data", "p004-b1-t3", [(1, 162, 1500, 702, 1600)])
    trials, report, _ = run_all(raw, tmp_path / "out", organic_dir=rendered)
    assert report["organic_boxes"]["user"] == 1
    assert trials.loc["p004-b1-t3", "reason"] == "click_not_on_an_aoi"  # the user's box is off


def test_a_trial_missing_a_file_or_with_a_wrong_screenshot_is_a_reported_drop(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3", "p005-b6-t3", "p007-b3-t8"))
    trial_file(raw, "p004-b1-t3", "mouse").unlink()
    Image.new("RGB", (1300, 2181), "white").save(trial_file(raw, "p005-b6-t3", "screenshot"))
    (raw / "ad-boundary-data" / "README.txt").write_text("notes")
    _, report, _ = run_all(raw, tmp_path / "out")
    assert report["trials"] == {"raw": 3, "kept": 1, "dropped": 2}
    dropped = {d["trial_id"]: (d["reason"], d["detail"]) for d in report["dropped_trials"]}
    assert dropped == {
        "p004-b1-t3": ("missing_file", "no file in mouse-movement-data/"),
        "p005-b6-t3": ("screenshot_wrong_width", "1300 px wide, expected 1280"),
    }
    assert report["unrecognised_files"] == ["ad-boundary-data/README.txt"]


def test_a_screenshot_of_another_page_height_and_an_unknown_participant_are_dropped(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3", "p005-b6-t3", "p007-b3-t8"))
    Image.new("RGB", (1280, 2000), "white").save(trial_file(raw, "p004-b1-t3", "screenshot"))
    participants = raw / "participants.csv"
    lines = participants.read_text().splitlines()
    participants.write_text("\n".join(line for line in lines if not line.startswith("p005")))
    _, report, _ = run_all(raw, tmp_path / "out")
    reasons = {d["trial_id"]: d["reason"] for d in report["dropped_trials"]}
    assert reasons == {
        "p004-b1-t3": "screenshot_height_mismatch",
        "p005-b6-t3": "unknown_participant",
    }


def test_a_malformed_box_stops_the_run_with_the_file_named(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p007-b3-t8",))
    path = trial_file(raw, "p007-b3-t8", "ads")
    path.write_text(path.read_text().replace('"height": 69', '"height": "69px"', 1))
    with pytest.raises(RawDataError, match=r"p007-b3-t8.json, column 'native_ad\[0\].size.height'"):
        run_trials(raw, "p007", tmp_path / "trials.parquet")
    assert not (tmp_path / "trials.parquet").exists()


def test_a_trial_table_that_misses_a_raw_trial_does_not_reconcile(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3", "p007-b3-t8"))
    run_trials(raw, "p007", tmp_path / "p007.parquet")
    with pytest.raises(AssertionError, match=r"differ: \['p004-b1-t3'\]"):
        run_split([tmp_path / "p007.parquet"], raw, tmp_path / "s.json", tmp_path / "r.json")


def test_hand_made_trials_drop_for_no_click_a_late_scroll_and_no_dwell(tmp_path):
    raw = tmp_path / "raw"
    ad = {"native_ad": [(162, 163, 540, 69)]}
    load = [(1000, 0, 0, "load", "/")]
    press = [
        (5000, 300, 200, "mousedown", "//*[@id='tads']/div[1]/a"),
        (5100, 300, 200, "mouseup", "//*[@id='tads']/div[1]/a"),
        (7000, 300, 200, "click", "//*[@id='tads']/div[1]/a"),
    ]
    write_trial(raw, "p101-b1-t1", load + press[:2], [(2000, 300, 190, 200)], ad)
    write_trial(raw, "p101-b1-t2", [*load, (4800, 0, 0.0, "scroll", "/"), *press], [], ad)
    write_trial(raw, "p101-b1-t3", load + press, [(2000, 900, 700, 200)], ad)
    write_trial(raw, "p101-b1-t4", load + press, [(2000, 300, 190, 200)], ad)
    write_trial(raw, "p101-b1-t5", load + press[2:], [(2000, 300, 190, 200)], ad)
    run_trials(raw, "p101", tmp_path / "p101.parquet")
    trials = read_trials(tmp_path / "p101.parquet").set_index("trial_id")
    assert trials["reason"].fillna("kept").to_dict() == {
        "p101-b1-t1": "no_click",
        "p101-b1-t2": "final_stop_too_short",
        "p101-b1-t3": "no_dwell_on_aois",  # the pointer rests outside the ad until the press
        "p101-b1-t4": "kept",
        "p101-b1-t5": "no_mousedown",
    }
    kept = trials.loc["p101-b1-t4"]
    assert kept["gaze_ms"].tolist() == [200] and kept["cursor_ms"].tolist() == [0]
    assert kept["profile"].endswith("pref_website: Amazon, online_shopping_freq: Monthly")


SAMPLE_FIELDS = ["label", "slot_boxes", "gaze_ms", "cursor_ms", "stop_start", "stop_end"]


def sample_of(row: pd.Series) -> list:
    """The fields that make a trial's sample, as plain lists."""
    return [np.array(list(v) if np.ndim(v) else v).tolist() for v in row[SAMPLE_FIELDS]]


def rewrite_log(raw: Path, role: str, edit) -> None:
    """Apply ``edit`` to the lines of p007-b3-t8's log of ``role`` (header first)."""
    path = trial_file(raw, "p007-b3-t8", role)
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))


def repeat_last_click(lines: list[str]) -> list[str]:
    at = max(i for i, line in enumerate(lines) if ",click," in line)
    return [*lines[: at + 1], lines[at], *lines[at + 1 :]]


def reverse(lines: list[str]) -> list[str]:
    return [lines[0], *reversed(lines[1:])]


def add_column(lines: list[str]) -> list[str]:
    return [lines[0].rstrip("\n") + ",note\n", *(x.rstrip("\n") + ",x\n" for x in lines[1:])]


@pytest.mark.parametrize(
    ("role", "edit", "noted"),
    [
        ("mouse", repeat_last_click, {"duplicate_rows_dropped": 1, "duplicate_lines": [879]}),
        ("mouse", reverse, {"rows_out_of_order": 876}),
        ("fixations", reverse, {"rows_out_of_order": 115}),
        ("fixations", add_column, {"extra_columns": ["note"]}),
    ],
)
def test_repeated_reordered_or_extra_log_input_keeps_the_sample_and_is_reported(
    ads_only, tmp_path, role, edit, noted
):
    raw = copy_trials(tmp_path / "raw", ("p007-b3-t8",))
    rewrite_log(raw, role, edit)
    trials, report, _ = run_all(raw, tmp_path / "out")
    row, clean = trials.loc["p007-b3-t8"], ads_only[0].loc["p007-b3-t8"]
    assert pd.isna(row["reason"]) and row["n_clicks"] == clean["n_clicks"]
    assert sample_of(row) == sample_of(clean)
    folder = report["raw_files"][TRIAL_FOLDERS[role][0]]
    assert folder["files_read"] == 1
    assert {k: v for k, v in folder["trials"]["p007-b3-t8"].items() if k in noted} == noted
    assert report["raw_files"]["participants.csv"]["rows"] == 47


def test_a_truncated_screenshot_stops_the_render_naming_it(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p007-b3-t8",))
    run_trials(raw, "p007", tmp_path / "p007.parquet")
    path = trial_file(raw, "p007-b3-t8", "screenshot")
    path.write_bytes(path.read_bytes()[:200_000])
    with pytest.raises(RawDataError, match=r"p007-b3-t8.png: not a readable image \(image file is"):
        run_render(tmp_path / "p007.parquet", raw, "p007", tmp_path / "out", tmp_path / "p007.json")


def test_a_run_that_keeps_no_trial_stops_with_the_reasons(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3", "p005-b6-t3"))
    with pytest.raises(
        RawDataError, match=r"raw: no trial gave a sample \(all 2 dropped: no_organic_boxes 2\)"
    ):
        run_all(raw, tmp_path / "out")
    assert not (tmp_path / "out" / "report.json").exists()
