"""The planted gaze truth of synthetic AdSERP users: expected dwell per page item, in closed form.

Why: one logged visit is a noisy draw of where a user looks, so a simulator trained on synthetic
users is better scored against what the generator's user looks at *on average* on that screen.

**Definition.** The window is the one the preprocessing takes as the decision stop: the final
scroll stop of the trial, from its last scroll (or the page load) to the final ``mousedown``. With
the screen (scroll offset, items), the choice (the target) and the window held fixed, the truth of
item j is E[fixation ms on j's box in the window] over everything the eyes draw: which item each
fixation picks, its duration and its place, the background fixations and the last look at the
target. ``after_press_ms`` is the same for the continuation of the window from the press to the
logged click (for ``decision_end: click``), where the eyes move on without a target.

**Closed form.** In a stop the generator draws fixations one after the other (``fixate``): the
first onset U{60..199} ms after the start, integer durations iid ``int(clip(lognormal))``, onset
gaps U{18..45} ms, until a duration would overrun the stop's end. Each kept fixation's place is
drawn after its duration and independently of it: on an item with probability 0.84 (the item
picked by the gaze weights pi), else uniformly over the background area. Hence, with D the total
duration of the kept fixations,

    E[dwell_j] = E[D] (0.84 pi_j + 0.16 b_j) + [stop >= 900 ms] 210 ms l_j

where b_j (l_j) is the chance that a background point (the last look: a uniform point on the
target's title line, jittered by N(0, 8 px) across) lands in box j once rounded to whole pixels,
as the fixation file stores it. Boxes of the page never overlap, and a fixation aimed at an item
lies inside its box and on the screen, so pi_j carries over to box j unchanged. (Every fixation of
a stop lies within 918 rows of the scroll offset, so the preprocessing's 922-row viewport sees all.)

E[D] is exact, not sampled: durations and gaps are whole milliseconds, so E[D] for every length of
stop follows from one renewal recursion on the millisecond grid per user (no seed involved).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from fixate.data.adserp.truth import TRUTH_COLUMNS, TRUTH_FILE, TRUTH_INFO
from fixate.data.synthetic.adserp.simulator import EYES, Eyes, Simulator, Trial
from fixate.data.tables import write_csv, write_json


def duration_pmf(median: float, eyes: Eyes = EYES) -> np.ndarray:
    """P(duration = d ms) for d = 0 ... the longest: the generator takes ``int`` of a log-normal
    clipped to ``fix_ms``, so d collects [d, d + 1) and the ends collect the clipped tails."""
    lo, hi = eyes.fix_ms
    edges = np.arange(lo + 1, hi + 1, dtype=float)  # the cdf at d + 1 for d = lo ... hi - 1
    cdf = ndtr((np.log(edges) - np.log(median)) / eyes.fix_sigma)
    pmf = np.zeros(hi + 1)
    pmf[lo:] = np.diff(np.r_[0.0, cdf, 1.0])
    return pmf


def kept_ms_table(median: float, longest_ms: int, eyes: Eyes = EYES) -> np.ndarray:
    """V[r] = E[total ms of the fixations that fit] with r ms left before the next duration draw,
    for r = 0 ... ``longest_ms``: V(r) = sum_d p(d) [d <= r] (d + mean_g V(r - d - g)).

    One pass over r suffices, since V(r) needs V only below r - 58 (the shortest fixation and
    gap); W[s] = mean_g V(s - g) is filled as soon as its terms are known.
    """
    pmf = duration_pmf(median, eyes)
    partial_mean = np.cumsum(pmf * np.arange(len(pmf)))
    g_lo, g_hi = eyes.gap_ms
    values = np.zeros(longest_ms + 1)
    after_gap = np.zeros(longest_ms + 1)
    csum = np.zeros(longest_ms + 2)  # csum[s + 1] = V[0] + ... + V[s]
    for r in range(longest_ms + 1):
        k = min(r, len(pmf) - 1)
        values[r] = partial_mean[k] + after_gap[r - k : r + 1] @ pmf[k::-1]
        csum[r + 1] = csum[r] + values[r]
        top, bottom = r - g_lo + 1, max(r - g_hi + 1, 0)  # V[r - g] for g = g_lo ... g_hi - 1
        after_gap[r] = (csum[max(top, 0)] - csum[bottom]) / (g_hi - g_lo)
    return values


def expected_kept_ms(table: np.ndarray, length_ms: int, eyes: Eyes = EYES) -> float:
    """E[total ms of the fixations ``fixate`` keeps] in a stop of ``length_ms``, over the first
    onset (``table`` from :func:`kept_ms_table`)."""
    if length_ms >= len(table):
        raise ValueError(f"a stop of {length_ms} ms is longer than the table ({len(table)} ms)")
    left = length_ms - np.arange(*eyes.first_onset_ms)
    return float(np.where(left >= 0, table[np.clip(left, 0, None)], 0.0).mean())


def _overlap(lo: float, hi: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of [lo, hi] within each [a, b]."""
    return np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0, None)


