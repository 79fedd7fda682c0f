"""Bad raw input gives an error that names the file, the line and the column; repeated and
out-of-order rows and undocumented columns are removed, sorted or listed, and counted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recgaze_raw import Session, write_raw

from fixate.data.errors import RawDataError
from fixate.data.recgaze.layout import aoi_table, load_layout
from fixate.data.recgaze.raw import (
    read_aoi_data,
    read_item_features,
    read_non_public,
    read_summary_feedback,
    read_user_features,
    user_ids,
)
from fixate.data.tables import TableNotes

READERS = {
    "summary_feedback.csv": read_summary_feedback,
    "non_public_feedback_dataset.csv": read_non_public,
    "item_features.csv": read_item_features,
    "user_features.csv": read_user_features,
    "aoi_data.csv": read_aoi_data,
}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    sessions = [
        Session("U1", 2).fix(1, 1).fix(1, 2).click("Movie", 1, 2),
        Session("U2", 3).fix(2, 1).cursor(2, 1, 0.4).click("Movie", 2, 1),
    ]
    return write_raw(tmp_path / "raw", sessions)


def edit_cell(path: Path, line: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(path, index=False)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_well_formed_files_read_with_types(raw):
    events, notes = read_summary_feedback(raw / "summary_feedback.csv")
    assert notes == TableNotes(rows=6)
    assert len(events) == 6
    assert events["Fixation_Duration"].dtype == float
    assert events["Timestamp_text"].iloc[0] == "1.000"
    assert events["Click_AOI_type"].isna().sum() == 4
    assert events["line"].tolist() == list(range(2, 8))


def test_renamed_column_is_named_with_its_likely_new_name(raw):
    path = raw / "summary_feedback.csv"
    path.write_text(path.read_text().replace("Fixation_Duration", "Fixation_duration_ms", 1))
    with pytest.raises(
        RawDataError,
        match=r"summary_feedback.csv, line 1: missing column\(s\) "
        r"'Fixation_Duration' \(found 'Fixation_duration_ms': renamed\?\)",
    ):
        read_summary_feedback(path)


def test_wrong_type_names_line_and_column(raw):
    path = raw / "summary_feedback.csv"
    edit_cell(path, 4, "Fixation_Duration", "long")
    with pytest.raises(
        RawDataError,
        match=r"line 4, column 'Fixation_Duration': expected a number, "
        r"found 'long'",
    ):
        read_summary_feedback(path)


def test_na_string_is_refused_where_an_empty_field_is_expected(raw):
    path = raw / "summary_feedback.csv"
    edit_cell(path, 3, "Click_AOI_type", "NA")
    with pytest.raises(
        RawDataError,
        match=r"line 3, column 'Click_AOI_type': found 'NA'; missing "
        r"values must be empty fields",
    ):
        read_summary_feedback(path)


def test_truncated_file_names_the_broken_line(raw):
    path = raw / "non_public_feedback_dataset.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 15])
    n_lines = len(path.read_text().splitlines())
    with pytest.raises(RawDataError, match=rf"line {n_lines}: expected 10 fields, found \d"):
        read_non_public(path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("Fixation_AOI_type", "Poster", r"unknown value 'Poster'; expected one of"),
        ("Fixation_AOI_Carousel_position", "11", r"outside the allowed range \[1, 10\]"),
        ("Fixation_AOI_Movie_position_in_carousel", "2.5", r"expected a whole number"),
        ("TaskID", "", r"empty, but every row needs a value"),
        ("Timestamp", "", r"empty, but every row needs a value"),
        ("UserID", "", r"empty, but every row needs a value"),
    ],
)
def test_value_domains(raw, column, value, message):
    path = raw / "summary_feedback.csv"
    edit_cell(path, 2, column, value)
    with pytest.raises(RawDataError, match=rf"line 2, column '{column}': .*({message})"):
        read_summary_feedback(path)


def test_a_fixation_without_duration_is_an_error(raw):
    path = raw / "summary_feedback.csv"
    edit_cell(path, 2, "Fixation_Duration", "")
    with pytest.raises(
        RawDataError,
        match=r"line 2, column 'Fixation_Duration': an event with "
        r"Fixation_AOI_type set has no duration",
    ):
        read_summary_feedback(path)


@pytest.mark.parametrize(
    ("name", "line", "column", "value", "message"),
    [
        (
            "item_features.csv",
            3,
            "Movie_position_in_carousel",
            "1",
            r"item_features.csv, line 3: TaskID=1, Carousel_position=1, "
            r"Movie_position_in_carousel=1 repeats line 2",
        ),
        ("item_features.csv", 3, "MovieID", "101021", r"line 3: TaskID=1, MovieID=101021 repeats"),
        ("user_features.csv", 3, "UserID", "U1", r"line 3, column 'UserID': UserID='U1' repeats"),
        (
            "aoi_data.csv",
            82,  # the first AOI of page 2 (the genre heading of row 1), moved to page 1
            "Page",
            "1",
            r"aoi_data.csv, line 82: task_id='01', AOI_type='Genre_text', Row_num=1, "
            r"Row_position=<NA>, Page=1 repeats line 2",
        ),
    ],
)
def test_a_repeated_key_of_a_lookup_table_names_both_lines(raw, name, line, column, value, message):
    edit_cell(raw / name, line, column, value)
    with pytest.raises(RawDataError, match=message):
        READERS[name](raw / name)


def test_an_exact_copy_of_a_lookup_row_is_a_repeated_key(raw):
    path = raw / "user_features.csv"
    lines = lines_of(path)
    path.write_text("".join([*lines, lines[1]]))
    with pytest.raises(RawDataError, match=r"line 4, column 'UserID': UserID='U1' repeats line 2"):
        read_user_features(path)


@pytest.mark.parametrize("name", list(READERS))
def test_a_header_only_file_is_an_error(raw, name):
    path = raw / name
    path.write_text(lines_of(path)[0])
    with pytest.raises(RawDataError, match=rf"{name}: no data rows: the file holds only its"):
        READERS[name](path)


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("summary_feedback.csv", "Timestamp"),
        ("non_public_feedback_dataset.csv", "Gaze_LocY"),
        ("item_features.csv", "MovieID"),
        ("user_features.csv", "UserID"),
        ("aoi_data.csv", "AOI_type"),
    ],
)
def test_a_renamed_column_is_named_in_every_table(raw, name, column):
    path = raw / name
    lines = lines_of(path)
    path.write_text(lines[0].replace(column, column.lower() + "_x", 1) + "".join(lines[1:]))
    with pytest.raises(RawDataError, match=rf"{name}, line 1: missing column\(s\) '{column}'"):
        READERS[name](path)


def test_the_workflow_user_list_checks_user_features(raw):
    assert user_ids(raw / "user_features.csv") == ["U1", "U2"]
    path = raw / "user_features.csv"
    path.write_text(path.read_text().replace("UserID", "User_ID", 1))
    with pytest.raises(
        RawDataError,
        match=r"user_features.csv, line 1: missing column\(s\) 'UserID' \(found 'User_ID'",
    ):
        user_ids(path)


@pytest.mark.parametrize(
    ("name", "line", "column"),
    [
        ("item_features.csv", 12, "TMDB_title"),
        ("user_features.csv", 3, "Top_genre"),
        ("summary_feedback.csv", 4, "UserID"),
    ],
)
def test_latin1_text_is_named_as_an_encoding_problem(raw, name, line, column):
    path = raw / name
    edit_cell(path, line, column, "Am\u00e9lie")
    path.write_bytes(path.read_bytes().replace("Amélie".encode(), "Amélie".encode("latin-1")))
    with pytest.raises(
        RawDataError,
        match=rf"{name}, line {line}, column '{column}': not UTF-8 text: byte 0xe9 in "
        r"'.*Amélie.*' \(as Latin-1 reads it\); this is an encoding problem",
    ):
        READERS[name](path)


def test_a_repeated_header_name_or_a_folder_in_place_of_a_file_is_named(raw):
    path = raw / "user_features.csv"
    lines = lines_of(path)
    path.write_text(lines[0].rstrip("\n") + ",Top_genre\n" + "".join(lines[1:]))
    with pytest.raises(RawDataError, match=r"line 1, column 'Top_genre': appears more than once"):
        read_user_features(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(RawDataError, match=r"user_features.csv: not a regular file"):
        read_user_features(path)


@pytest.mark.parametrize("name", ["summary_feedback.csv", "non_public_feedback_dataset.csv"])
def test_an_exact_repeat_of_an_event_row_is_removed_and_counted(raw, name):
    path = raw / name
    clean, _ = READERS[name](path)
    lines = lines_of(path)
    path.write_text("".join([*lines[:3], lines[2], *lines[3:]]))  # line 3 again as line 4
    events, notes = READERS[name](path)
    assert notes == TableNotes(rows=len(lines), duplicate_rows_dropped=1, duplicate_lines=(4,))
    assert events.drop(columns="line").equals(clean.drop(columns="line"))


def test_event_rows_out_of_time_order_are_sorted_and_counted(raw):
    path = raw / "summary_feedback.csv"
    clean, _ = read_summary_feedback(path)
    lines = lines_of(path)
    path.write_text("".join([lines[0], *reversed(lines[1:])]))
    events, notes = read_summary_feedback(path)
    assert notes.rows_out_of_order == 4  # 2 of U2's 3 rows, then 2 of U1's 3 rows, reversed
    assert events["line"].tolist() == [4, 3, 2, 7, 6, 5]  # sessions keep their file order
    by_session = events.sort_values(["UserID", "Timestamp"]).drop(columns="line")
    assert by_session.reset_index(drop=True).equals(clean.drop(columns="line"))


def test_non_public_rows_out_of_time_order_are_refused(raw):
    path = raw / "non_public_feedback_dataset.csv"
    lines = lines_of(path)
    path.write_text("".join([lines[0], *reversed(lines[1:])]))
    with pytest.raises(
        RawDataError,
        match=r"non_public_feedback_dataset.csv, line 3, column 'Timestamp': time goes back "
        r"to 1 after 1.004 on an earlier line of the same UserID, TaskID \(4 row\(s\) out "
        r"of time order\); this file's row order carries meaning",
    ):
        read_non_public(path)


def test_undocumented_columns_are_listed(raw):
    path = raw / "summary_feedback.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.insert(3, "Mood", "calm")
    frame.to_csv(path, index=False)
    assert read_summary_feedback(path)[1].extra_columns == ("Mood",)
    users = raw / "user_features.csv"
    frame = pd.read_csv(users, dtype=str, keep_default_na=False)
    frame["Comedy_rating"] = "5 stars - Must Watch"  # documented families are not listed
    frame["TaskID_3_Why_Selected"] = "Other: the poster"
    frame["Shoe_size"] = "42"
    frame.to_csv(users, index=False)
    assert read_user_features(users)[1].extra_columns == ("Shoe_size",)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RawDataError, match=r"nowhere.csv: file not found"):
        read_user_features(tmp_path / "nowhere.csv")


def test_layout_table_equals_the_real_pilot_aois(recgaze_layout_dir, tmp_path):
    real = pd.read_csv(recgaze_layout_dir / "aoi_data.csv", dtype=str, keep_default_na=False)
    ours_path = tmp_path / "aoi_data.csv"
    aoi_table().to_csv(ours_path, index=False, na_rep="")
    ours = pd.read_csv(ours_path, dtype=str, keep_default_na=False)
    assert list(ours.columns) == list(real.columns)
    assert sorted(map(tuple, ours.to_numpy().tolist())) == sorted(
        map(tuple, real.to_numpy().tolist())
    )
    layout = load_layout(recgaze_layout_dir / "aoi_data.csv")
    assert layout.row_tops[0] == 176 and layout.col_x == (76, 427, 778, 1129, 1480)
    assert (layout.poster_w, layout.poster_h) == (342, 193)
