"""Readers for the raw RecGaze files, with the column layout of the released dataset.

Each reader checks the header, the types and the value domains, and raises
:class:`~fixate.data.errors.RawDataError` naming the file, the line and the column of the first
problem. Missing values must be empty fields: the literal strings ``NA``, ``NaN`` or ``null`` are
refused, because the released files never use them and a tool that writes them has changed the
meaning of a column (a non-empty ``Click_AOI_type`` marks a click).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fixate.data.errors import RawDataError
from fixate.data.tables import Column, read_csv_table

AOI_SUFFIXES = (
    "type",
    "MovieID",
    "Movie_position_in_carousel",
    "Carousel_position",
    "Carousel_genre",
    "Carousel_genre_is_top_genre",
    "Carousel_genre_is_preferred_genre",
    "Carousel_genre_rating",
)
AOI_TYPES = ("Movie", "Genre", "Forward", "Backward", "Background")
GROUPS = ("Fixation_AOI_", "Fixation_AOI_Closest_", "Click_AOI_", "Cursor_AOI_")


def aoi_columns(prefix: str) -> list[str]:
    """The eight AOI columns of one event group, e.g. ``Click_AOI_type`` ... ``_rating``."""
    return [prefix + suffix for suffix in AOI_SUFFIXES]


SUMMARY_COLUMNS = [
    "UserID",
    "SubjectID",
    "TaskID",
    "StimulusID",
    "Timestamp",
    "Fixation_Duration",
    *aoi_columns("Fixation_AOI_"),
    *aoi_columns("Fixation_AOI_Closest_"),
    *aoi_columns("Click_AOI_"),
    "Cursor_Duration",
    *aoi_columns("Cursor_AOI_"),
]
NON_PUBLIC_COLUMNS = [
    "UserID",
    "SubjectID",
    "TaskID",
    "StimulusID",
    "Timestamp",
    "Fixation_Duration",
    "Fixation_LocX",
    "Fixation_LocY",
    "Gaze_LocX",
    "Gaze_LocY",
]
ITEM_FEATURES_COLUMNS = [
    "TMDB_id",
    "TMDB_title",
    "TMDB_original_language",
    "TMDB_genres",
    "TMDB_release_date",
    "TMDB_cast",
    "TMDB_overview",
    "TMDB_popularity",
    "TMDB_rating_avg",
    "TMDB_rating_count",
    "TMDB_poster_path",
    "TMDB_extraction_date",
    "IMDB_id",
    "IMDB_rating_avg",
    "IMDB_numVotes",
    "IMDB_extraction__date",
    "TaskID",
    "Carousel_position",
    "Carousel_genre",
    "MovieID",
    "Movie_position_in_carousel",
]
AOI_DATA_COLUMNS = [
    "task_id",
    "Hardware_Setup",
    "AOI_type",
    "Row_num",
    "Row_genre",
    "Row_position",
    "Page",
    "AOI_min_x",
    "AOI_max_x",
    "AOI_min_y",
    "AOI_max_y",
]

_TASK = Column("TaskID", "int", lo=1, hi=40, nonempty=True)
_ROW = dict(lo=1, hi=10)
_POS = dict(lo=1, hi=15)


def _aoi_group(prefix: str, required: bool) -> list[Column]:
    return [
        Column(prefix + "type", "str", required=required, choices=AOI_TYPES),
        Column(prefix + "Carousel_position", "int", required=required, **_ROW),
        Column(prefix + "Movie_position_in_carousel", "int", required=required, **_POS),
    ]


SUMMARY_SCHEMA = [
    Column("UserID", "key"),
    Column("SubjectID", "key"),
    _TASK,
    Column("Timestamp", "float", keep_text=True, nonempty=True),
    Column("Fixation_Duration", "float", lo=0),
    *_aoi_group("Fixation_AOI_", required=True),
    *_aoi_group("Fixation_AOI_Closest_", required=False),
    *_aoi_group("Click_AOI_", required=True),
    Column("Click_AOI_MovieID", "int"),
    Column("Cursor_Duration", "float", lo=0),
    *_aoi_group("Cursor_AOI_", required=True),
    *_aoi_group("Cursor_AOI_Closest_", required=False),
]
NON_PUBLIC_SCHEMA = [
    Column("UserID", "key"),
    _TASK,
    Column("Timestamp", "float", keep_text=True, nonempty=True),
    Column("Fixation_LocY", "float"),
    Column("Gaze_LocY", "float"),
]
ITEM_SCHEMA = [
    _TASK,
    Column("Carousel_position", "int", **_ROW),
    Column("Movie_position_in_carousel", "int", **_POS),
    Column("MovieID", "int"),
    Column("Carousel_genre", "str"),
    Column("TMDB_title", "text"),
    Column("TMDB_genres", "text"),
    Column("TMDB_poster_path", "text"),
]
USER_SCHEMA = [
    Column("UserID", "key"),
    Column("Top_genre", "text"),
    Column("Preferred_genres", "text"),
]
AOI_SCHEMA = [
    Column("AOI_type", "str"),
    Column("Row_num", "int"),
    Column("Row_position", "int"),
    Column("Page", "int"),
    Column("AOI_min_x", "float"),
    Column("AOI_max_x", "float"),
    Column("AOI_min_y", "float"),
    Column("AOI_max_y", "float"),
]


def read_summary_feedback(path: str | Path) -> pd.DataFrame:
    """The event log: fixations (ms), clicks and cursor dwells (s), one row per event."""
    events = read_csv_table(path, SUMMARY_SCHEMA)
    for group, duration in (
        ("Fixation_AOI_", "Fixation_Duration"),
        ("Cursor_AOI_", "Cursor_Duration"),
    ):
        lost = events[group + "type"].notna() & events[duration].isna()
        if lost.any():
            line = int(events.loc[lost, "line"].iloc[0])
            raise RawDataError(
                path, line, duration, f"an event with {group}type set has no duration"
            )
    return events


def read_non_public(path: str | Path) -> pd.DataFrame:
    """Fixation rows (stimulus y) interleaved with raw gaze rows (screen y)."""
    return read_csv_table(path, NON_PUBLIC_SCHEMA)


def read_item_features(path: str | Path) -> pd.DataFrame:
    """The 150 movies of every task, with their carousel and position; keys checked unique."""
    items = read_csv_table(path, ITEM_SCHEMA)
    key = ["TaskID", "Carousel_position", "Movie_position_in_carousel"]
    dup = items.duplicated(key, keep="first")
    if dup.any():
        row = items[dup].iloc[0]
        raise RawDataError(
            path,
            int(row["line"]),
            "Movie_position_in_carousel",
            "the (TaskID, Carousel_position, Movie_position_in_carousel) key appears twice",
        )
    return items


def read_user_features(path: str | Path) -> pd.DataFrame:
    """One row per participant; only the profile columns are read."""
    users = read_csv_table(path, USER_SCHEMA)
    dup = users.duplicated("UserID")
    if dup.any():
        row = users[dup].iloc[0]
        raise RawDataError(path, int(row["line"]), "UserID", f"user {row['UserID']!r} repeats")
    return users


def read_aoi_data(path: str | Path) -> pd.DataFrame:
    """The pilot AOI boxes (stimulus pixels)."""
    return read_csv_table(path, AOI_SCHEMA)
