"""The visit plan of a synthetic RecGaze session: where the user scrolls and swipes, and what
they select.

A session is a chain of "visits" (a constant scroll offset and horizontal page state), each ended
by an action: a wheel scroll, a swipe click on a carousel arrow, or the final movie click. The plan
is plain Python; everything per fixation is laid out later, vectorised over the whole session
(:mod:`.fixations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fixate.data.recgaze.layout import MAX_SCROLL, N_COLS, N_PAGES, N_ROWS
from fixate.data.synthetic.recgaze.design import DIRECT_TARGETS, SEMI_FREE_TASKS
from fixate.data.synthetic.recgaze.screen import (
    CLICK,
    END,
    SCROLL,
    SWIPE,
    Screen,
    arrow_rows,
    full_scroll_range,
    partly_shown_scrolls,
)
from fixate.data.synthetic.recgaze.users import User


@dataclass
class Visit:
    """A stretch of constant scroll and page state, and the action that ends it."""

    scroll: int
    weight: float  # share of the screen's fixations
    pages: np.ndarray  # page (0-2) of each carousel during the visit
    start: int = -1  # slot (row0 * 5 + column) of the first glance; -1 = free
    boost_row: int = 0  # carousel just swiped, which draws the eyes
    boost_dir: int = 0  # direction of that swipe: 1 forward, -1 backward
    action: int = END
    swipe_row: int = 0
    swipe_dir: int = 0


@dataclass(frozen=True)
class PlanArrays:
    """The visits of a plan as arrays, one entry per visit."""

    scroll: np.ndarray
    pages: np.ndarray  # (nv, 10)
    action: np.ndarray
    start: np.ndarray
    boost_row: np.ndarray
    boost_dir: np.ndarray
    swipe_row: np.ndarray
    swipe_dir: np.ndarray

    @classmethod
    def of(cls, visits: Sequence[Visit]) -> PlanArrays:
        return cls(
            scroll=np.array([v.scroll for v in visits], dtype=np.int64),
            pages=np.stack([v.pages for v in visits]),
            action=np.array([v.action for v in visits]),
            start=np.array([v.start for v in visits]),
            boost_row=np.array([v.boost_row for v in visits]),
            boost_dir=np.array([v.boost_dir for v in visits]),
            swipe_row=np.array([v.swipe_row for v in visits]),
            swipe_dir=np.array([v.swipe_dir for v in visits]),
        )


def choose_target(
    rng: np.random.Generator, user: User, task: int, genres: np.ndarray, semi_row: int
) -> tuple[int, int]:
    """The poster the user will select: their own top-left bias, genre taste and swipe habit."""
    if task in DIRECT_TARGETS:
        return DIRECT_TARGETS[task]
    st = user.style
    page = 0
    if rng.random() < 0.6 * st.p_swipe:
        page = 1 if rng.random() < 2 / 3 else 2
    col_p = st.col_w**1.5
    col = int(rng.choice(N_COLS, p=col_p / col_p.sum()))
    if semi_row:
        row = semi_row
    else:
        row_p = np.clip(st.row_decay, 0.55, 0.85) ** np.arange(N_ROWS) * st.genre_w[genres] ** 1.5
        row = int(rng.choice(N_ROWS, p=row_p / row_p.sum())) + 1
    return row, page * N_COLS + col + 1


def plan_visits(screen: Screen, rng: np.random.Generator) -> list[Visit]:
    """The visits of one session: scroll stops down and back up, exploring swipes on the way,
    then the swipes to the chosen poster's page and its selection."""
    st = screen.style
    stops = _scroll_stops(screen, rng)
    n_explore = int(
        rng.random() < {"free": 0.6, "semi": 0.4, "direct": 0.0}[screen.kind] * st.p_swipe
    )
    if screen.kind == "direct":
        n_explore = int(rng.binomial(2, st.p_swipe))
    if screen.outcome == "failed_search":
        n_explore = 1 + int(rng.binomial(3, 0.5))
    explore_at = np.bincount(rng.integers(len(stops), size=n_explore), minlength=len(stops))

    pages = np.zeros(N_ROWS, dtype=np.int64)
    # Golden triangle: the first glance goes to the top-left posters.
    visits = [Visit(0, 3.0, pages.copy(), start=int(rng.choice(2, p=[0.75, 0.25])))]
    for i, scroll in enumerate(stops):
        if i:
            visits[-1].action = SCROLL
            visits.append(Visit(scroll, 1.0, pages.copy()))
        for _ in range(explore_at[i]):
            rows = arrow_rows(scroll)
            w = screen.row_decay ** np.arange(len(rows)) * screen.genre_w[rows]
            row = int(rows[rng.choice(len(rows), p=w / w.sum())]) + 1
            _swipe(visits, row, 1, pages)
            if rng.random() < 0.3:
                _swipe(visits, row, -1, pages)
    if screen.target is not None:
        row, pos = screen.target
        page = (pos - 1) // N_COLS
        forward = (page - pages[row - 1]) % N_PAGES
        backward = (pages[row - 1] - page) % N_PAGES
        use_forward = forward <= backward or rng.random() < 0.5
        for _ in range(forward if use_forward else backward):
            _swipe(visits, row, 1 if use_forward else -1, pages)
        visits[-1].action = CLICK
        visits[-1].weight += 0.5
    return visits


