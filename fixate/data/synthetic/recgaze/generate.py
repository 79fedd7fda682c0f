"""Write a synthetic RecGaze raw folder: simulate every session, then write the released files.

Equal arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import POSTER_H, aoi_table
from fixate.data.synthetic.recgaze.design import (
    ALL_TASKS,
    PlannedSession,
    check_tasks,
    genre_orders,
    plan_sessions,
    recgaze_user_ids,
    semi_free_rows,
)
from fixate.data.synthetic.recgaze.imperfections import LogImperfections
from fixate.data.synthetic.recgaze.items import make_items
from fixate.data.synthetic.recgaze.plan import choose_target
from fixate.data.synthetic.recgaze.posters import render_posters
from fixate.data.synthetic.recgaze.screen import MOVIE, Screen, shown_px
from fixate.data.synthetic.recgaze.session import FIX_INDEX, Session, SessionLog
from fixate.data.synthetic.recgaze.tables import non_public_frame, summary_frame, table_context
from fixate.data.synthetic.recgaze.truth import write_truth
from fixate.data.synthetic.recgaze.users import USER_FEATURES_COLUMNS, User, make_user
from fixate.data.synthetic.seeding import keyed_rng
from fixate.data.tables import write_csv


def simulate_sessions(
    n_users: int, seed: int, tasks: Sequence[int], imperfections: LogImperfections
) -> tuple[list[PlannedSession], list[Session], list[SessionLog], list[User], np.ndarray]:
    """Plan and simulate every session; also return the sessions (with their visit plans), the
    users and the genre orders."""
    tasks = check_tasks(tasks)
    orders = genre_orders(seed)
    users = {uid: make_user(seed, uid) for uid in recgaze_user_ids(n_users)}
    semi_rows = semi_free_rows(seed)
    plan = plan_sessions(n_users, seed, tasks)
    sessions, logs = [], []
    for planned in plan:
        user, task = users[planned.user_id], planned.task_id
        genres, semi_row = orders[task - 1], semi_rows.get(task, 0)
        target, partial_view = None, False
        if planned.outcome != "failed_search":
            rng = keyed_rng(seed, "target", user.uid, task)
            target = choose_target(rng, user, task, genres, semi_row)
            partial_view = bool(rng.random() < imperfections.partial_row_click)
        screen = Screen.of(user, task, genres, planned.outcome, target, semi_row, partial_view)
        sessions.append(Session.of(seed, screen, imperfections))
        logs.append(sessions[-1].run())
    return plan, sessions, logs, list(users.values()), orders


def generate_recgaze(
    out_dir: str | Path,
    n_users: int = 12,
    seed: int = 7,
    posters: bool = True,
    tasks: Sequence[int] = ALL_TASKS,
    truth: bool = True,
    imperfections: LogImperfections | None = None,
    workers: int = 1,
) -> dict:
    """Write a synthetic RecGaze raw folder and return a summary of what was written.

    Files: ``summary_feedback.csv``, ``non_public_feedback_dataset.csv``, ``aoi_data.csv``,
    ``item_features.csv`` (all 40 tasks, whatever ``tasks`` is), ``user_features.csv``, with
    ``posters`` the ``posters/<basename of TMDB_poster_path>`` images and, with ``truth``, the
    users' planted gaze in ``truth/`` (beside the released formats, which it never changes).
    ``imperfections`` sets the rates of the cases real logs have (the defaults of
    :class:`.imperfections.LogImperfections` when not given). The truth's repetitions run in
    ``workers`` processes. Equal arguments give byte-identical files, whatever ``workers`` is.
    """
    out = Path(out_dir)
    imperfections = imperfections or LogImperfections()
    plan, sessions, logs, users, orders = simulate_sessions(n_users, seed, tasks, imperfections)
    items, movie_ids = make_items(seed, orders)
    ctx = table_context(orders, movie_ids, users)
    summary = summary_frame(plan, logs, ctx, [u.uid for u in users])
    non_public = non_public_frame(plan, logs)
    user_table = pd.DataFrame([u.record for u in users])[USER_FEATURES_COLUMNS]
    write_csv(summary, out / "summary_feedback.csv")
    write_csv(non_public, out / "non_public_feedback_dataset.csv")
    write_csv(aoi_table(), out / "aoi_data.csv")
    write_csv(items, out / "item_features.csv")
    write_csv(user_table, out / "user_features.csv")
    n_posters = render_posters(items, out / "posters", seed) if posters else 0
    n_truth = write_truth(sessions, out, seed, workers=workers) if truth else 0

    selections = sum(bool(len(log.clicks)) and log.clicks[-1, 1] == MOVIE for log in logs)
    fixations = np.concatenate([log.fix for log in logs])
    return {
        "n_users": len(users),
        "n_tasks": len(check_tasks(tasks)),
        "n_sessions": len(plan),
        "n_sessions_without_click": int(len(plan) - selections),
        "n_summary_rows": len(summary),
        "n_fixations": sum(len(log.fix) for log in logs),
        "n_clicks": sum(len(log.clicks) for log in logs),
        "n_cursor_rows": sum(len(log.cursor) for log in logs),
        "n_non_public_rows": len(non_public),
        "n_items": len(items),
        "n_posters": n_posters,
        "n_truth_rows": n_truth,
        "n_unmapped_fixations": int(fixations[:, FIX_INDEX["unmapped"]].sum()),
        "n_stale_fixations": int(fixations[:, FIX_INDEX["stale"]].sum()),
        "partial_row_clicks": partial_row_clicks(sessions, logs),
        "seed": seed,
    }


def partial_row_clicks(sessions: Sequence[Session], logs: Sequence[SessionLog]) -> list[list]:
    """``[UserID, TaskID]`` of the sessions whose logged selection is on a row that is only
    partly on screen at the last scroll stop."""
    found = []
    for session, log in zip(sessions, logs, strict=True):
        if len(log.clicks) and log.clicks[-1, 1] == MOVIE:
            shown = shown_px(int(log.clicks[-1, 2]), session.visits[-1].scroll)
            if 0 < shown < POSTER_H:
                found.append([session.screen.user.uid, session.screen.task])
    return found
