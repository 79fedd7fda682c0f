"""Stage 1: raw RecGaze logs to one validated event table with screen state per event.

For every fixation, click and cursor event this stage recovers what was on screen: the vertical
scroll offset (only the non-public file has it: fixation y on the page minus raw gaze y on the
screen), the horizontal page of each of the 10 carousels (replayed from Forward/Backward clicks),
and the page *visit* the event belongs to.

Decisions where the reference was inconsistent (its quirk list, items 8-10), one rule each:

* Page state wraps modulo 3 (the study's carousels are infinite: forward from page 3 shows page 1).
  The state of an event is the state *before* that row's own click is applied.
* One visit definition, keyed by session (UserID, TaskID, SubjectID): a new visit starts at a
  fixation whose screen signature (rows with at least ``min_visible_px`` on screen, and their
  pages) differs from the previous fixation's, or that lasts at least ``visit_min_fixation_ms``
  after the scroll moved more than ``visit_scroll_px`` since the previous fixation.
* A fixation without a scroll value of its own takes the nearest earlier one of its session (the
  scroll is piecewise constant), else the nearest later one; a session with none is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import N_COLS, N_PAGES, N_ROWS, Layout
from fixate.data.recgaze.raw import SESSION_KEY

PAGE_COLS = [f"page_r{r}" for r in range(1, N_ROWS + 1)]


@dataclass(frozen=True)
class VisitRules:
    """Thresholds of the visit segmentation (reference defaults)."""

    min_visible_px: float = 3.0
    visit_scroll_px: float = 17.0
    visit_min_fixation_ms: float = 150.0


def recover_scroll(non_public: pd.DataFrame) -> pd.DataFrame:
    """Scroll offset per fixation row of the non-public file.

    Each fixation row is followed within three rows by a raw gaze sample of the same user and task;
    ``Fixation_LocY - Gaze_LocY`` is the scroll. Returns the join key (UserID, TaskID,
    Timestamp text, occurrence of that time stamp) and ``scroll_y``.
    """
    users = non_public["UserID"].to_numpy()
    tasks = non_public["TaskID"].to_numpy(dtype=np.int64, na_value=-1)
    gaze = non_public["Gaze_LocY"].to_numpy()
    scroll_gaze = np.full(len(non_public), np.nan)
    for k in (3, 2, 1):  # nearest gaze row wins: apply the farthest first
        same = np.zeros(len(non_public), dtype=bool)
        same[:-k] = (users[:-k] == users[k:]) & (tasks[:-k] == tasks[k:])
        shifted = np.full(len(non_public), np.nan)
        shifted[:-k] = gaze[k:]
        take = same & ~np.isnan(shifted)
        scroll_gaze[take] = shifted[take]
    fix = non_public["Fixation_LocY"].notna().to_numpy()
    out = non_public.loc[fix, ["UserID", "TaskID", "Timestamp_text"]].copy()
    out["scroll_y"] = non_public["Fixation_LocY"].to_numpy()[fix] - scroll_gaze[fix]
    out["occurrence"] = out.groupby(["UserID", "TaskID", "Timestamp_text"]).cumcount()
    return out


def _page_states(frame: pd.DataFrame, session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Page state (0-2) of each carousel before each event, and a per-row swipe error flag."""
    n = len(frame)
    kind = frame["Click_AOI_type"].to_numpy(dtype=object)
    row = frame["Click_AOI_Carousel_position"].to_numpy(dtype=np.float64, na_value=np.nan)
    step = np.where(kind == "Forward", 1, np.where(kind == "Backward", -1, 0))
    swipe = step != 0
    bad = swipe & np.isnan(row)
    delta = np.zeros((n, N_ROWS), dtype=np.int64)
    ok = swipe & ~bad
    delta[np.flatnonzero(ok), row[ok].astype(np.int64) - 1] = step[ok]
    total = np.cumsum(delta, axis=0)
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    offsets = np.where(starts > 0, starts - 1, 0)
    base = np.where((starts > 0)[:, None], total[offsets], 0)
    lengths = np.diff(np.r_[starts, n])
    before_start = np.repeat(base, lengths, axis=0)
    state = np.mod(total - delta - before_start, N_PAGES)
    return state.astype(np.int8), bad


