"""Readers for the raw RecGaze files, with the column layout of the released dataset.

Each reader checks the header, the types and the value domains, and raises
:class:`~fixate.data.errors.RawDataError` naming the file, the line and the column of the first
problem. Missing values must be empty fields: the literal strings ``NA``, ``NaN`` or ``null`` are
refused, because the released files never use them and a tool that writes them has changed the
meaning of a column (a non-empty ``Click_AOI_type`` marks a click).

Each reader also checks its file as a table (:class:`~fixate.data.tables.RowRules`) and returns,
with the table, the :class:`~fixate.data.tables.TableNotes` of what it removed, reordered or set
aside, which go into the preprocessing report. The choice per file:

* ``summary_feedback.csv`` and ``non_public_feedback_dataset.csv`` are event logs: a row that
  repeats an earlier row in every column is the same event exported twice and is removed and
  counted (kept, a repeated fixation would count its dwell twice). Rows sharing a time stamp but
  differing are distinct events (the release merges event kinds on equal time stamps).
* The event log's rows out of time order within their session are put in time order (stable, so
  ties keep file order) and counted. The non-public file's out-of-order rows are refused: its
  order pairs each fixation with the raw gaze rows that follow it, and re-sorting would pair them
  with others.
* ``item_features.csv``, ``user_features.csv`` and ``aoi_data.csv`` are lookup tables: a repeated
  key (an exact copy of a row included) is an error naming both lines, since either row could be
  the right one.
* Every file must hold at least one data row, and columns the release does not document are
  listed in the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fixate.data.errors import RawDataError
from fixate.data.tables import Column, RowRules, TableNotes, read_raw_table

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
    Column("task_id", "text", required=False),
    Column("AOI_type", "str"),
    Column("Row_num", "int"),
    Column("Row_position", "int"),
    Column("Page", "int"),
    Column("AOI_min_x", "float"),
    Column("AOI_max_x", "float"),
    Column("AOI_min_y", "float"),
    Column("AOI_max_y", "float"),
]


SESSION_KEY = ("UserID", "TaskID", "SubjectID")  # one screen of one participant
SUMMARY_RULES = RowRules(
    drop_duplicates=True,
    time="Timestamp",
    within=SESSION_KEY,
    order="sort",
    known=(*SUMMARY_COLUMNS, "Click_Duration", *aoi_columns("Cursor_AOI_Closest_")),
)
NON_PUBLIC_RULES = RowRules(
    drop_duplicates=True,
    time="Timestamp",
    within=("UserID", "TaskID"),  # the pairing of fixation and gaze rows is by user and task
    order="refuse",
    known=(*NON_PUBLIC_COLUMNS, *SUMMARY_COLUMNS),
)
ITEM_RULES = RowRules(
    keys=(("TaskID", "Carousel_position", "Movie_position_in_carousel"), ("TaskID", "MovieID")),
    known=tuple(ITEM_FEATURES_COLUMNS),
)
# user_features.csv is a wide survey table; its documented columns, by name and by family
USER_RULES = RowRules(
    keys=(("UserID",),),
    known=(
        "Pre_survey_timestamp",
        "SubjectIDs",
        "Age",
        "Gender",
        "Location",
        "First_task",
        "Netflix_user",
        "Netflix_usage",
        "Movie_watching_frequency",
        "Post_survey_timestamp",
        "FreeBrowsing_experience_rating",
        "Tiredness_level",
        "Distance_eyes_center_screen",
        "Speed_reminder",
    ),
    known_pattern=r"[A-Za-z-]+_rating|Topic_.+|MAX_Q\d+"
    r"|TaskID_\d+_(Why_Selected|Movie_Familiarity)",
)
AOI_RULES = RowRules(
    keys=(("task_id", "AOI_type", "Row_num", "Row_position", "Page"),),
    known=tuple(AOI_DATA_COLUMNS),
)


def read_summary_feedback(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """The event log: fixations (ms), clicks and cursor dwells (s), one row per event, in time
    order within each session."""
    events, notes = read_raw_table(path, SUMMARY_SCHEMA, SUMMARY_RULES)
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
    return events, notes


def read_non_public(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """Fixation rows (stimulus y) interleaved with raw gaze rows (screen y), in file order."""
    return read_raw_table(path, NON_PUBLIC_SCHEMA, NON_PUBLIC_RULES)


def read_item_features(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """The 150 movies of every task, with their carousel and position; a position or a movie id
    that repeats within a task is an error."""
    return read_raw_table(path, ITEM_SCHEMA, ITEM_RULES)


def read_user_features(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """One row per participant; only the profile columns are read."""
    return read_raw_table(path, USER_SCHEMA, USER_RULES)


def user_ids(path: str | Path) -> list[str]:
    """The participants of ``user_features.csv``, sorted (the per-user fan-out of the workflow,
    read with every check of :func:`read_user_features` while the job graph is built)."""
    return sorted(read_user_features(path)[0]["UserID"])


def read_aoi_data(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """The pilot AOI boxes (stimulus pixels)."""
    return read_raw_table(path, AOI_SCHEMA, AOI_RULES)
