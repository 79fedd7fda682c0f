"""Cases that real RecGaze logs have and a clean simulation would not, at low rates.

Why: the preprocessing has code paths for them (a fixation without a scroll value of its own, a
movie fixation that is not on screen, a selection on a partly visible row), and the demo data
must exercise those paths and the report's counts of them. Each case is written the way the
released files hold it:

* an *unmapped* fixation: its row in the non-public file keeps its time stamp and duration, but
  its location on the stitched page (``Fixation_LocX``/``Fixation_LocY``) is empty, so it has no
  scroll of its own; the summary file logs it as usual;
* a *stale* fixation: the first fixation after a swipe is logged on the poster that the swiped
  carousel showed before the swipe (the AOI mapping lagging the carousel's animation), which is
  not on screen any more;
* a *partial-row* click: the user selects a poster whose row they have not brought fully on
  screen (see :func:`.plan.plan_visits`).

The chances are drawn after a session's own draws (or from the target's generator), so the
sessions they leave alone are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from fixate.data.recgaze.layout import N_COLS, N_PAGES, SCREEN_W
from fixate.data.synthetic.recgaze.fixations import Fixations
from fixate.data.synthetic.recgaze.plan import PlanArrays
from fixate.data.synthetic.recgaze.screen import MOVIE


@dataclass(frozen=True)
class LogImperfections:
    """How often each case occurs (0 turns it off)."""

    unmapped_fixation: float = 0.01  # chance per fixation
    stale_swipe_aoi: float = 0.03  # chance per visit that starts with a swipe
    partial_row_click: float = 0.03  # chance per selection (where the wheel steps allow it)

    def __post_init__(self) -> None:
        for f in fields(self):
            rate = getattr(self, f.name)
            if not 0 <= rate <= 1:
                raise ValueError(f"imperfections.{f.name} must be a chance in 0-1, got {rate}")

    @classmethod
    def none(cls) -> LogImperfections:
        """A clean log: none of the cases."""
        return cls(unmapped_fixation=0.0, stale_swipe_aoi=0.0, partial_row_click=0.0)


def stale_after_swipe(
    fx: Fixations, plan: PlanArrays, rng: np.random.Generator, rate: float
) -> tuple[Fixations, np.ndarray]:
    """Log the first fixation of a visit that starts with a swipe on the poster the swiped
    carousel showed before it, with chance ``rate`` per such visit (one draw per visit).

    The strict and the closest AOI move when they are a poster of the swiped carousel, and the
    fixation's stimulus x moves to the old page with them. Returns the fixations and, per
    fixation, whether it was logged stale."""
    chosen = (plan.boost_row > 0) & (rng.random(len(plan.scroll)) < rate)
    first = fx.v_first[chosen]
    row, step = plan.boost_row[chosen], plan.boost_dir[chosen]
    old_page = (plan.pages[chosen, row - 1] - step) % N_PAGES
    stale = np.zeros(len(fx.visit_of), dtype=bool)
    strict, closest, shift = fx.strict.copy(), fx.closest.copy(), fx.shift.copy()
    for aoi in (strict, closest):
        hit = (aoi[first, 0] == MOVIE) & (aoi[first, 1] == row)
        at = first[hit]
        aoi[at, 2] = old_page[hit] * N_COLS + (aoi[at, 2] - 1) % N_COLS + 1
        shift[at] = old_page[hit] * SCREEN_W
        stale[at] = True
    return replace(fx, strict=strict, closest=closest, shift=shift), stale
