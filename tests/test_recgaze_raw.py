"""Bad raw input gives an error that names the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recgaze_raw import Session, write_raw

from fixate.data.errors import RawDataError
from fixate.data.recgaze.layout import aoi_table, load_layout
from fixate.data.recgaze.raw import (
    read_item_features,
    read_non_public,
    read_summary_feedback,
    read_user_features,
)


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


def test_well_formed_files_read_with_types(raw):
    events = read_summary_feedback(raw / "summary_feedback.csv")
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


def test_duplicate_item_and_user_keys(raw):
    items = raw / "item_features.csv"
    edit_cell(items, 3, "Movie_position_in_carousel", "1")
    with pytest.raises(RawDataError, match=r"item_features.csv, line 3, .*appears twice"):
        read_item_features(items)
    users = raw / "user_features.csv"
    edit_cell(users, 3, "UserID", "U1")
    with pytest.raises(
        RawDataError, match=r"user_features.csv, line 3, column 'UserID': user 'U1'"
    ):
        read_user_features(users)


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
