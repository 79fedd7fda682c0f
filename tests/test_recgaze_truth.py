"""The planted gaze truth of synthetic RecGaze users: pinned by hand, reached by the pipeline."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixate.data.recgaze.layout import N_COLS, N_ROWS, aoi_table
from fixate.data.recgaze.pipeline import raw_files, run_events, run_screens, samples_from_screens
from fixate.data.recgaze.truth import read_truth, screen_truth
from fixate.data.synthetic.recgaze import generate_recgaze
from fixate.data.synthetic.recgaze.design import PlannedSession, genre_orders
from fixate.data.synthetic.recgaze.imperfections import LogImperfections
from fixate.data.synthetic.recgaze.items import make_items
from fixate.data.synthetic.recgaze.plan import Visit, choose_target
from fixate.data.synthetic.recgaze.screen import BACKGROUND, CLICK, GENRE, MOVIE, Screen
from fixate.data.synthetic.recgaze.session import FIX_INDEX, Session, SessionLog
from fixate.data.synthetic.recgaze.tables import non_public_frame, summary_frame, table_context
from fixate.data.synthetic.recgaze.truth import (
    decision_visit_dwell,
    logged_movie_aoi,
    truth_table,
    visit_dwell,
)
from fixate.data.synthetic.recgaze.users import USER_FEATURES_COLUMNS, User, make_user
from fixate.data.synthetic.seeding import keyed_rng
from fixate.data.tables import write_csv
from fixate.metrics import normalise

SEED = 7


def _session(user: User, task: int) -> Session:
    genres = genre_orders(SEED)[task - 1]
    target = choose_target(keyed_rng(SEED, "target", user.uid, task), user, task, genres, 0)
    return Session.of(SEED, Screen.of(user, task, genres, "click", target, 0), LogImperfections())


def test_logged_aoi_counts_posters_and_background_through_the_closest_poster():
    strict = np.array([[MOVIE, 2, 3], [BACKGROUND, 0, 0], [GENRE, 4, 0], [BACKGROUND, 0, 0]])
    closest = np.array([[MOVIE, 2, 3], [MOVIE, 5, 7], [MOVIE, 4, 1], [BACKGROUND, 0, 0]])
    counts, aoi = logged_movie_aoi(strict, closest)
    assert counts.tolist() == [True, True, False, False]
    assert aoi[:2].tolist() == [[2, 3], [5, 7]]


def _two_poster_screen(target: tuple[int, int]) -> Screen:
    """Only the first two columns of the top row draw glances, equally; every fixation is a new
    glance, on its poster, of 200 ms (250 ms for the looks at the chosen poster)."""
    user = make_user(SEED, "KInIT_1")
    style = replace(
        user.style,
        row_decay=1e-9,  # only the top row on screen draws glances
        col_w=np.array([1.0, 1.0, 0.0, 0.0, 0.0]),
        slot_w=np.ones((3, N_COLS)),
        p_off=0.0,
        refix=1.0,
        dur_mu=float(np.log(200)),
        dur_sigma=0.0,
    )
    screen = Screen.of(replace(user, style=style), 1, np.arange(10), "click", target, 0)
    return replace(screen, genre_w=np.ones(10))


def _dwell(screen: Screen, visit: Visit, n: int, stale_rate: float) -> pd.Series:
    dwell = visit_dwell(screen, visit, np.full(n, 20), np.random.default_rng(0), stale_rate)
    return dwell.set_index(["row", "pos"])["expected_fixation_ms"]


def test_visit_dwell_matches_a_hand_computed_visit():
    """Two posters in reach, the chosen one 3.5 times as attractive: with 20 regular fixations of
    200 ms and 2-4 final looks of 250 ms at the choice, poster A expects 20 x 200 x 7/9 + 3 x 250
    ms and poster B 20 x 200 x 2/9 ms."""
    visit = Visit(0, 1.0, np.zeros(N_ROWS, dtype=np.int64), action=CLICK)
    got = _dwell(_two_poster_screen((1, 1)), visit, 4000, stale_rate=0.0)
    assert set(got.index) == {(1, 1), (1, 2)}
    assert got[1, 1] == pytest.approx(20 * 200 * 7 / 9 + 3 * 250, rel=0.01)
    assert got[1, 2] == pytest.approx(20 * 200 * 2 / 9, rel=0.02)


def test_a_stale_first_fixation_after_a_swipe_counts_for_the_poster_shown_before():
    """A visit entered by a forward swipe of row 1 starts on its leftmost new poster (position
    6). Logged stale every time, that first 200-ms fixation counts for position 1, which the
    carousel showed before the swipe, and nothing else changes."""
    pages = np.zeros(N_ROWS, dtype=np.int64)
    pages[0] = 1
    visit = Visit(0, 1.0, pages, start=0, boost_row=1, boost_dir=1, action=CLICK)
    screen = _two_poster_screen((1, 6))
    clean = _dwell(screen, visit, 500, stale_rate=0.0)
    stale = _dwell(screen, visit, 500, stale_rate=1.0)
    assert set(clean.index) == {(1, 6), (1, 7)}
    assert stale[1, 1] == pytest.approx(200)
    assert stale[1, 6] == pytest.approx(clean[1, 6] - 200)
    assert stale[1, 7] == pytest.approx(clean[1, 7])


def _replayed_logs(session: Session, n: int) -> list[SessionLog]:
    """``n`` sessions of one screen: the same visit plan, laid out by independent generators, each
    later than the one before so that no two share a time stamp."""
    logs = []
    for k in range(n):
        copy = Session(session.screen, np.random.default_rng([SEED, k]), session.imperfections)
        log = copy.run(visits=session.visits)
        shift = np.int64(k * 10_000_000)
        fix = log.fix.copy()
        fix[:, FIX_INDEX["t"]] += shift
        logs.append(
            SessionLog(
                fix,
                log.cursor + np.array([shift, 0, 0, 0, 0]),
                log.clicks + np.array([shift, 0, 0, 0]),
            )
        )
    return logs


def _write_replays(folder: Path, session: Session, logs: list[SessionLog]) -> dict:
    """The raw folder of the replayed sessions: one user, one task, a subject id per replay."""
    user, task = session.screen.user, session.screen.task
    plan = [PlannedSession(user.uid, 100_000 + k, task, "click") for k in range(len(logs))]
    orders = genre_orders(SEED)
    items, movie_ids = make_items(SEED, orders)
    ctx = table_context(orders, movie_ids, [user])
    write_csv(summary_frame(plan, logs, ctx, [user.uid]), folder / "summary_feedback.csv")
    write_csv(non_public_frame(plan, logs), folder / "non_public_feedback_dataset.csv")
    write_csv(aoi_table(), folder / "aoi_data.csv")
    write_csv(items, folder / "item_features.csv")
    users = pd.DataFrame([user.record])[USER_FEATURES_COLUMNS]
    write_csv(users, folder / "user_features.csv")
    return raw_files(folder)


def _screens(raw: dict, out: Path) -> pd.DataFrame:
    """The decision screens the real preprocessing finds in a raw folder."""
    run_events(raw["summary"], raw["non_public"], raw["aoi"], out / "ev.parquet", out / "c.json")
    run_screens(
        out / "ev.parquet", out / "c.json", raw["aoi"], raw["items"], raw["users"],
        out / "screens.parquet", out / "split.json", out / "report.json",
    )  # fmt: skip
    return pd.read_parquet(out / "screens.parquet")


def test_observed_dwell_of_many_visits_of_one_screen_converges_to_the_truth(tmp_path):
    """Replays of one decision screen go through the real preprocessing; the mean of what it
    measures approaches the truth, while one session alone is far from it."""
    user = make_user(SEED, "KInIT_2")
    session = _session(user, 4)
    session.run()
    truth_frame = decision_visit_dwell(session, np.random.default_rng(99), n_replicates=2000)
    raw = _write_replays(tmp_path / "raw", session, _replayed_logs(session, 500))
    screens = _screens(raw, tmp_path / "out")
    assert len(screens) >= 490  # a replay may lose its click row at most rarely
    truth = truth_frame.rename(
        columns={"row": "Carousel_position", "pos": "Movie_position_in_carousel"}
    ).assign(UserID=user.uid, TaskID=session.screen.task)
    truth = truth.set_index(["UserID", "TaskID", "Carousel_position", "Movie_position_in_carousel"])
    expected = normalise(screen_truth(screens.iloc[:1], truth["expected_fixation_ms"])[0])
    observed = np.stack(screens["gaze_ms"].map(np.asarray).to_list())
    mean_share = normalise(observed.mean(axis=0))
    single = [0.5 * np.abs(normalise(o) - expected).sum() for o in observed]
    assert 0.5 * np.abs(mean_share - expected).sum() < 0.03
    assert np.median(single) > 0.1


def test_truth_is_the_same_laid_out_in_several_processes():
    sessions = [_session(make_user(SEED, f"KInIT_{n}"), task) for n in (1, 2) for task in (1, 2)]
    for session in sessions:
        session.run()
    one = truth_table(sessions, SEED, n_replicates=10)
    assert one[["UserID", "TaskID"]].drop_duplicates().shape[0] == 4
    pd.testing.assert_frame_equal(one, truth_table(sessions, SEED, n_replicates=10, workers=2))


def test_truth_files_sit_beside_unchanged_released_files(tmp_path):
    """Writing the truth changes none of the released-format files, and the samples carry it
    aligned with their candidate slots."""
    digests = {}
    for truth in (False, True):
        out = tmp_path / str(truth)
        generate_recgaze(out, n_users=2, seed=SEED, posters=False, tasks=(1, 2, 3), truth=truth)
        digests[truth] = {
            p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.csv"))
        }
    assert digests[True] == digests[False]
    raw = raw_files(tmp_path / "True")
    truth = read_truth(tmp_path / "True" / "truth" / "gaze_truth.csv")
    screens = _screens(raw, tmp_path / "out")
    samples = samples_from_screens(screens, screens["user_id"].iloc[0], truth)
    assert len(samples) > 0
    for row in samples.itertuples():
        assert len(row.truth_ms) == row.n_candidates
        assert min(row.truth_ms) >= 0 and sum(row.truth_ms) > 0
        # the chosen poster always draws the final looks
        assert row.truth_ms[row.label] > 0
