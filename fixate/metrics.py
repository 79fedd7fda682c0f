"""Every evaluation metric, one definition each.

A sample is scored from three things over its ``n`` candidate slots: the model's slot distribution
``p`` (attention), the human dwell distribution ``q`` (gaze), the clicked slot ``c``, and the
model's answer probabilities over the candidate names (``option_probs``; a baseline without a
language model passes its slot distribution). Both distributions are renormalised over the
candidates; an all-zero one becomes uniform.

Names follow the paper: ``csh@k`` (click-slot hit: the clicked slot is among the model's top k),
``tgo@k`` (top-gaze overlap: share of the k most-looked-at slots among the model's top k),
``js`` the squared Jensen-Shannon distance (natural log, in [0, ln 2]), ``kl`` = KL(gaze || model).

Synthetic samples also carry the planted truth ``t`` (the user's expected dwell on the screen);
``truth_kl`` = KL(truth || model) then says how far the model is from what the user would do on
average, free of one session's noise, and ``truth_r`` = 1 - KL(truth || model) / KL(truth ||
population position prior) is the share of the prior-to-truth gap a method closes (0 for the
position prior, 1 for the truth itself; computed from the mean KLs, micro or macro).
Ties in a top-k are resolved in expectation over a random order of the tied slots, so a uniform
distribution scores exactly k/n instead of favouring slot A.

This module imports nothing else of the project, so any stage can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

EPS = 1e-8
MODES = ("backbone_tf", "backbone_fg", "fixate_tf", "fixate_fg")
"""The four-way test (`fixate.evaluate`): the bare backbone and FixATE, each teacher-forced and by
free generation. Defined here so that aggregating results needs no model code (and no torch)."""
KS = (1, 3, 5)
TOPK_JS_K = 5
METRICS = (
    "kl",
    "js",
    "cosine",
    *(f"csh@{k}" for k in KS),
    *(f"tgo@{k}" for k in KS),
    "topk_js",
    "log_loss",
    "auc",
    "truth_kl",
)
GAP_REFERENCE = "position_prior"
# higher is better for these (and truth_r); lower for kl, js, topk_js, log_loss, truth_kl
HIGHER_IS_BETTER = frozenset(
    {"cosine", "auc", "answer_accuracy"} | {f"csh@{k}" for k in KS} | {f"tgo@{k}" for k in KS}
)
COMPOSITE_WEIGHTS = {
    "cosine": 0.10,
    "csh@1": 0.20,
    "csh@3": 0.25,
    "tgo@3": 0.20,
    "answer_accuracy": 0.25,
    "topk_js": -0.10,
}


def normalise(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Non-negative vector scaled to sum 1; uniform when it sums to (almost) zero."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, None)
    total = x.sum()
    if total < EPS:
        return np.full(len(x), 1.0 / max(len(x), 1))
    return x / total


def top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries, largest first, ties towards the lower index."""
    return np.argsort(-x, kind="stable")[:k]


def in_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Probability of each entry to be among the k largest when ties are ordered at random."""
    above = (x[None, :] > x[:, None]).sum(axis=1)
    tied = (x[None, :] == x[:, None]).sum(axis=1)
    return np.clip((k - above) / tied, 0.0, 1.0)


def _js(q: np.ndarray, p: np.ndarray) -> float:
    value = float(jensenshannon(q, p) ** 2)
    return 1.0 if np.isnan(value) else value


def kl_divergence(q: np.ndarray, p: np.ndarray) -> float:
    """KL(q || p) of two normalised distributions (natural log, ``EPS`` against zeros)."""
    return float(np.sum(q * np.log((q + EPS) / (p + EPS))))


def sample_metrics(
    p: Sequence[float],
    q: Sequence[float],
    choice: int,
    option_probs: Sequence[float] | None = None,
    topk_js_k: int = TOPK_JS_K,
    truth: Sequence[float] | None = None,
) -> dict[str, float]:
    """All per-sample metrics of one screen (see the module docstring for the definitions);
    ``truth_kl`` only when the sample carries its planted ``truth``."""
    p = normalise(p)
    q = normalise(q)
    n = len(p)
    if len(q) != n or not 0 <= choice < n:
        raise ValueError(f"sample_metrics: {n} model slots, {len(q)} gaze slots, choice {choice}")
    out = {
        "kl": kl_divergence(q, p),
        "js": _js(q, p),
        "cosine": float(p @ q / (np.linalg.norm(p) * np.linalg.norm(q) + EPS)),
    }
    for k in KS:
        kk = min(k, n)
        in_model = in_top_k(p, kk)
        out[f"csh@{k}"] = float(in_model[choice])
        out[f"tgo@{k}"] = float(in_model @ in_top_k(q, kk)) / kk
    kk = min(topk_js_k, n)
    idx = top_k(q, kk)
    out["topk_js"] = _js(
        np.r_[q[idx], max(1.0 - q[idx].sum(), 0.0)], np.r_[p[idx], max(1.0 - p[idx].sum(), 0.0)]
    )
    probs = normalise(p if option_probs is None else option_probs)
    if len(probs) != n:
        raise ValueError(f"sample_metrics: {len(probs)} option probabilities for {n} slots")
    out["log_loss"] = float(-np.log(max(probs[choice], EPS)))
    others = np.delete(probs, choice)
    out["auc"] = (
        float(((others < probs[choice]).sum() + 0.5 * (others == probs[choice]).sum()) / (n - 1))
        if n > 1
        else float("nan")
    )
    if truth is not None:
        if len(truth) != n:
            raise ValueError(f"sample_metrics: {len(truth)} truth slots for {n} model slots")
        out["truth_kl"] = kl_divergence(normalise(truth), p)
    return out


def add_gap_closed(aggregates: dict[str, dict], reference: str = GAP_REFERENCE) -> None:
    """Add ``micro_truth_r`` and ``macro_truth_r`` to every method's aggregate (in place), from
    the method's and the ``reference`` method's mean ``truth_kl`` on the same samples."""
    ref = aggregates.get(reference, {})
    for agg in aggregates.values():
        for kind in ("micro", "macro"):
            key = f"{kind}_truth_kl"
            if key in agg and ref.get(key):
                agg[f"{kind}_truth_r"] = 1.0 - agg[key] / ref[key]


def aggregate(per_sample: pd.DataFrame, metrics: Iterable[str] | None = None) -> dict[str, float]:
    """Micro (over samples) and macro (over users' means) averages, plus counts.

    ``per_sample`` has a ``user_id`` column and one column per metric; NaN values are skipped.
    """
    candidates = metrics or (*METRICS, "answer_accuracy")
    metrics = [m for m in candidates if m in per_sample and per_sample[m].notna().any()]
    out: dict[str, float] = {
        "n_samples": len(per_sample),
        "n_users": int(per_sample["user_id"].nunique()),
    }
    per_user = per_sample.groupby("user_id")[metrics].mean()
    for m in metrics:
        out[f"micro_{m}"] = float(per_sample[m].mean())
        out[f"macro_{m}"] = float(per_user[m].mean())
    return out


def composite_score(aggregates: dict[str, float], with_answer: bool) -> float:
    """Model-selection score (higher is better): a weighted sum of micro averages.

    The answer-accuracy term only counts when answers were generated (``with_answer``); a NaN in a
    required term makes the score NaN, so it never counts as an improvement.
    """
    score = 0.0
    for metric, weight in COMPOSITE_WEIGHTS.items():
        if metric == "answer_accuracy" and not with_answer:
            continue
        value = aggregates.get(f"micro_{metric}", float("nan"))
        score += weight * value
    return float(score)
