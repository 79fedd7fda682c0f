"""AdSERP readers: the real files read with their types; bad input named by file, line, column or
JSON path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from adserp_raw import REAL_TRIALS, copy_trials, real_sample, write_organic

from fixate.data.adserp.raw import (
    list_trials,
    participants_with_trials,
    read_ad_boxes,
    read_fixations,
    read_mouse,
    read_organic_boxes,
    read_participants,
    read_trial_metadata,
    screenshot_size,
    trial_file,
)
from fixate.data.adserp.trials import profile_texts
from fixate.data.errors import RawDataError


def test_real_files_read_with_their_types():
    raw = real_sample()
    fix = read_fixations(trial_file(raw, "p004-b1-t3", "fixations"))
    assert len(fix) == 39
    assert fix.iloc[0][["timestamp", "FPOGX", "FPOGY", "FPOGD"]].tolist() == [
        1671196645197,
        361,
        131,
        294,
    ]
    mouse = read_mouse(trial_file(raw, "p007-b3-t8", "mouse"))
    assert len(mouse) == 879
    assert mouse["timestamp"].is_monotonic_increasing
    assert mouse["event"].iloc[-3:].tolist() == ["click", "blur", "focus"]
    ads = read_ad_boxes(trial_file(raw, "p004-b1-t3", "ads"))
    assert ads["kind"].value_counts().to_dict() == {"native_ad": 6, "dd_top": 1}
    first = ads.iloc[0]
    assert (first["kind"], first["rank"]) == ("native_ad", 1)
    assert first[["x0", "y0", "x1", "y1"]].tolist() == [162, 416, 702, 485]
    meta = read_trial_metadata(trial_file(raw, "p004-b1-t3", "metadata"))
    assert meta.slug == "buy-bosch-bosch-72204ws-oil-filter"
    assert meta.query == "buy bosch bosch 72204ws oil filter"
    assert (meta.document_w, meta.document_h) == (1403, 3380)
    assert screenshot_size(trial_file(raw, "p004-b1-t3", "screenshot")) == (1280, 3042)
    assert len(read_participants(raw / "participants.csv")) == 47


def test_trials_are_listed_from_every_folder_and_strays_are_named(tmp_path):
    listing = list_trials(real_sample())
    assert tuple(listing.roles) == REAL_TRIALS
    assert all(not listing.missing(t) for t in REAL_TRIALS)
    assert listing.unrecognised == ()
    raw = copy_trials(tmp_path / "raw", REAL_TRIALS[:2])
    trial_file(raw, "p004-b1-t3", "mouse").unlink()
    (raw / "fixation-data" / "notes.txt").write_text("x")
    listing = list_trials(raw)
    assert listing.missing("p004-b1-t3") == ["mouse-movement-data"]
    assert listing.unrecognised == ("fixation-data/notes.txt",)
    assert participants_with_trials(raw) == ["p004", "p005"]


def test_a_missing_trial_folder_is_named(tmp_path):
    raw = copy_trials(tmp_path / "raw", REAL_TRIALS[:1])
    shutil.rmtree(raw / "trial-metadata")
    with pytest.raises(RawDataError, match=r"trial-metadata: folder not found"):
        list_trials(raw)


@pytest.fixture
def ads_file(tmp_path: Path) -> Path:
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3",))
    return trial_file(raw, "p004-b1-t3", "ads")


def edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["native_ad"][1].pop("size"), r"column 'native_ad\[1\]': missing key 'size'"),
        (
            lambda d: d["native_ad"][0]["size"].update(height="69"),
            r"column 'native_ad\[0\].size.height': expected a number, found '69'",
        ),
        (
            lambda d: d["dd_top"][0]["size"].update(width=-586),
            r"column 'dd_top\[0\].size.width': negative: -586",
        ),
        (lambda d: d.update(dd_bottom=[]), r"column 'dd_bottom': unknown ad category"),
        (lambda d: d.pop("dd_right"), r"column 'dd_right': missing key 'dd_right'"),
        (lambda d: d["native_ad"].__setitem__(2, [162, 607]), r"native_ad\[2\]': expected an obj"),
    ],
)
def test_a_malformed_ad_box_names_its_json_path(ads_file, edit, message):
    edit_json(ads_file, edit)
    with pytest.raises(RawDataError, match=message):
        read_ad_boxes(ads_file)


def test_broken_json_names_its_line(ads_file):
    ads_file.write_text('{"native_ad": [],\n "dd_top": [,\n "dd_right": []}')
    with pytest.raises(RawDataError, match=r"p004-b1-t3.json, line 2: not valid JSON"):
        read_ad_boxes(ads_file)


def test_organic_boxes_read_and_malformed_ones_are_named(tmp_path):
    folder = tmp_path / "organic-aoi-data"
    write_organic(folder, "p004-b1-t3", [(1, 162, 700, 702, 860), (2, 162, 889, 749, 1080)])
    boxes = read_organic_boxes(folder / "p004-b1-t3.json", "p004-b1-t3")
    assert boxes["rank"].tolist() == [1, 2]
    assert boxes.iloc[1][["x0", "y0", "x1", "y1"]].tolist() == [162, 889, 749, 1080]
    path = folder / "p004-b1-t3.json"
    cases = [
        (lambda d: d["organic"][0].update(rank=0), r"'organic\[0\].rank': expected a rank >= 1"),
        (lambda d: d["organic"][1].pop("y_bot"), r"'organic\[1\]': missing key 'y_bot'"),
        (lambda d: d["organic"][1].update(x_left="162"), r"'organic\[1\].x_left': expected a num"),
        (lambda d: d["organic"][0].update(y_bot=600), r"'organic\[0\]': x_right/y_bot .* before"),
        (lambda d: d.update(trial="p005-b6-t3"), r"'trial': describes 'p005-b6-t3'"),
        (lambda d: d.pop("organic"), r"missing key 'organic'"),
    ]
    original = path.read_text()
    for edit, message in cases:
        path.write_text(original)
        edit_json(path, edit)
        with pytest.raises(RawDataError, match=message):
            read_organic_boxes(path, "p004-b1-t3")


def test_bad_metadata_names_its_element(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3",))
    path = trial_file(raw, "p004-b1-t3", "metadata")
    text = path.read_text()
    path.write_text(text.replace("<document>1403x3380</document>", "<document>1403</document>"))
    with pytest.raises(RawDataError, match=r"column 'document': expected WIDTHxHEIGHT"):
        read_trial_metadata(path)
    path.write_text(text.replace("batch_20_trial_3 | ", ""))
    with pytest.raises(RawDataError, match=r"column 'task': expected 'batch_<n>_trial_<m> \|"):
        read_trial_metadata(path)
    path.write_text(text.replace("</url>", ""))
    with pytest.raises(RawDataError, match=r"p004-b1-t3.xml, line \d+: not valid XML"):
        read_trial_metadata(path)


def test_a_bad_mouse_row_names_line_and_column(tmp_path):
    raw = copy_trials(tmp_path / "raw", ("p004-b1-t3",))
    path = trial_file(raw, "p004-b1-t3", "mouse")
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace(",236,", ",two,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RawDataError, match=r"line 5, column 'ypos': expected a number"):
        read_mouse(path)


def test_participants_swap_is_undone_in_the_profile_text(tmp_path):
    participants = read_participants(real_sample() / "participants.csv")
    profiles, swapped = profile_texts(participants)
    assert swapped == 47  # every real row has the two columns swapped
    assert profiles["p004"] == (
        "gender: Female, age: 40, english: Advanced, education: Graduate, "
        "pref_device: Computers or laptops, pref_website: Amazon, online_shopping_freq: Monthly"
    )
    fixed = participants.copy()
    fixed[["pref_website", "online_shopping_freq"]] = fixed[
        ["online_shopping_freq", "pref_website"]
    ].to_numpy()
    again, swapped = profile_texts(fixed)  # a corrected release is read as it is
    assert swapped == 0
    assert again.equals(profiles)


def test_a_repeated_participant_is_refused(tmp_path):
    path = tmp_path / "participants.csv"
    text = (real_sample() / "participants.csv").read_text()
    path.write_text(text + text.splitlines()[1] + "\n")
    with pytest.raises(RawDataError, match=r"line 49, column 'participant_id': 'p004' repeats"):
        read_participants(path)
