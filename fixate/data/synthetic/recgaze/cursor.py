"""The cursor of a synthetic RecGaze session: dwells that trail the gaze, as in the released log.

Why it trails the gaze: real users move the mouse after their eyes, so the cursor events carry a
weaker, lagged copy of the gaze signal that a user model may lean on; here the lag and how often
the hand follows are part of the user's style.
"""

from __future__ import annotations

import numpy as np

from fixate.data.recgaze.layout import N_COLS
from fixate.data.synthetic.recgaze.screen import BACKGROUND, MOVIE
from fixate.data.synthetic.recgaze.users import Style


def cursor_events(
    rng: np.random.Generator,
    style: Style,
    *,
    onset: np.ndarray,
    dur: np.ndarray,
    v_first: np.ndarray,
    v_last: np.ndarray,
    n_reg: np.ndarray,
    click_t: np.ndarray,
    is_swipe: np.ndarray,
    is_click: np.ndarray,
    g_onset: np.ndarray,
    g_visit: np.ndarray,
    g_slot: np.ndarray,
    pages: np.ndarray,
    action_aoi: np.ndarray,
) -> np.ndarray:
    """Cursor dwells: trailing some glances by the user's lag, sometimes parked on the
    background, then on the arrow before a swipe and on the chosen poster before the click.
    Consecutive samples in one AOI form one event, as in the released log."""
    nv = len(v_first)
    visit_start = onset[v_first]
    limit = onset[v_last] + dur[v_last]
    on_arrow = np.maximum(click_t - rng.integers(250, 700, nv), visit_start)
    lag = np.round(style.lag * rng.uniform(0.5, 1.0, nv)).astype(np.int64)
    on_choice = np.minimum(onset[np.minimum(v_first + n_reg, v_last)] + lag, click_t - 80)
    limit = np.select([is_swipe, is_click], [on_arrow, on_choice], limit)

    # follow enough glances for 5-60 cursor events per screen
    n_glances = len(g_slot)
    follow = np.clip(style.follow, 9 / n_glances, max(9 / n_glances, 36 / n_glances))
    # the lag shrinks in short visits, where the hand has less time to follow
    lag = np.minimum(
        style.lag * rng.lognormal(0, 0.25, n_glances), 0.6 * (limit[g_visit] - g_onset)
    )
    start = g_onset + np.round(lag).astype(np.int64)
    keep = (rng.random(n_glances) < follow) & (start < limit[g_visit] - 50)
    order = np.argsort(start[keep], kind="stable")
    t, visit, slot = start[keep][order], g_visit[keep][order], g_slot[keep][order]
    repeat = np.zeros(len(t), dtype=bool)
    repeat[1:] = (visit[1:] == visit[:-1]) & (slot[1:] == slot[:-1])
    t, visit, slot = t[~repeat], visit[~repeat], slot[~repeat]
    row = slot // N_COLS
    aoi = np.stack(
        [np.full(len(t), MOVIE), row + 1, pages[visit, row] * N_COLS + slot % N_COLS + 1],
        axis=1,
    )

    def stops(times: np.ndarray, visits: np.ndarray) -> np.ndarray:
        same = np.append(visits[1:] == visits[:-1], False)
        return np.where(same, np.append(times[1:], 0), limit[visits])

    split = rng.random(len(t)) < 0.35
    mid = t + np.round((stops(t, visit) - t) * rng.uniform(0.4, 0.8, len(t))).astype(np.int64)
    t = np.concatenate([t, mid[split]])
    visit = np.concatenate([visit, visit[split]])
    aoi = np.concatenate([aoi, np.tile([BACKGROUND, 0, 0], (int(split.sum()), 1))])
    order = np.lexsort((t, visit))
    t, visit, aoi = t[order], visit[order], aoi[order]
    event_dur = stops(t, visit) - t

    acts = np.flatnonzero(is_swipe | is_click)
    act_t = limit[acts]
    act_dur = click_t[acts] - act_t + np.where(is_swipe[acts], rng.integers(80, 250, len(acts)), 0)
    events = np.column_stack(
        [np.concatenate([t, act_t]), np.concatenate([event_dur, act_dur]),
         np.concatenate([aoi, action_aoi[acts]])]
    )  # fmt: skip
    events = events[events[:, 1] >= 50]
    events[:, 1] = np.minimum(events[:, 1], 10_000)
    return events.astype(np.int64)
