"""One synthetic RecGaze session: plan its visits, lay its fixations out in time, and log the
fixations, the clicks and the cursor the way the released files hold them.

Random numbers of a session come from its own generator keyed by (seed, user, task), so a
session does not change when more users or fewer tasks are generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fixate.data.synthetic.recgaze.cursor import cursor_events
from fixate.data.synthetic.recgaze.fixations import Fixations, lay_out_fixations
from fixate.data.synthetic.recgaze.imperfections import LogImperfections, stale_after_swipe
from fixate.data.synthetic.recgaze.plan import PlanArrays, Visit, plan_visits, screen_duration_s
from fixate.data.synthetic.recgaze.screen import (
    BACKWARD,
    CLICK,
    FORWARD,
    MOVIE,
    SCROLL,
    SWIPE,
    Screen,
)
from fixate.data.synthetic.seeding import keyed_rng

_GAZE_NOISE = 3  # px between a fixation and its raw gaze samples, at most
FIX_FIELDS = (
    "t", "dur", "s_type", "s_row", "s_pos", "c_type", "c_row", "c_pos", "x", "y", "scroll",
    "shift", "n_gaze", "g1", "gx1", "gy1", "gx2", "gy2", "stale", "unmapped",
)  # fmt: skip
FIX_INDEX = {name: i for i, name in enumerate(FIX_FIELDS)}


@dataclass(frozen=True)
class SessionLog:
    """What one session logs, as integer arrays (ms, px, AOI codes of :mod:`.screen`)."""

    fix: np.ndarray  # (n, len(FIX_FIELDS)): per fixation, the columns named by FIX_FIELDS
    cursor: np.ndarray  # (m, 5): start ms, duration ms, type, row, position
    clicks: np.ndarray  # (k, 4): ms, type, row, position


class Session:
    """One screen of one user: plan the visits, then lay all fixations and events out in time,
    with the log's imperfections at the given rates."""

    def __init__(
        self, screen: Screen, rng: np.random.Generator, imperfections: LogImperfections
    ) -> None:
        self.screen, self.rng, self.imperfections = screen, rng, imperfections
        self.visits: list[Visit] = []  # the plan, once run

    @classmethod
    def of(cls, seed: int, screen: Screen, imperfections: LogImperfections) -> Session:
        """The session on ``screen``, drawing from its own generator keyed by user and task."""
        return cls(screen, keyed_rng(seed, "session", screen.user.uid, screen.task), imperfections)

    def run(self, visits: list[Visit] | None = None) -> SessionLog:
        """Lay the session out in time; ``visits`` replays a given plan instead of drawing one
        (repeated sessions of one screen, as the truth tests need)."""
        rng, screen = self.rng, self.screen
        self.visits = plan_visits(screen, rng) if visits is None else visits
        plan = PlanArrays.of(self.visits)
        nv = len(plan.scroll)
        is_swipe, is_click = plan.action == SWIPE, plan.action == CLICK
        n_stops = len(set(plan.scroll.tolist()))
        duration = float(screen_duration_s(screen, n_stops, rng.standard_normal()))
        n_total = max(nv + 2, round(duration * 2.9))
        weights = np.array([v.weight for v in self.visits])
        n_reg = 1 + rng.multinomial(n_total - nv, weights / weights.sum())
        fx = lay_out_fixations(screen, rng, plan, n_reg)
        v_last = fx.v_first + np.bincount(fx.visit_of, minlength=nv) - 1
        onset, click_t = _timing(rng, fx, plan, v_last, screen.user.notch)

        target_row, target_pos = screen.target or (1, 1)
        acts = np.flatnonzero(is_swipe | is_click)
        click_type = np.where(is_swipe, np.where(plan.swipe_dir > 0, FORWARD, BACKWARD), MOVIE)
        click_row = np.where(is_swipe, plan.swipe_row, target_row)
        click_pos = np.where(is_swipe, 0, target_pos)
        clicks = np.stack(
            [click_t[acts], click_type[acts], click_row[acts], click_pos[acts]], axis=1
        ).astype(np.int64)
        if screen.outcome == "missing_click":
            clicks = clicks[~is_click[acts]]

        cursor = cursor_events(
            rng,
            screen.style,
            onset=onset,
            dur=fx.dur,
            v_first=fx.v_first,
            v_last=v_last,
            n_reg=n_reg,
            click_t=click_t,
            is_swipe=is_swipe,
            is_click=is_click,
            g_onset=onset[fx.regular[fx.g_first]],
            g_visit=fx.g_visit,
            g_slot=fx.g_slot,
            pages=plan.pages,
            action_aoi=np.stack([click_type, click_row, click_pos], axis=1),
        )
        gaze = _gaze_samples(rng, len(fx.visit_of))
        # the log's imperfections draw last, so that a session they leave alone is unchanged
        fx, stale = stale_after_swipe(fx, plan, rng, self.imperfections.stale_swipe_aoi)
        unmapped = rng.random(len(fx.visit_of)) < self.imperfections.unmapped_fixation
        record = _fixation_record(fx, onset, plan.scroll, gaze, stale, unmapped)
        return SessionLog(record, cursor, clicks)


