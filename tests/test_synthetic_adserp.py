"""The synthetic AdSERP generator: the real raw format, read by the real readers, seeded, with
the layout and the distributions of the released data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from adserp_raw import SAMPLE

from fixate.data.adserp.pipeline import read_trials, run_trials
from fixate.data.adserp.raw import (
    FIXATION_COLUMNS,
    MOUSE_COLUMNS,
    PARTICIPANT_COLUMNS,
    PUPIL_COLUMNS,
    list_trials,
    read_ad_boxes,
    read_organic_boxes,
    read_trial_metadata,
    screenshot_size,
    trial_file,
)
from fixate.data.synthetic.adserp import generate_adserp
from fixate.data.synthetic.adserp.design import adserp_user_ids, trial_slots


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("adserp") / "data"
    summary = generate_adserp(out, n_users=4, seed=5, trials_per_user=6, n_batches=2)
    return out, summary


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def header(path: Path) -> str:
    return path.read_text().split("\n", 1)[0]


def test_user_ids_and_trial_ids_follow_the_study():
    assert adserp_user_ids(3) == ["p004", "p005", "p006"]
    assert adserp_user_ids(47)[-1] == "p050"
    with pytest.raises(ValueError, match="1-47"):
        adserp_user_ids(48)
    slots = trial_slots(5, "p004", 60)
    assert 55 <= len(slots) <= 60 and slots[0][0] == 1 and max(b for b, _ in slots) == 6


def test_every_trial_has_every_file_with_the_real_headers(synthetic):
    out, summary = synthetic
    listing = list_trials(out)
    assert len(listing.roles) == summary["n_trials"] == 24
    assert all(not listing.missing(t) for t in listing.roles)
    assert listing.unrecognised == ()
    trial = next(iter(listing.roles))
    expected = {
        "fixation-data": FIXATION_COLUMNS,
        "mouse-movement-data": MOUSE_COLUMNS,
        "pupil-data": PUPIL_COLUMNS,
    }
    for folder, columns in expected.items():
        assert header(out / folder / f"{trial}.csv") == ",".join(columns)
        if SAMPLE.is_dir():  # the same bytes as the released files
            assert header(out / folder / f"{trial}.csv") == header(
                SAMPLE / folder / "p004-b1-t3.csv"
            )
    assert header(out / "participants.csv") == ",".join(PARTICIPANT_COLUMNS)
    participants = pd.read_csv(out / "participants.csv")
    assert participants["participant_id"].tolist() == adserp_user_ids(4)
    assert set(participants["pref_website"]) <= {"Monthly", "Rarely", "Weekly"}  # swapped
    xml = trial_file(out, trial, "metadata").read_bytes()
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<data>\r\n <ip>::1</ip>')
    meta = read_trial_metadata(trial_file(out, trial, "metadata"))
    assert screenshot_size(trial_file(out, trial, "screenshot")) == (
        1280,
        round(meta.document_h * 1280 / 1422),
    )
    assert b"\n" not in trial_file(out, trial, "ads").read_bytes()


def test_layout_constants_and_click_targets(synthetic):
    out, _ = synthetic
    for trial in list_trials(out).roles:
        ads = read_ad_boxes(trial_file(out, trial, "ads"))
        native = ads[ads["kind"] == "native_ad"]
        assert (native["x0"] == 162).all() and (native["x1"] - native["x0"] == 540).all()
        top = ads[ads["kind"] == "dd_top"]
        assert len(top) <= 1 and (top["y0"] == 158).all()
        right = ads[ads["kind"] == "dd_right"]
        assert len(right) <= 1 and (right["x0"] == 802).all()
        assert (right["x1"] - right["x0"] == 221).all()
        organic = read_organic_boxes(out / "organic-aoi-data" / f"{trial}.json", trial)
        assert organic["rank"].tolist() == list(range(1, len(organic) + 1))
        page_h = screenshot_size(trial_file(out, trial, "screenshot"))[1]
        assert 2150 <= page_h <= 3410
        assert (pd.concat([ads, organic])["y1"] <= page_h).all()


def test_mouse_log_in_page_css_px_with_float_y_only_when_scrolling(synthetic):
    out, _ = synthetic
    kinds = []
    for trial in list_trials(out).roles:
        lines = trial_file(out, trial, "mouse").read_text().splitlines()
        rows = [line.split(",", 4) for line in lines[1:]]
        scrolls = [r for r in rows if r[3] == "scroll"]
        ys = [r[2] for r in rows]
        assert all("." in y for y in ys) == bool(scrolls)
        assert all("." not in y for y in ys) == (not scrolls)
        if scrolls:  # the animation moves in whole device px (1.11 CSS px)
            steps = np.array([float(r[2]) for r in scrolls]) / (10 / 9)
            assert np.allclose(steps, np.round(steps), atol=1e-3)
        events = [r[3] for r in rows]
        assert events[:2] == ["load", "pageshow"] and events[-2:] == ["blur", "focus"]
        kinds.append(events.count("click"))
    assert max(kinds) >= 1 and min(kinds) >= 1


def test_fixations_follow_the_real_distributions(tmp_path):
    out = tmp_path / "data"
    generate_adserp(out, n_users=5, seed=3, trials_per_user=7)
    files = sorted((out / "fixation-data").glob("*.csv"))
    fix = pd.concat([pd.read_csv(p) for p in files], keys=range(len(files)))
    per_trial = fix.groupby(level=0).size()
    assert per_trial.min() >= 15 and 30 <= per_trial.median() <= 90 and per_trial.max() <= 250
    q = np.percentile(fix["FPOGD"], [10, 50, 90])
    assert 90 <= q[0] <= 130 and 180 <= q[1] <= 240 and 330 <= q[2] <= 450
    assert 0.75 <= (fix["FPOGX"] <= 702).mean() <= 0.95
    assert 0.6 <= (fix["FPOGY"] < 922).mean() <= 0.85
    onset_gap = fix.groupby(level=0)["timestamp"].diff() - fix.groupby(level=0)["FPOGD"].shift()
    assert 20 <= onset_gap.median() <= 45


def test_participants_share_queries_when_batches_are_few(synthetic):
    out, _ = synthetic
    by_user: dict[str, set] = {}
    for trial in list_trials(out).roles:
        slug = read_trial_metadata(trial_file(out, trial, "metadata")).slug
        by_user.setdefault(trial.split("-")[0], set()).add(slug)
        assert slug.startswith("buy-")
    users = list(by_user.values())
    assert any(a & b for i, a in enumerate(users) for b in users[i + 1 :])


def test_the_pipeline_keeps_most_synthetic_trials(synthetic, tmp_path):
    out, _ = synthetic
    for user in adserp_user_ids(4):
        run_trials(out, user, tmp_path / f"{user}.parquet")
    trials = read_trials(sorted(tmp_path.glob("*.parquet")))
    assert trials["reason"].isna().mean() >= 0.85
    assert set(trials["reason"].dropna()) <= {"final_stop_too_short"}
    kept = trials[trials["reason"].isna()]
    assert (kept["gaze_ms"].map(sum) > 0).mean() >= 0.9


def test_equal_arguments_give_identical_files_whatever_the_workers(tmp_path):
    generate_adserp(tmp_path / "a", n_users=2, seed=9, trials_per_user=2)
    generate_adserp(tmp_path / "b", n_users=2, seed=9, trials_per_user=2, workers=2)
    generate_adserp(tmp_path / "c", n_users=2, seed=10, trials_per_user=2)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    no_organic = tmp_path / "d"
    generate_adserp(no_organic, n_users=1, seed=9, trials_per_user=1, organic=False)
    assert (no_organic / "organic-aoi-data").is_dir()
    assert not any((no_organic / "organic-aoi-data").iterdir())
    assert json.loads((tmp_path / "a" / "organic-aoi-data" / "p004-b1-t1.json").read_text())
