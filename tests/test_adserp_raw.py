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
from fixate.data.tables import TableNotes


def test_real_files_read_with_their_types():
    raw = real_sample()
    fix, notes = read_fixations(trial_file(raw, "p004-b1-t3", "fixations"))
    assert notes == TableNotes(rows=39)
    assert len(fix) == 39
    assert fix.iloc[0][["timestamp", "FPOGX", "FPOGY", "FPOGD"]].tolist() == [
        1671196645197,
        361,
        131,
        294,
    ]
    mouse, notes = read_mouse(trial_file(raw, "p007-b3-t8", "mouse"))
    assert notes == TableNotes(rows=879)
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
    participants, notes = read_participants(raw / "participants.csv")
    assert len(participants) == 47 and notes == TableNotes(rows=47)


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
    participants, _ = read_participants(real_sample() / "participants.csv")
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
    with pytest.raises(
        RawDataError,
        match=r"line 49, column 'participant_id': participant_id='p004' repeats line 2",
    ):
        read_participants(path)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A scratch copy of p004-b1-t3 (39 fixations, 112 mouse events)."""
    return copy_trials(tmp_path / "raw", ("p004-b1-t3",))


LOG_READERS = {"fixations": read_fixations, "mouse": read_mouse}


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


@pytest.mark.parametrize("name", ["fixation-data", "mouse-movement-data", "participants.csv"])
def test_a_header_only_table_is_an_error(logs, name):
    path = logs / name if name.endswith(".csv") else logs / name / "p004-b1-t3.csv"
    path.write_text(lines_of(path)[0])
    reader = {"fixation-data": read_fixations, "mouse-movement-data": read_mouse}
    with pytest.raises(RawDataError, match=rf"{name}\S*: no data rows: the file holds only"):
        reader.get(name, read_participants)(path)


@pytest.mark.parametrize("event", ["click", "mousemove"])
def test_a_repeated_mouse_row_is_removed_and_counted(logs, event):
    path = trial_file(logs, "p004-b1-t3", "mouse")
    clean, _ = read_mouse(path)
    lines = lines_of(path)
    at = max(i for i, line in enumerate(lines) if f",{event}," in line)
    path.write_text("".join([*lines[: at + 1], lines[at], *lines[at + 1 :]]))
    table, notes = read_mouse(path)
    assert notes == TableNotes(rows=len(lines), duplicate_rows_dropped=1, duplicate_lines=(at + 2,))
    assert table.drop(columns="line").equals(clean.drop(columns="line"))


def test_a_repeated_fixation_row_is_removed_but_a_repeated_onset_is_an_error(logs):
    path = trial_file(logs, "p004-b1-t3", "fixations")
    lines = lines_of(path)
    path.write_text("".join([*lines[:3], lines[2], *lines[3:]]))
    assert read_fixations(path)[1].duplicate_lines == (4,)
    onset = lines[2].split(",")[0]
    path.write_text("".join([*lines[:3], f"{onset},1,2,3\n", *lines[3:]]))
    with pytest.raises(
        RawDataError,
        match=rf"p004-b1-t3.csv, line 4, column 'timestamp': timestamp={onset} repeats line 3",
    ):
        read_fixations(path)


@pytest.mark.parametrize("role", ["fixations", "mouse"])
def test_a_reversed_log_is_sorted_and_counted(logs, role):
    path = trial_file(logs, "p004-b1-t3", role)
    clean, _ = LOG_READERS[role](path)
    lines = lines_of(path)
    path.write_text("".join([lines[0], *reversed(lines[1:])]))
    table, notes = LOG_READERS[role](path)
    # reversed, every row but those of the last millisecond comes after a later one
    assert notes.rows_out_of_order == (clean["timestamp"] < clean["timestamp"].max()).sum()
    assert table["timestamp"].is_monotonic_increasing
    columns = ["timestamp", *clean.columns.drop(["line", "timestamp"])]
    assert sorted(map(tuple, table[columns].to_numpy().tolist())) == sorted(
        map(tuple, clean[columns].to_numpy().tolist())
    )


@pytest.mark.parametrize("role", ["fixations", "mouse"])
def test_an_extra_log_column_is_listed(logs, role):
    path = trial_file(logs, "p004-b1-t3", role)
    clean, _ = LOG_READERS[role](path)
    lines = lines_of(path)
    path.write_text(
        "".join([lines[0].rstrip("\n") + ",note\n", *(x.rstrip("\n") + ",x\n" for x in lines[1:])])
    )
    table, notes = LOG_READERS[role](path)
    assert notes.extra_columns == ("note",)
    assert table.equals(clean)


@pytest.mark.parametrize(
    ("role", "edit", "where"),
    [
        ("mouse", lambda t: t.replace("//*[@id='rcnt']", "//*[@id='café']", 1), "column 'xpath'"),
        ("ads", lambda t: t.replace('"native_ad"', '"native_ad", "note": "café"', 1), ""),
        ("metadata", lambda t: t.replace("<task>", "<task>café ", 1), ""),
    ],
)
def test_latin1_bytes_are_named_as_an_encoding_problem(logs, role, edit, where):
    path = trial_file(logs, "p004-b1-t3", role)
    text = edit(path.read_text())
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "café" in x)
    path.write_bytes(text.encode("latin-1"))
    column = f", {where}" if where else ""
    reader = {"mouse": read_mouse, "ads": read_ad_boxes, "metadata": read_trial_metadata}[role]
    with pytest.raises(
        RawDataError,
        match=rf"p004-b1-t3.\w+, line {line}{column}: not UTF-8 text: byte 0xe9 .* encoding",
    ):
        reader(path)


def test_a_repeated_json_key_or_xml_element_is_an_error(logs):
    ads = trial_file(logs, "p004-b1-t3", "ads")
    ads.write_text(ads.read_text().replace('"dd_right": []', '"dd_right": [], "dd_top": []'))
    with pytest.raises(RawDataError, match=r"column 'dd_top': key appears twice in one JSON"):
        read_ad_boxes(ads)
    meta = trial_file(logs, "p004-b1-t3", "metadata")
    text = meta.read_text()
    meta.write_text(text.replace("</data>", "<document>1403x2000</document></data>"))
    with pytest.raises(RawDataError, match=r"column 'document': element appears 2 times"):
        read_trial_metadata(meta)


def test_an_unreadable_screenshot_is_named(logs):
    path = trial_file(logs, "p004-b1-t3", "screenshot")
    path.write_bytes(b"not a png")
    with pytest.raises(RawDataError, match=r"p004-b1-t3.png: not a readable image"):
        screenshot_size(path)