def background_share(boxes: np.ndarray, scroll_px: float, eyes: Eyes = EYES) -> np.ndarray:
    """Chance that a background fixation lands in each box (page px; a whole-px position at the
    box's edge counts, as in the pipeline)."""
    x_lo, x_hi = eyes.background_x
    y_lo, y_hi = (scroll_px + r for r in eyes.background_rows(scroll_px))
    across = _overlap(x_lo, x_hi, boxes[:, 0] - 0.5, boxes[:, 2] + 0.5) / (x_hi - x_lo)
    down = _overlap(y_lo, y_hi, boxes[:, 1] - 0.5, boxes[:, 3] + 0.5) / (y_hi - y_lo)
    return across * down


def _integral_ndtr(z: np.ndarray) -> np.ndarray:
    """An antiderivative of the normal cdf: z Phi(z) + phi(z)."""
    return z * ndtr(z) + np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)


def last_look_share(
    boxes: np.ndarray, area: tuple[float, float, float, float], eyes: Eyes = EYES
) -> np.ndarray:
    """Chance that the last look (x uniform on ``area``'s columns plus normal jitter, y uniform
    on its rows) lands in each box, once rounded to whole px."""
    x0, x1, y0, y1 = area
    s = eyes.last_look_sd_px

    def below(edge: np.ndarray) -> np.ndarray:  # P(x < edge) for x = U(x0, x1) + N(0, s)
        return s * (_integral_ndtr((edge - x0) / s) - _integral_ndtr((edge - x1) / s)) / (x1 - x0)

    across = below(boxes[:, 2] + 0.5) - below(boxes[:, 0] - 0.5)
    return across * _overlap(y0, y1, boxes[:, 1] - 0.5, boxes[:, 3] + 0.5) / (y1 - y0)


def stop_truth(
    sim: Simulator,
    start: int,
    end: int,
    scroll_px: float,
    target: int | None,
    table: np.ndarray,
    eyes: Eyes = EYES,
) -> np.ndarray:
    """Expected fixation ms on each item's box in [start, end), over the draws of
    ``sim.stop_fixations(start, end, scroll_px, target)``."""
    margin = eyes.press_margin_ms if target is not None else 0
    total = expected_kept_ms(table, end - margin - start, eyes)
    weights = sim.gaze_weights(scroll_px, target)
    on_item = eyes.on_item if weights.sum() > 0 else 0.0
    picked = weights / weights.sum() if weights.sum() > 0 else weights
    dwell = total * (on_item * picked + (1 - on_item) * background_share(sim.boxes, scroll_px))
    if target is not None and end - start >= eyes.last_look_min_stop_ms:
        dwell = dwell + eyes.last_look_ms * last_look_share(sim.boxes, sim.title_area(target))
    return dwell


def trial_truth(sim: Simulator, log: Trial, trial: str, table: np.ndarray) -> pd.DataFrame:
    """The truth rows of one trial (``TRUTH_COLUMNS``): every item of the page, with its expected
    dwell in the decision stop and from the press to the logged click."""
    start, press, scroll_px = log.decision
    return pd.DataFrame(
        {
            "trial_id": trial,
            "stop_start_ms": start,
            "press_ms": press,
            "click_ms": log.t_end,
            "scroll_px": scroll_px,
            "item": np.arange(len(sim.items)),
            "kind": [i.kind for i in sim.items],
            "x0": sim.boxes[:, 0].astype(int),
            "y0": sim.boxes[:, 1].astype(int),
            "x1": sim.boxes[:, 2].astype(int),
            "y1": sim.boxes[:, 3].astype(int),
            "stop_ms": stop_truth(sim, start, press, scroll_px, log.target, table),
            "after_press_ms": stop_truth(sim, press, log.t_end, scroll_px, None, table),
        },
        columns=TRUTH_COLUMNS,
    )


def write_truth(frames: list[pd.DataFrame], out_dir: Path, seed: int) -> None:
    """``truth/gaze_truth.csv`` and ``truth/truth.json`` (definition and counts) under
    ``out_dir``, beside the released-format folders, never inside them."""
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TRUTH_COLUMNS)
    write_csv(table, out_dir / TRUTH_FILE)
    info = {
        "definition": (
            "expected fixation ms on each item's box in the decision stop (the final scroll stop, "
            "from its last scroll or the page load to the final mousedown), with the screen, the "
            "target and the window fixed, over the item picks, durations, background fixations "
            "and the last look; after_press_ms: the same from the mousedown to the logged click"
        ),
        "method": "closed form; E[kept fixation ms] exact by a renewal recursion on the ms grid",
        "key": "trial_id and the item's kind and page box (x0, y0, x1, y1, screenshot px)",
        "seed": seed,
        "trials": int(table["trial_id"].nunique()),
        "rows": len(table),
    }
    write_json(info, out_dir / TRUTH_INFO)
