"""The fixations of synthetic RecGaze visits: which posters the glances pick, where each
fixation lands, what the eye tracker logs for it and how long it lasts.

Glances are poster slots drawn by the user's attention, ordered roughly in reading order within
each visit; each glance holds a geometric number of fixations, some of which miss the poster.
Fixation AOIs are decided geometrically from the point, as the eye-tracking software does: the
strict AOI the point lies in and the closest AOI within 60 px. Everything is vectorised over the
visits, and the visits are independent given their number of fixations, so the same code lays out
a whole session or many repetitions of one visit (the planted truth, :mod:`.truth`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fixate.data.recgaze.layout import (
    ARROW_SIZE,
    BACKWARD_X,
    FORWARD_X,
    GENRE_TEXT_H,
    N_COLS,
    POSTER_H,
    POSTER_W,
    SCREEN_H,
    SCREEN_W,
)
from fixate.data.synthetic.recgaze.plan import PlanArrays
from fixate.data.synthetic.recgaze.screen import (
    ARROW_TOPS,
    BACKGROUND,
    CLICK,
    HEADING_TOPS,
    MIN_GLANCE_PX,
    MOVIE,
    POSTER_LEFTS,
    POSTER_TOPS,
    SWIPE,
    VIEW_BOTTOM,
    VIEW_TOP,
    Screen,
)

_MIN_CLOSEST_PX = 10  # rows thinner than this on screen are never a "closest" AOI
_CLOSEST_PX = 60.0
# Fixation placement modes: on the glanced poster, near its edge, on its heading, anywhere, on an
# arrow, on the arrow about to be clicked, on the poster about to be selected.
_ON, _NEAR, _HEADING, _ANY, _ARROW, _SWIPE_ARROW, _SELECT = range(7)


@dataclass(frozen=True)
class Fixations:
    """The fixations of some visits: where they are, what the eye tracker logs, how long."""

    visit_of: np.ndarray  # visit of each fixation
    v_first: np.ndarray  # first fixation of each visit
    regular: np.ndarray  # fixations of the scanpath (not the action's own)
    g_first: np.ndarray  # first regular fixation (index into ``regular``) of each glance
    g_visit: np.ndarray  # visit of each glance
    g_slot: np.ndarray  # poster slot (row0 * 5 + column) of each glance
    x: np.ndarray
    y: np.ndarray
    strict: np.ndarray  # (n, 3) logged AOI: type, row, position
    closest: np.ndarray  # (n, 3) closest AOI within 60 px
    shift: np.ndarray  # page shift of x (page of the nearest carousel x screen width)
    dur: np.ndarray  # ms


def lay_out_fixations(
    screen: Screen, rng: np.random.Generator, plan: PlanArrays, n_reg: np.ndarray
) -> Fixations:
    """Every fixation of the visits of ``plan`` (``n_reg`` regular ones per visit, then the
    action's own), with its point, logged AOIs and duration.

    Glances are slots drawn by attention, ordered roughly in reading order within each visit
    (rows top down, left to right); each glance holds a geometric number of fixations. The
    visits are independent given ``n_reg``, so the same code lays out a whole session or many
    repetitions of one visit (the planted truth)."""
    st = screen.style
    w, rank, (y0, y1) = attention(screen, plan)
    glance_of, g_first, g_visit, g_slot = _glances(rng, screen, plan, n_reg, w, rank)
    visit_of, v_first, regular, row, col, mode = _placements(
        screen, rng, plan, n_reg, glance_of, g_slot
    )
    x, y = _points(
        screen,
        row,
        col,
        mode,
        plan.scroll[visit_of],
        y0[visit_of, row],
        y1[visit_of, row],
        plan.swipe_dir[visit_of],
        rng,
    )
    strict, closest, shift = _classify(screen, x, y, visit_of, plan.scroll, plan.pages)
    # Log-normal durations; the look at the poster about to be chosen lasts longer.
    n = len(visit_of)
    dur = np.clip(np.round(np.exp(st.dur_mu + st.dur_sigma * rng.standard_normal(n))), 60, 2000)
    dur = np.where(mode == _SELECT, np.minimum(np.round(dur * 1.25), 2000), dur)
    return Fixations(
        visit_of=visit_of,
        v_first=v_first,
        regular=regular,
        g_first=g_first,
        g_visit=g_visit,
        g_slot=g_slot,
        x=x,
        y=y,
        strict=strict,
        closest=closest,
        shift=shift,
        dur=dur,
    )


def _glances(
    rng: np.random.Generator,
    screen: Screen,
    plan: PlanArrays,
    n_reg: np.ndarray,
    w: np.ndarray,
    rank: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The glances of the regular fixations: the glance of each fixation, the first fixation,
    visit and poster slot of each glance, in reading order with each visit's entry slot first."""
    st, nv = screen.style, len(plan.scroll)
    cdf = np.cumsum(w.reshape(nv, -1), axis=1)
    cdf /= cdf[:, -1:]
    n_regular = int(n_reg.sum())
    reg_visit = np.repeat(np.arange(nv), n_reg)
    reg_first = np.cumsum(n_reg) - n_reg
    new_glance = rng.random(n_regular) < 1 / st.refix
    new_glance[reg_first] = True
    glance_of = np.cumsum(new_glance) - 1
    g_first = np.flatnonzero(new_glance)
    g_visit = reg_visit[g_first]
    u = 1.0 - rng.random(len(g_first))
    g_slot = (cdf[g_visit] < u[:, None]).sum(axis=1)
    key = rank[g_visit, g_slot // N_COLS] * N_COLS + g_slot % N_COLS
    key = key + rng.normal(0, st.order_noise, len(g_slot))
    g_slot = g_slot[np.lexsort((key, g_visit))]
    fixed = np.flatnonzero(plan.start >= 0)
    g_slot[np.searchsorted(g_visit, fixed)] = plan.start[fixed]
    return glance_of, g_first, g_visit, g_slot


def _placements(
    screen: Screen,
    rng: np.random.Generator,
    plan: PlanArrays,
    n_reg: np.ndarray,
    glance_of: np.ndarray,
    g_slot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All fixations in time order: each visit's regular ones, then the action's own fixations
    (the arrow before a swipe, the chosen poster before the selection click). Returns the visit
    of each fixation, each visit's first fixation, the regular fixations, and each fixation's
    aimed row, column and placement mode."""
    st, nv = screen.style, len(plan.scroll)
    is_swipe, is_click = plan.action == SWIPE, plan.action == CLICK
    n_regular = int(n_reg.sum())
    reg_first = np.cumsum(n_reg) - n_reg
    n_extra = np.zeros(nv, dtype=np.int64)
    n_extra[is_swipe] = 1 + (rng.random(is_swipe.sum()) < 0.4)
    n_extra[is_click] = rng.integers(2, 5, is_click.sum())
    per_visit = n_reg + n_extra
    visit_of = np.repeat(np.arange(nv), per_visit)
    v_first = np.cumsum(per_visit) - per_visit
    extra = np.arange(len(visit_of)) - v_first[visit_of] >= n_reg[visit_of]
    regular = np.flatnonzero(~extra)
    row = np.empty(len(visit_of), dtype=np.int64)
    col = np.zeros(len(visit_of), dtype=np.int64)
    mode = np.empty(len(visit_of), dtype=np.int64)
    slot = g_slot[glance_of]
    row[regular], col[regular] = slot // N_COLS, slot % N_COLS
    off = rng.random(n_regular) < st.p_off
    off[reg_first] = False
    missed = rng.choice([_NEAR, _HEADING, _ANY, _ARROW], n_regular, p=[0.55, 0.15, 0.28, 0.02])
    mode[regular] = np.where(off, missed, _ON)
    ev = visit_of[extra]
    target_row, target_pos = screen.target or (1, 1)
    row[extra] = np.where(is_swipe[ev], plan.swipe_row[ev], target_row) - 1
    col[extra] = np.where(is_swipe[ev], 0, (target_pos - 1) % N_COLS)
    mode[extra] = np.where(is_swipe[ev], _SWIPE_ARROW, _SELECT)
    return visit_of, v_first, regular, row, col, mode


def attention(screen: Screen, plan: PlanArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glance weight of every poster slot in every visit (nv, 10, 5), the rank of each row
    among the rows on screen, and each row's visible extent (y0, y1) per visit.

    The user's row and column decay, genre taste, how much of the poster is on screen, and
    the swiped row or the poster being chosen."""
    st = screen.style
    y0 = np.maximum(POSTER_TOPS, plan.scroll[:, None] + VIEW_TOP)
    y1 = np.minimum(POSTER_TOPS + POSTER_H, plan.scroll[:, None] + VIEW_BOTTOM)
    cand = y1 - y0 >= MIN_GLANCE_PX
    rank = np.cumsum(cand, axis=1) - 1
    w_row = np.where(cand, screen.row_decay**rank * screen.genre_w * (y1 - y0) / POSTER_H, 0.0)
    boosted = np.flatnonzero(plan.boost_row)
    w_row[boosted, plan.boost_row[boosted] - 1] *= 3.0
    w = w_row[:, :, None] * st.col_w * st.slot_w[np.minimum(rank, 2)]
    if screen.target is not None:
        # The poster that will be chosen catches the eye whenever it is shown (a searched
        # title only once found).
        target_row, target_pos = screen.target
        target_page, target_col = divmod(target_pos - 1, N_COLS)
        seen = 1.0 if screen.kind == "direct" else 2.0
        shown = plan.pages[:, target_row - 1] == target_page
        factor = np.where(plan.action == CLICK, 3.5, seen) * shown
        w[:, target_row - 1, target_col] *= np.maximum(factor, 1.0)
    return w, rank, np.stack([y0, y1])


def _points(
    screen: Screen,
    row: np.ndarray,
    col: np.ndarray,
    mode: np.ndarray,
    s: np.ndarray,
    vis0: np.ndarray,
    vis1: np.ndarray,
    swipe_dir: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Fixation points (page-local x, stimulus y) for each placement mode, on screen."""
    n = len(row)
    left, top = POSTER_LEFTS[col], POSTER_TOPS[row]
    # on a poster: centre-biased, inside its visible part
    lo, hi = vis0 + 3, vis1 - 3
    on_x = left + np.clip(POSTER_W / 2 + rng.normal(0, 65, n), 6, POSTER_W - 6)
    on_y = np.clip((lo + hi) / 2 + rng.normal(0, 0.22, n) * (hi - lo), lo, hi)
    # just outside a poster edge: below, above, left, right
    margin = rng.uniform(3, 58, n)
    side = rng.choice(4, size=n, p=[0.45, 0.3, 0.1, 0.15])
    near_x = np.select(
        [side < 2, side == 2],
        [left + rng.uniform(10, POSTER_W - 10, n), left - margin],
        left + POSTER_W + margin,
    )
    near_y = np.select(
        [side == 0, side == 1],
        [top + POSTER_H + margin, top - margin],
        top + rng.uniform(10, POSTER_H - 10, n),
    )
    heading_x = 76 + rng.uniform(0.1, 0.9, n) * screen.genre_widths[row]
    heading_y = HEADING_TOPS[row] + rng.uniform(5, GENRE_TEXT_H - 5, n)
    any_x = rng.uniform(0, SCREEN_W, n)
    any_y = s + rng.uniform(VIEW_TOP, VIEW_BOTTOM, n)
    in_arrow = rng.uniform(3, ARROW_SIZE - 3, (2, n))
    arrow_x = np.where(rng.random(n) < 0.8, FORWARD_X[0], BACKWARD_X[0]) + in_arrow[0]
    swipe_x = np.where(swipe_dir > 0, FORWARD_X[0], BACKWARD_X[0]) + in_arrow[0]
    arrow_y = ARROW_TOPS[row] + in_arrow[1]
    x = np.choose(mode, [on_x, near_x, heading_x, any_x, arrow_x, swipe_x, on_x])
    y = np.choose(mode, [on_y, near_y, heading_y, any_y, arrow_y, arrow_y, on_y])
    return (
        np.clip(np.round(x), 0, SCREEN_W - 1),
        np.clip(np.round(y), s + VIEW_TOP, s + VIEW_BOTTOM),
    )


def _classify(
    screen: Screen,
    x: np.ndarray,
    y: np.ndarray,
    visit_of: np.ndarray,
    scroll: np.ndarray,
    pages: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strict and closest AOI (type, row, position) per point, and its stimulus x shift.

    Candidates are the current page's posters of rows on screen, and the headings and arrows
    on screen; the closest AOI within 60 px replaces a Background hit, as in the released data.
    """
    b = screen.boxes
    s = scroll[:, None]
    vis = np.clip(POSTER_TOPS + POSTER_H - s, 0, SCREEN_H) - np.clip(POSTER_TOPS - s, 0, SCREEN_H)
    eligible = np.concatenate(
        [
            np.repeat(vis >= _MIN_CLOSEST_PX, N_COLS, axis=1),
            (s < HEADING_TOPS + GENRE_TEXT_H) & (s + SCREEN_H > HEADING_TOPS),
            np.tile((s < ARROW_TOPS + ARROW_SIZE) & (s + SCREEN_H > ARROW_TOPS), 2),
        ],
        axis=1,
    )[visit_of]
    dx = np.maximum(np.maximum(b["x0"] - x[:, None], x[:, None] - b["x1"]), 0)
    dy = np.maximum(np.maximum(b["y0"] - y[:, None], y[:, None] - b["y1"]), 0)
    dist = np.where(eligible, np.hypot(dx, dy), np.inf)
    inside = dist == 0
    hit = inside.any(axis=1)
    nearest = dist.argmin(axis=1)
    strict_box = np.where(hit, inside.argmax(axis=1), -1)
    near_ok = dist[np.arange(len(x)), nearest] <= _CLOSEST_PX
    closest_box = np.where(hit, strict_box, np.where(near_ok, nearest, -1))
    page_of_box = pages[visit_of[:, None], b["row"][None, :]]

    def triple(box: np.ndarray) -> np.ndarray:
        found = box >= 0
        aoi_type = np.where(found, b["type"][box], BACKGROUND)
        page = page_of_box[np.arange(len(box)), box]
        pos = np.where(aoi_type == MOVIE, page * N_COLS + b["col"][box] + 1, 0)
        return np.stack([aoi_type, np.where(found, b["row"][box] + 1, 0), pos], axis=1)

    shift = page_of_box[np.arange(len(x)), nearest] * SCREEN_W
    return triple(strict_box), triple(closest_box), shift
