"""Stage 2: the decision screen of every session, its label, dwell vectors and split.

A sample is the screen the user was looking at when they chose a movie: the page visit of the last
fixation before the selection click (the session's last Movie click). Its candidate slots are the
posters of the rows that are fully on screen in that visit (at most 3 rows, letters A-O, row-major),
the one geometry of :class:`~fixate.data.recgaze.layout.Layout` placing them.

* Gaze dwell: the durations of the visit's movie fixations (background fixations through their
  closest movie AOI) on candidate posters.
* Cursor dwell: cursor events from the visit's first fixation to the click, on candidate posters,
  in ms.
* A click on a partly visible row, or on a movie that is not on screen, drops the session with
  that reason; every session is accounted for in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fixate.data.recgaze.events import PAGE_COLS
from fixate.data.recgaze.layout import N_COLS, N_ROWS, SLOT_LETTERS, Layout
from fixate.data.recgaze.split import TaskSplit

# Checked in this order; a session is reported under the first reason that applies.
DROP_REASONS = (
    "unknown_user",
    "task_not_in_split",
    "no_selection_click",
    "swipe_without_carousel",
    "no_fixations",
    "no_scroll_data",
    "no_fixation_before_click",
    "click_without_target",
    "unknown_movie",
    "click_movie_mismatch",
    "click_not_on_screen",
    "click_on_partial_row",
    "no_dwell_on_candidates",
)
MAX_SLOTS = len(SLOT_LETTERS)


def profile_text(users: pd.DataFrame) -> pd.Series:
    """The persona text of each user, indexed by UserID (the reference's format)."""
    text = "Top_genre: " + users["Top_genre"] + ", Preferred_genres: " + users["Preferred_genres"]
    return pd.Series(text.to_numpy(), index=users["UserID"].to_numpy())


class _Decision:
    """Screen state of each session at its decision, and the mapping of (row, pos) to a slot."""

    def __init__(self, scroll: np.ndarray, pages: np.ndarray, layout: Layout):
        self.scroll = scroll
        self.pages = pages
        self.visible = layout.visible_heights(scroll) > 0
        self.full = layout.full_rows(scroll)
        self.rank = np.cumsum(self.full, axis=1) - 1
        self.n_candidates = self.full.sum(axis=1) * N_COLS

    def slot(self, which: np.ndarray, row: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Slot index of movie ``pos`` (1-15) in carousel ``row`` (1-10) for sessions ``which``;
        -1 when not a candidate."""
        r0 = np.clip(row - 1, 0, N_ROWS - 1)
        ok = (row > 0) & self.full[which, r0] & (((pos - 1) // N_COLS) == self.pages[which, r0])
        return np.where(ok, self.rank[which, r0] * N_COLS + (pos - 1) % N_COLS, -1)


class _DropReasons:
    """The first reason each session is dropped for (NA while it is kept), in the order the
    checks run (`DROP_REASONS`)."""

    def __init__(self, sessions: np.ndarray):
        self.reason = pd.Series(pd.NA, index=sessions, dtype="object")

    def drop(self, mask: np.ndarray | pd.Series, why: str) -> None:
        """Drop the sessions of ``mask`` not dropped yet, for ``why``."""
        mask = np.asarray(mask, dtype=bool)
        self.reason[mask & self.reason.isna().to_numpy()] = why

    @property
    def kept(self) -> np.ndarray:
        return self.reason.isna().to_numpy()


def _decision_events(
    events: pd.DataFrame, sessions: pd.DataFrame, reasons: _DropReasons
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each session's selection click (its last Movie click) and decision fixation (the last
    fixation with a screen state at or before it), indexed by session, and the fixations with a
    screen state; drops the sessions that lack either."""
    sid = sessions.index.to_numpy()
    clicks = events[(events["kind"] == "click") & (events["click_type"] == "Movie")]
    click = clicks.groupby("session").tail(1).set_index("session").reindex(sid)
    reasons.drop(click["t"].isna().to_numpy(), "no_selection_click")
    reasons.drop(sessions["bad_swipe"].to_numpy(), "swipe_without_carousel")

    fixations = events[events["kind"] == "fixation"]
    has_fix = np.isin(sid, fixations["session"].unique())
    reasons.drop(~has_fix, "no_fixations")
    has_scroll = np.isin(sid, fixations.loc[fixations["visit"] >= 0, "session"].unique())
    reasons.drop(~has_scroll, "no_scroll_data")

    fx = fixations[fixations["visit"] >= 0]
    before = fx[fx["t"].to_numpy() <= click["t"].reindex(fx["session"]).to_numpy()]
    decision = before.groupby("session").tail(1).set_index("session").reindex(sid)
    reasons.drop(decision["visit"].isna().to_numpy(), "no_fixation_before_click")
    return click, fx, decision


def _clicked_movie(
    click: pd.DataFrame, task: np.ndarray, items: pd.DataFrame, reasons: _DropReasons
) -> tuple[np.ndarray, np.ndarray]:
    """Carousel row and position of each session's clicked movie (-1 when unknown): by the
    click's position, else by its movie id, cross-checked against item_features; drops the
    sessions whose click cannot be resolved or disagrees."""
    item_key = items.set_index(["TaskID", "Carousel_position", "Movie_position_in_carousel"])[
        "MovieID"
    ]
    item_pos = items.set_index(["TaskID", "MovieID"])[
        ["Carousel_position", "Movie_position_in_carousel"]
    ]
    c_row = click["aoi_row"].fillna(-1).to_numpy(dtype=np.int64)
    c_pos = click["aoi_pos"].fillna(-1).to_numpy(dtype=np.int64)
    c_movie = click["click_movie_id"].astype("Int64")
    by_id = item_pos.reindex(
        pd.MultiIndex.from_arrays([task, c_movie.fillna(-1).to_numpy(dtype=np.int64)])
    )
    need_id = (c_row < 0) & c_movie.notna().to_numpy()
    c_row = np.where(need_id, by_id["Carousel_position"].fillna(-1).to_numpy(dtype=np.int64), c_row)
    c_pos = np.where(
        need_id, by_id["Movie_position_in_carousel"].fillna(-1).to_numpy(dtype=np.int64), c_pos
    )
    reasons.drop((c_row < 0) & c_movie.isna().to_numpy(), "click_without_target")
    reasons.drop(c_row < 0, "unknown_movie")
    expected = item_key.reindex(pd.MultiIndex.from_arrays([task, c_row, c_pos])).to_numpy()
    reasons.drop(np.isnan(expected.astype(float)), "unknown_movie")
    known_id = c_movie.notna().to_numpy()
    id_ok = ~known_id | (c_movie.fillna(-1).to_numpy(dtype=np.float64) == expected.astype(float))
    reasons.drop(~id_ok & by_id["Carousel_position"].isna().to_numpy(), "unknown_movie")
    reasons.drop(~id_ok, "click_movie_mismatch")
    return c_row, c_pos


@dataclass(frozen=True)
class _Dwell:
    """Gaze and cursor dwell (ms) of every session on each candidate slot in its decision visit,
    and the visit's movie fixations (``fixations``) with their session's row (``session_row``)
    and whether each fell on a candidate (``on_candidate``)."""

    gaze: np.ndarray  # (sessions, MAX_SLOTS)
    cursor: np.ndarray  # (sessions, MAX_SLOTS)
    fixations: pd.DataFrame
    session_row: np.ndarray
    on_candidate: np.ndarray

    @classmethod
    def of(
        cls,
        events: pd.DataFrame,
        fx: pd.DataFrame,
        decision: pd.DataFrame,
        click_t: pd.Series,
        state: _Decision,
    ) -> _Dwell:
        """Fixations of the decision visit (``fx``: those with a screen state); cursor events
        from the visit's first fixation to the click (``click_t``)."""
        sid = decision.index.to_numpy()
        pos_of = pd.Series(np.arange(len(sid)), index=sid)
        gaze = np.zeros((len(sid), MAX_SLOTS))
        visit = decision["visit"].reindex(fx["session"]).to_numpy()
        in_visit = fx[fx["visit"].to_numpy() == visit]
        in_visit = in_visit[in_visit["aoi_row"].to_numpy() > 0]
        which = pos_of.reindex(in_visit["session"]).to_numpy()
        slot = state.slot(which, in_visit["aoi_row"].to_numpy(), in_visit["aoi_pos"].to_numpy())
        hit = slot >= 0
        np.add.at(gaze, (which[hit], slot[hit]), in_visit["duration_ms"].to_numpy()[hit])
        visit_start = in_visit.groupby("session")["t"].min().reindex(sid).to_numpy()

        cursor = events[(events["kind"] == "cursor") & (events["aoi_row"] > 0)]
        cw = pos_of.reindex(cursor["session"]).to_numpy()
        ct = cursor["t"].to_numpy()
        in_window = (ct >= visit_start[cw]) & (ct <= click_t.to_numpy()[cw])
        cslot = state.slot(cw, cursor["aoi_row"].to_numpy(), cursor["aoi_pos"].to_numpy())
        chit = in_window & (cslot >= 0)
        cursor_ms = np.zeros((len(sid), MAX_SLOTS))
        np.add.at(cursor_ms, (cw[chit], cslot[chit]), cursor["duration_ms"].to_numpy()[chit])
        return cls(gaze, cursor_ms, in_visit, which, hit)


def build_screens(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    layout: Layout,
    split: TaskSplit,
) -> tuple[pd.DataFrame, dict]:
    """One row per usable session (its decision screen), and the per-session accounting."""
    sessions = events.groupby("session", sort=True).agg(
        user_id=("user_id", "first"),
        task_id=("task_id", "first"),
        subject_id=("subject_id", "first"),
        bad_swipe=("bad_swipe", "any"),
    )
    reasons = _DropReasons(sessions.index.to_numpy())
    reasons.drop(~sessions["user_id"].isin(users["UserID"]).to_numpy(), "unknown_user")
    reasons.drop(sessions["task_id"].map(split.split_of).isna().to_numpy(), "task_not_in_split")
    click, fx, decision = _decision_events(events, sessions, reasons)
    task = sessions["task_id"].to_numpy(dtype=np.int64)
    c_row, c_pos = _clicked_movie(click, task, items, reasons)

    # screen state at the decision
    scroll = decision["scroll_y"].fillna(0.0).to_numpy()
    pages = decision[PAGE_COLS].fillna(0).to_numpy(dtype=np.int64)
    state = _Decision(scroll, pages, layout)
    all_idx = np.arange(len(sessions))
    label = state.slot(all_idx, c_row, c_pos)
    r0 = np.clip(c_row - 1, 0, N_ROWS - 1)
    shown = (
        (c_row > 0) & state.visible[all_idx, r0] & (((c_pos - 1) // N_COLS) == pages[all_idx, r0])
    )
    reasons.drop(~shown, "click_not_on_screen")
    reasons.drop(label < 0, "click_on_partial_row")

    dwell = _Dwell.of(events, fx, decision, click["t"], state)
    no_dwell = (dwell.gaze.sum(axis=1) <= 0) & (dwell.cursor.sum(axis=1) <= 0)
    reasons.drop(no_dwell, "no_dwell_on_candidates")
    kept = reasons.kept
    screens = pd.DataFrame(
        {
            "user_id": sessions["user_id"].to_numpy()[kept],
            "subject_id": sessions["subject_id"].to_numpy()[kept],
            "task_id": task[kept],
            "visit_index": decision["visit"].to_numpy()[kept].astype(np.int64),
            "scroll_y": scroll[kept],
            "label": label[kept],
            "n_candidates": state.n_candidates[kept],
        }
    )
    screens["screen_id"] = [
        f"T{t:02d}_S{s}" for t, s in zip(screens["task_id"], screens["subject_id"], strict=False)
    ]
    screens["content_id"] = [f"task{t:02d}" for t in screens["task_id"]]
    screens["split"] = screens["task_id"].map(split.split_of)
    screens["profile"] = profile_text(users).reindex(screens["user_id"]).to_numpy()
    _add_slots(screens, state, dwell, kept, layout)
    screens = screens.sort_values(["user_id", "task_id", "subject_id"]).reset_index(drop=True)
    return screens, _accounting(sessions.assign(reason=reasons.reason.to_numpy()), dwell)


def _add_slots(
    screens: pd.DataFrame, state: _Decision, dwell: _Dwell, kept: np.ndarray, layout: Layout
) -> None:
    """Add each screen's page state, full rows and, per candidate slot, its gaze and cursor
    dwell, letter and poster box (``state`` and ``dwell``: every session's, ``kept`` selects
    the screens')."""
    screens["page_state"] = list(state.pages[kept])
    screens["full_rows"] = [list(np.flatnonzero(f) + 1) for f in state.full[kept]]
    ncand = screens["n_candidates"].to_numpy()
    screens["gaze_ms"] = [g[:k].tolist() for g, k in zip(dwell.gaze[kept], ncand, strict=False)]
    screens["cursor_ms"] = [c[:k].tolist() for c, k in zip(dwell.cursor[kept], ncand, strict=False)]
    screens["slot_names"] = [list(SLOT_LETTERS[:k]) for k in ncand]
    screens["slot_boxes"] = [
        [list(layout.poster_box(int(r), c, s)) for r in rows for c in range(N_COLS)]
        for rows, s in zip(screens["full_rows"], screens["scroll_y"], strict=False)
    ]


def _accounting(sessions: pd.DataFrame, dwell: _Dwell) -> dict:
    """Sessions kept and dropped (``sessions``: every session with its drop ``reason``, null
    when kept), by reason and one by one, and the decision visits' dwell over the kept ones."""
    kept = sessions["reason"].isna().to_numpy()
    dropped = sessions[~kept]
    fixations = dwell.fixations
    in_dropped = np.isin(fixations["session"].to_numpy(), sessions.index.to_numpy()[~kept])
    fix_in_visit = fixations[~in_dropped]
    hit_kept = dwell.on_candidate & kept[dwell.session_row]
    ms_on_candidates = fixations["duration_ms"].to_numpy()[hit_kept].sum()
    return {
        "sessions": {"raw": len(sessions), "kept": int(kept.sum()), "dropped": int((~kept).sum())},
        "dropped_by_reason": {r: int((dropped["reason"] == r).sum()) for r in DROP_REASONS},
        "dwell": {
            "decision_visit_movie_fixations": len(fix_in_visit),
            "fixation_ms_on_candidates": float(ms_on_candidates),
            "fixation_ms_off_candidates": float(
                fix_in_visit["duration_ms"].sum() - ms_on_candidates
            ),
            "sessions_with_gaze": int((dwell.gaze[kept].sum(axis=1) > 0).sum()),
            "sessions_with_cursor": int((dwell.cursor[kept].sum(axis=1) > 0).sum()),
        },
        "dropped_sessions": [
            {"user_id": u, "task_id": int(t), "subject_id": s, "reason": r}
            for u, t, s, r in dropped[["user_id", "task_id", "subject_id", "reason"]].itertuples(
                index=False
            )
        ],
    }
