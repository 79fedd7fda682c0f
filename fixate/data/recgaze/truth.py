"""The planted gaze truth of synthetic users, read and aligned with each screen's candidate slots.

Only synthetic RecGaze folders have ``truth/gaze_truth.csv`` (written by
:mod:`fixate.data.synthetic.recgaze.truth`: expected fixation ms per poster of each decision
visit); released data has none, and its samples carry no truth.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fixate.data.errors import RawDataError
from fixate.data.recgaze.layout import N_COLS, N_PAGES, N_ROWS
from fixate.data.tables import Column, read_csv_table

TRUTH_SCHEMA = [
    Column("UserID", "key"),
    Column("TaskID", "int", lo=1, nonempty=True),
    Column("Carousel_position", "int", lo=1, hi=N_ROWS, nonempty=True),
    Column("Movie_position_in_carousel", "int", lo=1, hi=N_COLS * N_PAGES, nonempty=True),
    Column("expected_fixation_ms", "float", lo=0, nonempty=True),
]
_KEY = ["UserID", "TaskID", "Carousel_position", "Movie_position_in_carousel"]


def read_truth(path: str | Path) -> pd.Series:
    """Expected fixation ms indexed by (user, task, carousel row, position in the carousel)."""
    table = read_csv_table(path, TRUTH_SCHEMA)
    dup = table.duplicated(_KEY)
    if dup.any():
        raise RawDataError(
            path, int(table[dup].iloc[0]["line"]), "Movie_position_in_carousel", "key repeats"
        )
    return table.set_index(_KEY)["expected_fixation_ms"].astype(float)


def screen_truth(screens: pd.DataFrame, truth: pd.Series) -> list[list[float]]:
    """Expected fixation ms on each candidate slot of each screen (0 where none was planted).

    Slots are the posters of the fully visible rows, row by row, on the page each carousel shows
    (the candidates of :func:`fixate.data.recgaze.screens.build_screens`)."""
    out = []
    for user, task, rows, pages in screens[
        ["user_id", "task_id", "full_rows", "page_state"]
    ].itertuples(index=False):
        keys = [
            (user, int(task), int(r), int(pages[int(r) - 1]) * N_COLS + c + 1)
            for r in rows
            for c in range(N_COLS)
        ]
        out.append(truth.reindex(pd.MultiIndex.from_tuples(keys)).fillna(0.0).tolist())
    return out
