"""The query-disjoint AdSERP split, fixed by a seed.

Several participants searched the same query; the unit of the split is therefore the query (the
trial's slug), so no query in test or validation appears in training for anyone. The reference
split each user's samples at random instead and redrew it for every training seed, so its "held
out" queries were seen in training and its test set changed with the seed.

Here the split is drawn once, in preprocessing, from the sorted distinct queries of every trial
whose metadata could be read (kept or not, so that preprocessing settings never move a query),
with its own seed: a permutation, then test and validation quotas. Every split gets at least one
query as soon as there are three.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fixate.data.samples import SPLITS


@dataclass(frozen=True)
class QuerySplit:
    """Query slugs per split."""

    seed: int
    test_fraction: float
    val_fraction: float
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def mapping(self) -> dict[str, str]:
        """Query -> split name."""
        return {q: name for name in SPLITS for q in getattr(self, name)}

    @classmethod
    def from_dict(cls, doc: dict) -> QuerySplit:
        """The split as written by ``as_dict`` (``split.json``)."""
        return cls(
            seed=doc["seed"],
            test_fraction=doc["test_fraction"],
            val_fraction=doc["val_fraction"],
            **{name: tuple(doc[name]) for name in SPLITS},
        )

    def as_dict(self) -> dict:
        return {
            "unit": "query",
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "val_fraction": self.val_fraction,
            **{name: list(getattr(self, name)) for name in SPLITS},
        }


def _quota(fraction: float, n: int) -> int:
    return max(1, round(fraction * n)) if fraction > 0 and n >= len(SPLITS) else round(fraction * n)


def query_split(
    queries: Iterable[str], seed: int = 42, test_fraction: float = 0.2, val_fraction: float = 0.15
) -> QuerySplit:
    """Assign each distinct query to test, validation or training."""
    if test_fraction < 0 or val_fraction < 0 or test_fraction + val_fraction >= 1:
        raise ValueError(
            f"test_fraction ({test_fraction}) and val_fraction ({val_fraction}) must be >= 0 and "
            "leave some queries for training"
        )
    distinct = np.array(sorted(set(queries)), dtype=object)
    order = distinct[np.random.default_rng(seed).permutation(len(distinct))]
    n_test = _quota(test_fraction, len(order))
    n_val = _quota(val_fraction, len(order))
    return QuerySplit(
        seed=seed,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        test=tuple(sorted(order[:n_test])),
        val=tuple(sorted(order[n_test : n_test + n_val])),
        train=tuple(sorted(order[n_test + n_val :])),
    )