def _signature(visible: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """One integer per row for (set of visible rows, their page states)."""
    weights_rows = 1 << np.arange(N_ROWS, dtype=np.int64)
    weights_pages = N_PAGES ** np.arange(N_ROWS, dtype=np.int64)
    rows_code = (visible * weights_rows).sum(axis=1)
    pages_code = (np.where(visible, pages, 0) * weights_pages).sum(axis=1)
    return rows_code * N_PAGES**N_ROWS + pages_code


def _in_session_order(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows numbered by session (`SESSION_KEY`, in order of appearance) and sorted
    by session, time and line."""
    frame = summary.copy()
    frame["session"] = frame.groupby(list(SESSION_KEY), sort=False).ngroup()
    return frame.sort_values(["session", "Timestamp", "line"], kind="stable").reset_index(drop=True)


def _fixation_scroll(
    frame: pd.DataFrame, non_public: pd.DataFrame, is_fix: np.ndarray
) -> tuple[np.ndarray, int]:
    """The scroll offset of every row, and how many fixations have one of their own.

    A fixation's own scroll joins the non-public fixation rows on (user, task, time stamp text,
    occurrence); every row without one takes the nearest earlier value of its session, else the
    nearest later one (NaN in a session with none).
    """
    fix_keys = frame.loc[is_fix, ["UserID", "TaskID", "Timestamp_text"]].copy()
    fix_keys["occurrence"] = fix_keys.groupby(["UserID", "TaskID", "Timestamp_text"]).cumcount()
    scrolls = recover_scroll(non_public).drop_duplicates(
        ["UserID", "TaskID", "Timestamp_text", "occurrence"]
    )
    joined = fix_keys.merge(
        scrolls, how="left", on=["UserID", "TaskID", "Timestamp_text", "occurrence"]
    )
    scroll = np.full(len(frame), np.nan)
    scroll[is_fix] = joined["scroll_y"].to_numpy()
    with_own_scroll = int(np.isfinite(scroll[is_fix]).sum())
    session = frame["session"].to_numpy()
    scroll_series = pd.Series(scroll).groupby(session).ffill()
    return scroll_series.groupby(session).bfill().to_numpy(), with_own_scroll


@dataclass(frozen=True)
class _RowKinds:
    """Which summary rows are fixations, clicks and cursor events (a row may be none of them)."""

    fixation: np.ndarray
    click: np.ndarray
    cursor: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _RowKinds:
        return cls(
            fixation=frame["Fixation_AOI_type"].notna().to_numpy(),
            click=frame["Click_AOI_type"].notna().to_numpy(),
            cursor=frame["Cursor_Duration"].notna().to_numpy()
            & frame["Cursor_AOI_type"].notna().to_numpy(),
        )

    def names(self) -> np.ndarray:
        """The event kind of each row ("fixation", "click", "cursor"; "" for no event)."""
        return np.where(
            self.fixation,
            "fixation",
            np.where(self.click, "click", np.where(self.cursor, "cursor", "")),
        )


@dataclass(frozen=True)
class _MovieAois:
    """The movie each row is on: carousel row (1-10) and position in it (1-15), -1 for none,
    and which fixations and cursor events count through their closest movie AOI."""

    row: np.ndarray
    pos: np.ndarray
    fix_via_closest: np.ndarray
    cursor_via_closest: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, kinds: _RowKinds) -> _MovieAois:
        """Fixations and cursor events on a movie AOI take it; background fixations, and cursor
        events off a movie, take their closest movie AOI; clicks take their movie AOI."""
        fix_via_closest = (
            kinds.fixation
            & (
                (frame["Fixation_AOI_type"] == "Background")
                & (frame["Fixation_AOI_Closest_type"] == "Movie")
            ).to_numpy()
        )
        cursor_via_closest = (
            kinds.cursor
            & (
                (frame["Cursor_AOI_type"] != "Movie")
                & (frame["Cursor_AOI_Closest_type"] == "Movie")
            ).to_numpy()
        )
        aoi_row = np.full(len(frame), -1, dtype=np.int64)
        aoi_pos = np.full(len(frame), -1, dtype=np.int64)
        for mask, prefix in (
            (kinds.fixation & (frame["Fixation_AOI_type"] == "Movie").to_numpy(), "Fixation_AOI_"),
            (fix_via_closest, "Fixation_AOI_Closest_"),
            (kinds.click & (frame["Click_AOI_type"] == "Movie").to_numpy(), "Click_AOI_"),
            (kinds.cursor & (frame["Cursor_AOI_type"] == "Movie").to_numpy(), "Cursor_AOI_"),
            (cursor_via_closest, "Cursor_AOI_Closest_"),
        ):
            rows = frame[prefix + "Carousel_position"].to_numpy(dtype=np.float64, na_value=np.nan)
            poss = frame[prefix + "Movie_position_in_carousel"].to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            ok = mask & ~np.isnan(rows) & ~np.isnan(poss)
            aoi_row[ok] = rows[ok]
            aoi_pos[ok] = poss[ok]
        return cls(aoi_row, aoi_pos, fix_via_closest, cursor_via_closest)


def _visits(
    frame: pd.DataFrame,
    fix_idx: np.ndarray,
    signature: np.ndarray,
    scroll: np.ndarray,
    rules: VisitRules,
) -> np.ndarray:
    """The page visit (0, 1, ... within the session) of every row; -1 for rows that are not
    fixations with a known screen state (``fix_idx``: those that are, in order)."""
    f_sess = frame["session"].to_numpy()[fix_idx]
    f_sig = signature[fix_idx]
    f_scroll = scroll[fix_idx]
    f_dur = frame["Fixation_Duration"].to_numpy()[fix_idx]
    first = np.r_[True, f_sess[1:] != f_sess[:-1]]
    changed = np.r_[False, f_sig[1:] != f_sig[:-1]]
    moved = np.r_[False, np.abs(np.diff(f_scroll)) > rules.visit_scroll_px] & (
        f_dur >= rules.visit_min_fixation_ms
    )
    new_visit = first | changed | moved
    counter = np.cumsum(new_visit)
    visit_of_fix = counter - np.maximum.accumulate(np.where(first, counter, 0))
    visit = np.full(len(frame), -1, dtype=np.int64)
    visit[fix_idx] = visit_of_fix
    return visit


def build_events(
    summary: pd.DataFrame,
    non_public: pd.DataFrame,
    layout: Layout,
    rules: VisitRules | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Join scroll, page state and visits onto every event of the summary log.

    Returns the event table (one row per fixation, click or cursor event, sorted by session and
    time) and counters for the preprocessing report. Sessions that cannot be used are kept with a
    ``session_problem`` so that the next stage reports them.
    """
    rules = rules or VisitRules()
    frame = _in_session_order(summary)
    session = frame["session"].to_numpy()
    kinds = _RowKinds.of(frame)
    is_fix = kinds.fixation
    scroll, fix_with_own_scroll = _fixation_scroll(frame, non_public, is_fix)
    pages, bad_swipe = _page_states(frame, session)
    aoi = _MovieAois.of(frame, kinds)

    # what was on screen at each fixation
    has_scroll = np.isfinite(scroll)
    visible = np.zeros((len(frame), N_ROWS), dtype=bool)
    visible[has_scroll] = layout.visible_heights(scroll[has_scroll]) >= rules.min_visible_px
    signature = np.where(has_scroll, _signature(visible, pages), -1)
    idx = np.arange(len(frame))
    movie_fix = is_fix & (aoi.row > 0)
    row0 = np.clip(aoi.row - 1, 0, N_ROWS - 1)
    on_page = ((aoi.pos - 1) // N_COLS) == pages[idx, row0]
    on_screen = movie_fix & has_scroll & visible[idx, row0] & on_page

    duration_ms = np.where(
        is_fix,
        frame["Fixation_Duration"].to_numpy(),
        np.where(kinds.cursor, frame["Cursor_Duration"].to_numpy() * 1000.0, np.nan),
    )
    events = pd.DataFrame(
        {
            "user_id": frame["UserID"].to_numpy(),
            "task_id": frame["TaskID"].to_numpy(dtype=np.int64),
            "subject_id": frame["SubjectID"].to_numpy(),
            "session": session,
            "line": frame["line"].to_numpy(),
            "t": frame["Timestamp"].to_numpy(),
            "kind": kinds.names(),
            "click_type": frame["Click_AOI_type"].to_numpy(dtype=object),
            "click_movie_id": frame["Click_AOI_MovieID"].astype("Int64"),
            "duration_ms": duration_ms,
            "aoi_row": aoi.row,
            "aoi_pos": aoi.pos,
            "via_closest": aoi.fix_via_closest | aoi.cursor_via_closest,
            "on_screen": on_screen,
            "scroll_y": scroll,
            "visit": _visits(frame, np.flatnonzero(is_fix & has_scroll), signature, scroll, rules),
            "bad_swipe": bad_swipe,
        }
    )
    for r, col in enumerate(PAGE_COLS):
        events[col] = pages[:, r]
    events = events[events["kind"] != ""].reset_index(drop=True)
    counts = {
        "summary_rows": len(frame),
        "fixations": int(is_fix.sum()),
        "fixations_with_own_scroll": fix_with_own_scroll,
        "fixations_scroll_filled": int(is_fix.sum())
        - fix_with_own_scroll
        - int((is_fix & ~has_scroll).sum()),
        "fixations_without_scroll": int((is_fix & ~has_scroll).sum()),
        "movie_fixations": int(movie_fix.sum()),
        "movie_fixations_via_closest": int(aoi.fix_via_closest.sum()),
        "movie_fixations_off_screen": int((movie_fix & has_scroll & ~on_screen).sum()),
        "clicks": int(kinds.click.sum()),
        "cursor_events": int(kinds.cursor.sum()),
        "rows_without_event": int((~is_fix & ~kinds.click & ~kinds.cursor).sum()),
    }
    return events, counts
