"""The content-disjoint task split of the FixATE protocol.

Every user appears in every split; the *tasks* (screens with their 150 movies) are disjoint, so a
test screen was never seen in training by anyone. With seed 42 this reproduces the reference's
split: test tasks 1, 4, 9, 21, 24, 32; validation 7, 11, 29, 31; training the other tasks of 1-35.
Direct-search tasks 36-40 are not part of the protocol.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FREE_TASKS = tuple(range(1, 31))
SEMI_FREE_TASKS = tuple(range(31, 36))


@dataclass(frozen=True)
class TaskSplit:
    """Task ids per split."""

    seed: int
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    def split_of(self, task: int) -> str | None:
        """``train`` / ``val`` / ``test``, or None for a task outside the protocol."""
        for name in ("train", "val", "test"):
            if task in getattr(self, name):
                return name
        return None

    def as_dict(self) -> dict:
        return {
            "seed": self.seed,
            "train": list(self.train),
            "val": list(self.val),
            "test": list(self.test),
        }


def task_split(
    seed: int = 42, n_test: tuple[int, int] = (5, 1), n_val: tuple[int, int] = (3, 1)
) -> TaskSplit:
    """Draw test, then validation tasks from the free-browsing and semi-free blocks separately.

    The draw order and the use of :class:`random.Random` follow the reference exactly, so the
    default seed gives the published split.
    """
    rng = random.Random(seed)
    test = sorted(rng.sample(FREE_TASKS, n_test[0])) + sorted(
        rng.sample(SEMI_FREE_TASKS, n_test[1])
    )
    free_left = [t for t in FREE_TASKS if t not in test]
    semi_left = [t for t in SEMI_FREE_TASKS if t not in test]
    val = sorted(rng.sample(free_left, n_val[0])) + sorted(rng.sample(semi_left, n_val[1]))
    train = [t for t in FREE_TASKS + SEMI_FREE_TASKS if t not in test and t not in val]
    return TaskSplit(seed=seed, train=tuple(train), val=tuple(val), test=tuple(test))
