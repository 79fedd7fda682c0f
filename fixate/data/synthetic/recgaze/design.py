"""The study design of synthetic RecGaze: who takes part, which sessions exist and how they end.

The released study ran 87 users (61 at KInIT, 26 at UvA) over 40 tasks with a few documented
gaps (failed searches, missing clicks, absent sessions); the synthetic roster follows it, so the
preprocessing's drop reporting sees the same cases. Carousel genres come from balanced Latin
squares, as the study's permutations did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fixate.data.recgaze.layout import N_ROWS
from fixate.data.synthetic.seeding import keyed_rng

N_KINIT = 61
N_UVA = 26
N_FULL_USERS = N_KINIT + N_UVA
ALL_TASKS = tuple(range(1, 41))
SEMI_FREE_TASKS = tuple(range(31, 36))
DIRECT_TASKS = tuple(range(36, 41))
DIRECT_TARGETS = {36: (5, 1), 37: (10, 14), 38: (2, 2), 39: (1, 13), 40: (9, 5)}
FAILED_SEARCHES = {
    "KInIT_18": (38,),
    "KInIT_21": (38,),
    "KInIT_28": (36, 37, 39),
    "KInIT_46": (36,),
    "KInIT_61": (38,),
}
MISSING_CLICKS = {"KInIT_21": (18,), "KInIT_51": (3,), "UvA_4": (20,)}
# 87 x 40 = 3,480 screens but 3,477 logged interactions: three sessions are absent altogether.
# Which ones is not documented; these users have no other gap.
ABSENT_SESSIONS = frozenset({("KInIT_33", 7), ("KInIT_57", 24), ("UvA_19", 32)})
# Below the full roster a few more sessions lose their final click, so that the pipeline's drop
# reporting is exercised at demo scale too.
RANDOM_DROP_RATE = 0.015


def recgaze_user_ids(n_users: int) -> list[str]:
    """User ids in roster order: 87 gives KInIT_1..KInIT_61 and UvA_1..UvA_26.

    Smaller rosters keep the site ratio (round(n * 61 / 87) KInIT users) and at least one user of
    each site from two users on, so both hardware setups appear in every demo.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    n_kinit = int(n_users * N_KINIT / N_FULL_USERS + 0.5)
    if n_users >= 2:
        n_kinit = min(max(n_kinit, 1), n_users - 1)
    return [f"KInIT_{i}" for i in range(1, n_kinit + 1)] + [
        f"UvA_{i}" for i in range(1, n_users - n_kinit + 1)
    ]


def subject_id(user_id: str) -> int:
    """The study-system id of a user, stable across roster sizes (KInIT_n 1000+n, UvA_n 2000+n)."""
    site, number = user_id.rsplit("_", 1)
    return (1000 if site == "KInIT" else 2000) + int(number)


@dataclass(frozen=True)
class PlannedSession:
    """One logged screen and how it ends: ``click``, ``failed_search`` or ``missing_click``."""

    user_id: str
    subject_id: int
    task_id: int
    outcome: str


def check_tasks(tasks: Sequence[int]) -> tuple[int, ...]:
    """The distinct tasks asked for, sorted; an error unless they are a non-empty subset of 1-40."""
    chosen = tuple(sorted({int(t) for t in tasks}))
    if not chosen or chosen[0] < 1 or chosen[-1] > len(ALL_TASKS):
        raise ValueError(f"tasks must be a non-empty subset of 1-40, got {list(tasks)}")
    return chosen


def plan_sessions(
    n_users: int, seed: int = 7, tasks: Sequence[int] = ALL_TASKS
) -> list[PlannedSession]:
    """The sessions :func:`generate_recgaze` writes, in file order, without simulating them.

    The documented gaps apply to the users that exist; the three absent sessions make the full
    roster log 87 x 40 - 3 = 3,477 sessions. Below the full roster, the ``RANDOM_DROP_RATE``
    share of the remaining sessions with the lowest seeded draws also lose their final click.
    """
    plan = []
    for user in recgaze_user_ids(n_users):
        for task in check_tasks(tasks):
            if (user, task) in ABSENT_SESSIONS:
                continue
            outcome = "click"
            if task in FAILED_SEARCHES.get(user, ()):
                outcome = "failed_search"
            elif task in MISSING_CLICKS.get(user, ()):
                outcome = "missing_click"
            plan.append(PlannedSession(user, subject_id(user), task, outcome))
    if n_users < N_FULL_USERS:
        clicked = [i for i, p in enumerate(plan) if p.outcome == "click"]
        draw = {
            i: keyed_rng(seed, "drop", plan[i].user_id, plan[i].task_id).random() for i in clicked
        }
        for i in sorted(clicked, key=draw.__getitem__)[: round(RANDOM_DROP_RATE * len(plan))]:
            plan[i] = replace(plan[i], outcome="missing_click")
    return plan


def genre_orders(seed: int) -> np.ndarray:
    """Genre index (into ``GENRES``) of carousels 1-10 for tasks 1-40, shape (40, 10).

    Built from four random Latin squares, like the study's balanced permutations: over tasks
    1-30 every genre sits three times at every carousel position, and over 31-40 once.
    """
    rng = keyed_rng(seed, "genre-order")
    squares = []
    for _ in range(4):
        rows, cols, symbols = (rng.permutation(N_ROWS) for _ in range(3))
        squares.append(symbols[(rows[:, None] + cols[None, :]) % N_ROWS])
    return np.concatenate(squares)


def semi_free_rows(seed: int) -> dict[int, int]:
    """The carousel (1-10) whose genre each semi-free task 31-35 asks for; distinct per task."""
    rows = keyed_rng(seed, "semi-free").choice(N_ROWS, size=len(SEMI_FREE_TASKS), replace=False) + 1
    return dict(zip(SEMI_FREE_TASKS, rows.tolist(), strict=True))
