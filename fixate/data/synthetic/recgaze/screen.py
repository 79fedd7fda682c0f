"""The simulated RecGaze screen: its geometry, the AOI codes and what stays fixed in a session.

The interface is simulated on the geometry of :mod:`fixate.data.recgaze.layout`, in page-local x
and stimulus y (the scroll offset is added where the screen shows it). Fixation AOIs are decided
geometrically from these boxes, as the eye-tracking software does, so the event log, the gaze
coordinates and the layout always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fixate.data.recgaze.layout import (
    ARROW_SIZE,
    BACKWARD_X,
    BROWSER_BAR,
    COL_X,
    FORWARD_X,
    GENRE_TEXT_H,
    GENRE_TEXT_TOPS,
    GENRE_TEXT_WIDTHS,
    GENRES,
    MAX_SCROLL,
    N_COLS,
    N_ROWS,
    POSTER_H,
    POSTER_W,
    ROW_TOPS,
    SCREEN_H,
    TASK_BAR,
)
from fixate.data.synthetic.recgaze.design import DIRECT_TASKS, SEMI_FREE_TASKS
from fixate.data.synthetic.recgaze.users import Style, User

POSTER_TOPS = np.asarray(ROW_TOPS, dtype=float)
HEADING_TOPS = np.asarray(GENRE_TEXT_TOPS, dtype=float)
POSTER_LEFTS = np.asarray(COL_X, dtype=float)
_ARROW_DY = (POSTER_H - ARROW_SIZE) // 2
ARROW_TOPS = POSTER_TOPS + _ARROW_DY
# Gaze can only land on the page between the fixed browser bar and the task bar.
VIEW_TOP = BROWSER_BAR[1] + 3
VIEW_BOTTOM = TASK_BAR[0] - 3
MIN_GLANCE_PX = 60  # a poster needs this much on screen to attract a glance
_FULL_MARGIN = 4  # selected rows sit this far inside the screen (gaze noise is at most 3 px)
MOVIE, GENRE, FORWARD, BACKWARD, BACKGROUND = range(5)  # indices into raw.AOI_TYPES
SCROLL, SWIPE, CLICK, END = range(4)  # how a visit ends


def full_scroll_range(row: int) -> tuple[int, int]:
    """Scroll offsets that show carousel ``row`` entirely, with the gaze-noise margin."""
    top = ROW_TOPS[row - 1]
    return top + POSTER_H - (SCREEN_H - _FULL_MARGIN), top - _FULL_MARGIN


def shown_px(row: int, scroll: np.ndarray | int, lo: int = 0, hi: int = SCREEN_H) -> np.ndarray:
    """Height (px) of carousel ``row``'s posters between screen rows ``lo`` and ``hi`` at each
    scroll offset (by default: on screen at all)."""
    top = ROW_TOPS[row - 1] - np.asarray(scroll)
    return np.clip(top + POSTER_H, lo, hi) - np.clip(top, lo, hi)


def partly_shown_scrolls(row: int, notch: int) -> np.ndarray:
    """Wheel-step scroll offsets (multiples of ``notch``) at which carousel ``row`` is cut by an
    edge of the screen, so that less than its full poster height is on screen, while at least
    ``MIN_GLANCE_PX`` of it shows between the browser bar and the task bar (enough to be looked
    at and clicked)."""
    offsets = np.arange(0, MAX_SCROLL + 1, notch)
    in_view = shown_px(row, offsets, VIEW_TOP, VIEW_BOTTOM)
    return offsets[(shown_px(row, offsets) < POSTER_H) & (in_view >= MIN_GLANCE_PX)]


def arrow_rows(scroll: int) -> np.ndarray:
    """0-based rows whose arrow buttons are on screen (and can be clicked) at ``scroll``."""
    arrow_top = ARROW_TOPS - scroll
    return np.flatnonzero((arrow_top >= VIEW_TOP) & (arrow_top + ARROW_SIZE <= VIEW_BOTTOM))


def aoi_boxes(genre_widths: np.ndarray) -> dict[str, np.ndarray]:
    """Every AOI of one task in page-local x and stimulus y: 50 posters (row-major), then the
    10 headings, 10 backward and 10 forward arrows."""
    rows = np.arange(N_ROWS)
    poster_row, poster_col = np.repeat(rows, N_COLS), np.tile(np.arange(N_COLS), N_ROWS)
    return {
        "x0": np.concatenate(
            [POSTER_LEFTS[poster_col], np.full(N_ROWS, 76.0),
             np.full(N_ROWS, float(BACKWARD_X[0])), np.full(N_ROWS, float(FORWARD_X[0]))]
        ),
        "x1": np.concatenate(
            [POSTER_LEFTS[poster_col] + POSTER_W, 76.0 + genre_widths,
             np.full(N_ROWS, float(BACKWARD_X[1])), np.full(N_ROWS, float(FORWARD_X[1]))]
        ),
        "y0": np.concatenate([POSTER_TOPS[poster_row], HEADING_TOPS, ARROW_TOPS, ARROW_TOPS]),
        "y1": np.concatenate(
            [POSTER_TOPS[poster_row] + POSTER_H, HEADING_TOPS + GENRE_TEXT_H,
             ARROW_TOPS + ARROW_SIZE, ARROW_TOPS + ARROW_SIZE]
        ),
        "type": np.concatenate(
            [np.full(N_ROWS * N_COLS, MOVIE), np.full(N_ROWS, GENRE), np.full(N_ROWS, BACKWARD),
             np.full(N_ROWS, FORWARD)]
        ),
        "row": np.concatenate([poster_row, rows, rows, rows]),
        "col": np.concatenate([poster_col, np.zeros(3 * N_ROWS, dtype=int)]),
    }  # fmt: skip


@dataclass(frozen=True)
class Screen:
    """What stays fixed over one session: the user, the task and its carousels, how the session
    ends and the poster chosen. Planning, fixations and the cursor all read it."""

    user: User
    task: int
    kind: str  # free, semi (semi-free search) or direct (search for a named title)
    outcome: str  # click, failed_search or missing_click
    target: tuple[int, int] | None  # (row, position) of the poster the user will select
    genre_w: np.ndarray  # attention multiplier per carousel (10,)
    genre_widths: np.ndarray  # width of each carousel's heading text (10,)
    boxes: dict[str, np.ndarray]  # every AOI of the task (:func:`aoi_boxes`)
    row_decay: float  # attention kept per screen row further down, on this task
    partial_view: bool = False  # the user selects without bringing the chosen row fully on screen

    @property
    def style(self) -> Style:
        return self.user.style

    @classmethod
    def of(
        cls,
        user: User,
        task: int,
        genres: np.ndarray,
        outcome: str,
        target: tuple[int, int] | None,
        semi_row: int,
        partial_view: bool = False,
    ) -> Screen:
        """The screen of ``task`` with carousel genres ``genres`` (indices into ``GENRES``);
        ``semi_row`` is the carousel a semi-free task asks for (0 for none)."""
        searched = "semi" if task in SEMI_FREE_TASKS else "free"
        kind = "direct" if task in DIRECT_TASKS else searched
        genre_w = user.style.genre_w[genres]
        if semi_row:  # the requested genre's carousel draws the eyes
            genre_w[semi_row - 1] *= 2.5
        widths = np.array([GENRE_TEXT_WIDTHS[GENRES[g]] for g in genres], dtype=float)
        return cls(
            user=user,
            task=task,
            kind=kind,
            outcome=outcome,
            target=target,
            genre_w=genre_w,
            genre_widths=widths,
            boxes=aoi_boxes(widths),
            # Searching for a named title spreads attention over the rows.
            row_decay=user.style.row_decay ** (0.5 if kind == "direct" else 1.0),
            partial_view=partial_view,
        )
