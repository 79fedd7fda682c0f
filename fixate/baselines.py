"""Baselines without a vision-language model, scored like FixATE on the same test samples.

The paper compares FixATE with the bare backbone only; a reader also needs to know how much of the
alignment a simple prior already gets:

* ``uniform``: every candidate slot equally likely;
* ``position_prior``: the mean normalised training gaze at each slot position (slot index: for
  RecGaze the letter A-O, i.e. row-on-screen x column; for AdSERP the box number), all users;
* ``user_prior``: the same mean over the user's own training samples, falling back to the
  population prior for a user (or a slot position) without training data.

FixATE's value is its margin over ``user_prior``. A prior is also used as the click predictor (its
slot distribution stands in for the answer probabilities of log-loss and AUC).

Where the samples carry the planted truth (synthetic users), ``planted_truth`` predicts it: its
``kl`` to the observed dwell is the noise ceiling, what even a perfect simulator of the user
scores against one session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fixate.data.samples import SIGNAL_COLUMNS, truth_of
from fixate.metrics import normalise, sample_metrics

BASELINES = ("uniform", "position_prior", "user_prior")


def _mean_by_position(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Sum of normalised dwell per slot index, and how many samples had that slot."""
    width = int(rows["n_candidates"].max()) if len(rows) else 0
    total = np.zeros(width)
    count = np.zeros(width)
    for dwell in rows[column]:
        d = normalise(dwell)
        total[: len(d)] += d
        count[: len(d)] += 1
    return total, count


class SlotPriors:
    """Population and per-user slot-position priors fitted on the training split."""

    def __init__(self, train: pd.DataFrame, signal: str = "fixation"):
        column = SIGNAL_COLUMNS[signal]
        self.population_sum, self.population_n = _mean_by_position(train, column)
        self.users = {u: _mean_by_position(g, column) for u, g in train.groupby("user_id")}

    def population(self, n: int) -> np.ndarray:
        total, count = self._pad(self.population_sum, self.population_n, n)
        prior = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return normalise(prior)

    def user(self, user: str, n: int) -> np.ndarray:
        fallback = self.population(n)
        if user not in self.users:
            return fallback
        total, count = self._pad(*self.users[user], n)
        own = np.where(count > 0, total / np.maximum(count, 1), fallback)
        return normalise(own)

    @staticmethod
    def _pad(total: np.ndarray, count: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        out_total = np.zeros(n)
        out_count = np.zeros(n)
        m = min(n, len(total))
        out_total[:m] = total[:m]
        out_count[:m] = count[:m]
        return out_total, out_count


def score_baselines(samples: pd.DataFrame, signal: str = "fixation") -> pd.DataFrame:
    """Per-sample metrics of every baseline on the test split (one row per sample and baseline).

    ``samples`` are already selected for the signal (:func:`fixate.data.samples.with_signal`).
    """
    column = SIGNAL_COLUMNS[signal]
    priors = SlotPriors(samples[samples["split"] == "train"], signal)
    test = samples[samples["split"] == "test"]
    records = []
    for row in test.itertuples(index=False):
        n = int(row.n_candidates)
        truth = truth_of(getattr(row, "truth_ms", None))
        predictions = {
            "uniform": np.full(n, 1.0 / n),
            "position_prior": priors.population(n),
            "user_prior": priors.user(row.user_id, n),
        }
        if truth is not None:
            predictions["planted_truth"] = normalise(truth)
        for name, p in predictions.items():
            records.append(
                {
                    "baseline": name,
                    "user_id": row.user_id,
                    "screen_id": row.screen_id,
                    "slots": p.tolist(),
                    **sample_metrics(p, getattr(row, column), int(row.label), truth=truth),
                }
            )
    return pd.DataFrame(records)
