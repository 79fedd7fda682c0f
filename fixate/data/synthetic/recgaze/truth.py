"""The planted gaze truth of synthetic RecGaze users: expected dwell per poster of a screen.

A trained simulator is only shown to have learned a user when it is scored against what that user
would do on average, not against one noisy session. Synthetic users have a known style, so that
average exists: for every session that ends in a selection, the expected fixation time (ms) on
every poster of the decision visit (the visit that ends in the click), with the screen and the
choice held fixed: the same scroll offset, carousel pages, chosen poster and entry glance.

Why a converged mean and not a closed form: inside a visit the generator sorts its glances into
reading order and then pins the first one to the entry slot, adds 2-4 longer looks at the chosen
poster, lets some fixations miss the posters (logged through their closest AOI when within 60 px)
and draws the number of fixations from the screen duration. The expectation of that chain has no
tidy formula, and an approximate one would not be exact to the generator. Instead the generator's
own code (:func:`.fixations.lay_out_fixations`, the very function that lays out the logged
session) lays out ``N_REPLICATES`` independent repetitions of the decision visit, redrawing the
number of fixations, the glances, the misses, the points and the durations; a fixation counts for
the poster the eye tracker logs (its AOI, or its closest movie AOI when it landed on the
background), as the preprocessing reads it. With 400 repetitions of about 20-40 fixations the
Monte Carlo error of a poster's share is below 0.01, far under the noise of one real session.

Of the log's imperfections (:mod:`.imperfections`) only the stale AOI after a swipe changes the
poster the eye tracker logs, so the repetitions draw it too. A partial-row click changes the
scroll plan, which the truth holds fixed anyway. An unmapped fixation changes no AOI, only where
its scroll comes from: the preprocessing takes the previous fixation's, which puts the first
fixation of a visit entered by a scroll into the visit before; that is the measurement's error,
not the user's gaze, and the truth leaves it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.synthetic.recgaze.fixations import lay_out_fixations
from fixate.data.synthetic.recgaze.imperfections import stale_after_swipe
from fixate.data.synthetic.recgaze.plan import PlanArrays, Visit, screen_duration_s
from fixate.data.synthetic.recgaze.screen import BACKGROUND, CLICK, MOVIE, Screen
from fixate.data.synthetic.recgaze.session import Session
from fixate.data.synthetic.seeding import keyed_rng, map_in_processes
from fixate.data.tables import write_csv, write_json

N_REPLICATES = 400
TRUTH_FOLDER = "truth"
TRUTH_FILE = "gaze_truth.csv"
TRUTH_COLUMNS = [
    "UserID",
    "TaskID",
    "Carousel_position",
    "Movie_position_in_carousel",
    "expected_fixation_ms",
]


def logged_movie_aoi(strict: np.ndarray, closest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fixation: whether it counts for a poster, and that poster's (row, position).

    A fixation on a poster counts for it; one on the background counts for its closest poster
    (within 60 px); headings and arrows count for none."""
    on_movie = strict[:, 0] == MOVIE
    via_closest = (strict[:, 0] == BACKGROUND) & (closest[:, 0] == MOVIE)
    aoi = np.where(on_movie[:, None], strict, closest)
    return on_movie | via_closest, aoi[:, 1:]


def decision_visit_dwell(
    session: Session, rng: np.random.Generator, n_replicates: int = N_REPLICATES
) -> pd.DataFrame:
    """Expected fixation ms per (row, position) in the decision visit of a session already run.

    The number of regular fixations of each repetition is redrawn as the session draws it: a
    screen duration (the session's own variability), then the decision visit's binomial share of
    the fixations the visits split among them."""
    visits, screen = session.visits, session.screen
    if not visits or visits[-1].action != CLICK:
        raise ValueError(f"session {screen.user.uid}/{screen.task} does not end in a selection")
    weights = np.array([v.weight for v in visits])
    n_stops = len({v.scroll for v in visits})
    duration = screen_duration_s(screen, n_stops, rng.standard_normal(n_replicates))
    n_total = np.maximum(len(visits) + 2, np.round(duration * 2.9)).astype(np.int64)
    n_reg = 1 + rng.binomial(n_total - len(visits), weights[-1] / weights.sum())
    stale_rate = session.imperfections.stale_swipe_aoi
    return visit_dwell(screen, visits[-1], n_reg, rng, stale_rate)


def visit_dwell(
    screen: Screen,
    visit: Visit,
    n_reg: np.ndarray,
    rng: np.random.Generator,
    stale_rate: float,
) -> pd.DataFrame:
    """Mean logged fixation ms per (row, position) over ``len(n_reg)`` layouts of ``visit``,
    the k-th with ``n_reg[k]`` regular fixations.

    A visit that starts with a swipe logs its first fixation on the poster shown before the
    swipe with chance ``stale_rate`` (:func:`.imperfections.stale_after_swipe`): that changes
    which poster the eye tracker logs, so the truth follows it."""
    plan = PlanArrays.of([visit] * len(n_reg))
    fixations = lay_out_fixations(screen, rng, plan, n_reg)
    fixations, _ = stale_after_swipe(fixations, plan, rng, stale_rate)
    counts, aoi = logged_movie_aoi(fixations.strict, fixations.closest)
    keys = pd.DataFrame({"row": aoi[counts, 0], "pos": aoi[counts, 1]})
    dwell = pd.Series(fixations.dur[counts]).groupby([keys["row"], keys["pos"]]).sum()
    return (dwell / len(n_reg)).rename("expected_fixation_ms").reset_index()


def truth_table(
    sessions: Sequence[Session], seed: int, n_replicates: int = N_REPLICATES, workers: int = 1
) -> pd.DataFrame:
    """The truth of every session that ends in a selection, in ``TRUTH_COLUMNS`` order.

    Each session's repetitions draw from their own generator keyed by (seed, user, task), so the
    truth of a session does not change with the roster, the order of sessions or the number of
    ``workers`` (processes) that lay them out."""
    selections = [session for session in sessions if session.screen.outcome == "click"]
    frames = map_in_processes(partial(_session_truth, seed, n_replicates), selections, workers)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TRUTH_COLUMNS)
    table = table.rename(columns={"row": "Carousel_position", "pos": "Movie_position_in_carousel"})[
        TRUTH_COLUMNS
    ]
    table["expected_fixation_ms"] = table["expected_fixation_ms"].map("{:.3f}".format)
    return table


def _session_truth(seed: int, n_replicates: int, session: Session) -> pd.DataFrame:
    """The truth rows of one session that ends in a selection, named by its user and task."""
    screen = session.screen
    rng = keyed_rng(seed, "truth", screen.user.uid, screen.task)
    frame = decision_visit_dwell(session, rng, n_replicates)
    return frame.assign(UserID=screen.user.uid, TaskID=screen.task)


def write_truth(
    sessions: Sequence[Session],
    out_dir: str | Path,
    seed: int,
    n_replicates: int = N_REPLICATES,
    workers: int = 1,
) -> int:
    """Write ``truth/gaze_truth.csv`` and ``truth/truth.json`` under ``out_dir``; return rows."""
    folder = Path(out_dir) / TRUTH_FOLDER
    table = truth_table(sessions, seed, n_replicates, workers)
    write_csv(table, folder / TRUTH_FILE)
    write_json(
        {
            "what": "expected fixation ms per poster in the decision visit of each selection",
            "method": "mean over repeated layouts of the decision visit by the generator",
            "n_replicates": n_replicates,
            "n_sessions": int(table[["UserID", "TaskID"]].drop_duplicates().shape[0]),
            "seed": seed,
        },
        folder / "truth.json",
    )
    return len(table)
