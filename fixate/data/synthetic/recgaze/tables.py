"""The released-format tables of synthetic RecGaze: ``summary_feedback.csv`` and
``non_public_feedback_dataset.csv`` from the simulated session logs.

The summary file denormalises the item and user tables into every AOI column group, the way the
released log does; the non-public file follows each fixation (stimulus coordinates) with one or
two raw gaze samples (screen coordinates), from which the preprocessing recovers the scroll.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import GENRES
from fixate.data.recgaze.raw import AOI_TYPES, NON_PUBLIC_COLUMNS, SUMMARY_COLUMNS, aoi_columns
from fixate.data.synthetic.recgaze.design import PlannedSession
from fixate.data.synthetic.recgaze.screen import BACKGROUND, MOVIE
from fixate.data.synthetic.recgaze.session import FIX_INDEX, SessionLog
from fixate.data.synthetic.recgaze.users import User


def table_context(
    orders: np.ndarray, movie_ids: np.ndarray, users: Sequence[User]
) -> dict[str, np.ndarray]:
    """What the AOI columns denormalise: the genre orders, the MovieID grid and, per user in
    ``users`` order, the top genre, the preferred genres and the ratings."""
    return {
        "orders": orders,
        "movie_ids": movie_ids,
        "top": np.array([u.top for u in users]),
        "preferred": np.array([u.preferred for u in users]),
        "ratings": np.array([u.ratings for u in users]),
    }


def _ms_text(ms: np.ndarray) -> np.ndarray:
    """Integer milliseconds as "%.3f" seconds text (exact, so files can be joined on it)."""
    sec, milli = np.divmod(np.asarray(ms, dtype=np.int64), 1000)
    return np.array(
        [f"{a}.{b:03d}" for a, b in zip(sec.tolist(), milli.tolist(), strict=True)], dtype=object
    )


def _ints(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Whole numbers as text, with empty cells where ``present`` is false."""
    return np.where(present, np.asarray(values, dtype=np.int64).astype(str), "")


def _text_frame(columns: dict[str, np.ndarray], order: list[str]) -> pd.DataFrame:
    """A frame of plain text cells in ``order`` (object columns write fastest)."""
    return pd.DataFrame({name: pd.Series(columns[name], dtype=object) for name in order})


def _aoi_group(
    prefix: str,
    aoi: np.ndarray,
    task: np.ndarray,
    user: np.ndarray,
    ctx: dict[str, np.ndarray],
    present: np.ndarray,
) -> dict[str, np.ndarray]:
    """The eight ``<prefix>*`` columns from (type, row, position) codes, denormalising the item
    and user tables the way the released log does."""
    a_type, a_row, a_pos = aoi[:, 0], aoi[:, 1], aoi[:, 2]
    movie = present & (a_type == MOVIE)
    carousel = present & (a_type < BACKGROUND)
    row0 = np.maximum(a_row - 1, 0)
    genre = ctx["orders"][task - 1, row0]
    movie_id = ctx["movie_ids"][task - 1, row0, np.maximum(a_pos - 1, 0)]
    is_top = ctx["top"][user] == genre
    is_pref = ctx["preferred"][user, genre]
    names = np.array([*AOI_TYPES, ""], dtype=object)
    cols = aoi_columns(prefix)
    return {
        cols[0]: names[np.where(present, a_type, len(AOI_TYPES))],
        cols[1]: _ints(movie_id, movie),
        cols[2]: _ints(a_pos, movie),
        cols[3]: _ints(a_row, carousel),
        cols[4]: np.where(carousel, np.array(GENRES, dtype=object)[genre], ""),
        cols[5]: np.where(carousel, np.where(is_top, "Top_Genre", "Not_Top_Genre"), ""),
        cols[6]: np.where(
            carousel, np.where(is_pref, "Preferred_Genre", "Not_Preferred_Genre"), ""
        ),
        cols[7]: _ints(ctx["ratings"][user, genre], carousel),
    }


def _session_keys(plan: list[PlannedSession], sess: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "UserID": np.array([p.user_id for p in plan], dtype=object)[sess],
        "SubjectID": np.array([p.subject_id for p in plan])[sess],
        "TaskID": np.array([p.task_id for p in plan])[sess],
        "StimulusID": np.array(
            [f"{p.user_id}_task{p.task_id:02d}.mp4" for p in plan], dtype=object
        )[sess],
    }