def _timing(
    rng: np.random.Generator, fx: Fixations, plan: PlanArrays, v_last: np.ndarray, notch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Onset of every fixation and the time of each visit's closing click (ms).

    Short saccades, occasional blinks; scrolling pauses the eyes, and after a swipe the carousel
    animates before the next fixation."""
    nv, n, dur, scroll = len(plan.scroll), len(fx.visit_of), fx.dur, plan.scroll
    gap = 22 + np.round(8 * np.exp(0.5 * rng.standard_normal(n)))
    gap += (rng.random(n) < 0.06) * rng.integers(80, 400, n)
    interval = dur + gap
    press = np.maximum(1, np.round(rng.uniform(0.3, 0.85, nv) * dur[v_last]))
    notches = np.maximum(1, np.abs(np.diff(scroll, append=scroll[-1])) // notch)
    pause = 150 + 70 * notches + rng.integers(0, 250, nv)
    anim = rng.integers(350, 650, nv)
    interval[v_last] = np.select(
        [plan.action == SCROLL, plan.action == SWIPE],
        [interval[v_last] + pause, np.maximum(interval[v_last], press + anim)],
        interval[v_last],
    )
    t0 = int(rng.integers(500, 3001))
    onset = (t0 + np.concatenate([[0], np.cumsum(interval)[:-1]])).astype(np.int64)
    return onset, onset[v_last] + press.astype(np.int64)


def _gaze_samples(rng: np.random.Generator, n: int) -> np.ndarray:
    """The one or two raw gaze samples that follow each of ``n`` fixations in the non-public
    file: their number, the delay of the first (ms) and their noise around the fixation (px),
    as the ``n_gaze`` to ``gy2`` columns of ``FIX_FIELDS``."""
    n_gaze = 1 + (rng.random(n) < 0.4)
    delay = rng.integers(4, 17, n)
    noise = rng.integers(-_GAZE_NOISE, _GAZE_NOISE + 1, (n, 4))
    return np.column_stack([n_gaze, delay, noise])


def _fixation_record(
    fx: Fixations,
    onset: np.ndarray,
    scroll: np.ndarray,
    gaze: np.ndarray,
    stale: np.ndarray,
    unmapped: np.ndarray,
) -> np.ndarray:
    """The ``FIX_FIELDS`` of every fixation (``gaze`` from :func:`_gaze_samples`)."""
    n = len(fx.visit_of)
    record = np.empty((n, len(FIX_FIELDS)), dtype=np.int64)
    record[:, FIX_INDEX["t"]] = onset
    record[:, FIX_INDEX["dur"]] = fx.dur
    record[:, FIX_INDEX["s_type"] : FIX_INDEX["s_pos"] + 1] = fx.strict
    record[:, FIX_INDEX["c_type"] : FIX_INDEX["c_pos"] + 1] = fx.closest
    record[:, FIX_INDEX["x"]] = fx.x + fx.shift
    record[:, FIX_INDEX["y"]] = fx.y
    record[:, FIX_INDEX["scroll"]] = scroll[fx.visit_of]
    record[:, FIX_INDEX["shift"]] = fx.shift
    record[:, FIX_INDEX["n_gaze"] : FIX_INDEX["gy2"] + 1] = gaze
    record[:, FIX_INDEX["stale"]] = stale
    record[:, FIX_INDEX["unmapped"]] = unmapped
    return record