def screen_duration_s(screen: Screen, n_stops: int, z: float | np.ndarray) -> float | np.ndarray:
    """Target screen duration: task type, user speed, practice and the speed reminder.

    ``z`` is the standard normal draw of the session's own variability (an array of them
    gives as many durations)."""
    medians = {"free": (15.0, 0.55), "semi": (12.0, 0.5), "direct": (18.0, 0.4)}
    median, sigma = (45.0, 0.3) if screen.outcome == "failed_search" else medians[screen.kind]
    user, task = screen.user, screen.task
    # the screen's place in the user's session: free browsing (1-30) first or second
    second_block = task - 31 if task >= SEMI_FREE_TASKS[0] else task + 9
    order = task - 1 if user.first_free else second_block
    factor = 1.15 * np.exp(-0.008 * order) * screen.style.speed * (1 + 0.06 * (n_stops - 1))
    if user.reminder and order >= user.reminder:
        factor *= 0.85
    return np.clip(median * factor * np.exp(sigma * z), 4, 90)


def _step(screen: Screen, rng: np.random.Generator) -> int:
    """One wheel burst in px: 1-5 notches of the site's mouse."""
    return screen.user.notch * int(min(5, 1 + rng.poisson(screen.style.burst)))


def _scroll_stops(screen: Screen, rng: np.random.Generator) -> list[int]:
    """Wheel bursts down to the deepest row explored, then back up to the chosen row."""
    st = screen.style
    target_row = screen.target[0] if screen.target else 1
    depth = target_row
    if screen.outcome == "failed_search":
        depth = N_ROWS
    elif rng.random() < {"free": st.p_deep, "semi": 0.6 * st.p_deep, "direct": 0.35}[screen.kind]:
        depth = max(depth, min(N_ROWS, 3 + int(rng.geometric(st.depth_p))))
    stops, scroll = [0], 0
    while scroll < full_scroll_range(depth)[0]:
        scroll = min(scroll + _step(screen, rng), MAX_SCROLL)
        stops.append(scroll)
    back_row = target_row if screen.target else (1 if rng.random() < 0.5 else depth)
    while scroll > full_scroll_range(back_row)[1]:
        scroll = max(scroll - _step(screen, rng), 0)
        stops.append(scroll)
    if screen.partial_view and screen.target:
        _stop_partly_shown(stops, target_row, screen.user.notch)
    return stops


def _stop_partly_shown(stops: list[int], row: int, notch: int) -> None:
    """Make the last scroll stop one at which carousel ``row`` is only partly on screen: the
    nearest such wheel step within two notches of it (the user stopped a step early or late,
    or scrolled a little where no scroll was needed). Without one in reach, nothing changes."""
    partly = partly_shown_scrolls(row, notch)
    partly = partly[np.abs(partly - stops[-1]) <= 2 * notch]
    if not len(partly):
        return
    stop = int(partly[np.argmin(np.abs(partly - stops[-1]))])
    if len(stops) == 1:
        stops.append(stop)
    elif stops[-2] == stop:
        stops.pop()
    else:
        stops[-1] = stop


def _swipe(visits: list[Visit], row: int, direction: int, pages: np.ndarray) -> None:
    """End the current visit with a swipe; attention restarts at the leftmost new poster."""
    visit = visits[-1]
    visit.action, visit.swipe_row, visit.swipe_dir = SWIPE, row, direction
    pages[row - 1] = (pages[row - 1] + direction) % N_PAGES
    start = (row - 1) * N_COLS
    visits.append(
        Visit(visit.scroll, 0.8, pages.copy(), start=start, boost_row=row, boost_dir=direction)
    )