def summary_frame(
    plan: list[PlannedSession],
    logs: list[SessionLog],
    ctx: dict[str, np.ndarray],
    user_ids: list[str],
) -> pd.DataFrame:
    """All events in ``SUMMARY_COLUMNS`` order: sessions contiguous, rows chronological."""
    fix = np.concatenate([log.fix for log in logs])
    cur = np.concatenate([log.cursor for log in logs])
    clk = np.concatenate([log.clicks for log in logs])
    sess = np.concatenate(
        [
            np.repeat(np.arange(len(logs)), [len(log.fix) for log in logs]),
            np.repeat(np.arange(len(logs)), [len(log.clicks) for log in logs]),
            np.repeat(np.arange(len(logs)), [len(log.cursor) for log in logs]),
        ]
    )
    kind = np.repeat([0, 1, 2], [len(fix), len(clk), len(cur)])
    t = np.concatenate([fix[:, FIX_INDEX["t"]], clk[:, 0], cur[:, 0]])
    dur = np.concatenate([fix[:, FIX_INDEX["dur"]], np.zeros(len(clk), np.int64), cur[:, 1]])
    aoi = np.concatenate(
        [fix[:, FIX_INDEX["s_type"] : FIX_INDEX["s_pos"] + 1], clk[:, 1:], cur[:, 2:]]
    )
    closest = np.concatenate(
        [
            fix[:, FIX_INDEX["c_type"] : FIX_INDEX["c_pos"] + 1],
            np.zeros((len(clk) + len(cur), 3), np.int64),
        ]
    )
    order = np.lexsort((kind, t, sess))
    sess, kind, t, dur, aoi, closest = (a[order] for a in (sess, kind, t, dur, aoi, closest))

    user_index = {uid: i for i, uid in enumerate(user_ids)}
    user = np.array([user_index[p.user_id] for p in plan])[sess]
    columns: dict[str, np.ndarray] = {**_session_keys(plan, sess), "Timestamp": _ms_text(t)}
    task = columns["TaskID"]
    is_fix, is_click, is_cur = kind == 0, kind == 1, kind == 2
    columns["Fixation_Duration"] = _ints(dur, is_fix)
    columns.update(_aoi_group("Fixation_AOI_", aoi, task, user, ctx, is_fix))
    columns.update(_aoi_group("Fixation_AOI_Closest_", closest, task, user, ctx, is_fix))
    columns.update(_aoi_group("Click_AOI_", aoi, task, user, ctx, is_click))
    columns["Cursor_Duration"] = np.where(is_cur, _ms_text(dur), "")
    columns.update(_aoi_group("Cursor_AOI_", aoi, task, user, ctx, is_cur))
    return _text_frame(columns, SUMMARY_COLUMNS)


def non_public_frame(plan: list[PlannedSession], logs: list[SessionLog]) -> pd.DataFrame:
    """Each fixation (stimulus coordinates, empty when unmapped) followed by one or two raw gaze
    samples (screen coordinates), so that Fixation_LocY - Gaze_LocY recovers the scroll offset."""
    fix = np.concatenate([log.fix for log in logs])
    sess = np.repeat(np.arange(len(logs)), [len(log.fix) for log in logs])
    n_rows = 1 + fix[:, FIX_INDEX["n_gaze"]]
    src = np.repeat(np.arange(len(fix)), n_rows)
    sub = np.arange(len(src)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    f = fix[src]
    is_fix, second = sub == 0, sub == 2
    located = is_fix & (f[:, FIX_INDEX["unmapped"]] == 0)  # an unmapped fixation has no location
    t = f[:, FIX_INDEX["t"]] + np.where(is_fix, 0, f[:, FIX_INDEX["g1"]] + np.where(second, 17, 0))
    gx = (
        f[:, FIX_INDEX["x"]]
        - f[:, FIX_INDEX["shift"]]
        + np.where(second, f[:, FIX_INDEX["gx2"]], f[:, FIX_INDEX["gx1"]])
    )
    gy = (
        f[:, FIX_INDEX["y"]]
        - f[:, FIX_INDEX["scroll"]]
        + np.where(second, f[:, FIX_INDEX["gy2"]], f[:, FIX_INDEX["gy1"]])
    )
    columns = {
        **_session_keys(plan, sess[src]),
        "Timestamp": _ms_text(t),
        "Fixation_Duration": _ints(f[:, FIX_INDEX["dur"]], is_fix),
        "Fixation_LocX": _ints(f[:, FIX_INDEX["x"]], located),
        "Fixation_LocY": _ints(f[:, FIX_INDEX["y"]], located),
        "Gaze_LocX": _ints(gx, ~is_fix),
        "Gaze_LocY": _ints(gy, ~is_fix),
    }
    return _text_frame(columns, NON_PUBLIC_COLUMNS)
