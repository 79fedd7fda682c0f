"""The planted gaze truth of synthetic AdSERP users: pinned by hand on a tiny screen, met by the
average of many simulated visits, and carried through the pipeline to the samples' slots."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from fixate.data.adserp.aoi import BOX, gaze_dwell, visible_aois, window_fixations
from fixate.data.adserp.pipeline import (
    read_trials,
    run_render,
    run_shard,
    run_split,
    run_trials,
    samples_from_trials,
)
from fixate.data.adserp.raw import FIXATION_COLUMNS, list_trials
from fixate.data.adserp.timeline import SCALE
from fixate.data.adserp.trials import Settings
from fixate.data.adserp.truth import TRUTH_FILE, TRUTH_INFO, read_truth
from fixate.data.samples import read_samples
from fixate.data.synthetic.adserp import generate as adserp_generate
from fixate.data.synthetic.adserp import generate_adserp
from fixate.data.synthetic.adserp.design import Style, adserp_user_ids, query_slug, user_style
from fixate.data.synthetic.adserp.page import Item, page_layout
from fixate.data.synthetic.adserp.simulator import Simulator
from fixate.data.synthetic.adserp.truth import expected_kept_ms, kept_ms_table, stop_truth
from fixate.data.synthetic.seeding import keyed_rng

USERS = adserp_user_ids(2)
GENERATE = {"n_users": 2, "seed": 5, "trials_per_user": 4, "n_batches": 1}


def by_hand_kept_ms(median: float, longest: int) -> list[float]:
    """E[kept fixation ms] with r ms left, written out from its definition with plain loops."""

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (0.486 * math.sqrt(2))))

    p = {d: cdf(d + 1) - cdf(d) for d in range(41, 1976)}
    p[40], p[1976] = cdf(41), 1 - cdf(1976)
    v = [0.0] * (longest + 1)
    for r in range(40, longest + 1):
        for d in range(40, min(r, 1976) + 1):
            after = [v[r - d - g] if r - d - g >= 0 else 0.0 for g in range(18, 46)]
            v[r] += p[d] * (d + sum(after) / len(after))
    return v


def test_kept_fixation_time_follows_the_renewal_by_hand():
    table = kept_ms_table(200.0, 30000)
    hand = by_hand_kept_ms(200.0, 259)
    assert np.allclose(table[:260], hand, rtol=1e-12, atol=1e-9)
    # the first onset is U{60..199} ms into the stop
    first = [hand[157 - a] if a <= 157 else 0.0 for a in range(60, 200)]
    assert expected_kept_ms(table, 157) == pytest.approx(np.mean(first), rel=1e-12)
    # a long stop: the renewal-reward rate, mean duration / (mean duration + mean gap 31.5 ms)
    q = (np.arange(100000) + 0.5) / 100000
    mean_d = np.floor(np.clip(200.0 * np.exp(0.486 * norm.ppf(q)), 40, 1976)).mean()
    assert table[30000] / 30000 == pytest.approx(mean_d / (mean_d + 31.5), rel=0.01)
    with pytest.raises(ValueError, match="longer than the table"):
        expected_kept_ms(table, 30001)


def tiny_screen() -> Simulator:
    """Two organic results and a shopping panel; a fixation median of 200 ms."""
    # decay 0.2 per 100 px, ads draw 1.5x the gaze; the click odds and overshoot play no part
    style = Style(0.2, 1.5, 0.3, 0.5, 0.0, fix_median=200.0, pace=1.0)
    items = [
        Item("organic", "rso", 1, 162, 200, 702, 300, "first", "a.com"),
        Item("organic", "rso", 2, 162, 400, 702, 500, "second", "b.com"),
        Item("dd_right", "rhs", 1, 802, 158, 1023, 700, "Shopping", ""),
    ]
    return Simulator(np.random.default_rng(0), style, items, page_h=2000)


def test_the_truth_of_a_tiny_screen_by_hand():
    sim, table = tiny_screen(), kept_ms_table(200.0, 5000)
    # gaze weights: exp(-0.2 x rows from the top / 100), ads x 1.5; the target gets 0.8 x the sum
    w = np.array([math.exp(-0.4), math.exp(-0.8), 1.5 * math.exp(-0.316)])
    chosen = w + np.array([0.8 * w.sum(), 0, 0])
    # background: x U(80, 1200), y U(60, 900) unscrolled; whole-px edges count (+- 0.5 px)
    b = np.array([541 / 1120 * 101 / 840, 541 / 1120 * 101 / 840, 222 / 1120 * 543 / 840])
    short = 0.84 * chosen / chosen.sum() + 0.16 * b
    # a final stop of 800 ms: fixations until 250 ms before the press, no last look
    assert stop_truth(sim, 0, 800, 0.0, 0, table) == pytest.approx(
        expected_kept_ms(table, 550) * short, rel=1e-9
    )
    # 3000 ms: plus the last look, 210 ms on the title line (x 172-422, y 216-234) jittered
    u = np.linspace(172, 422, 200001)
    look = (norm.cdf((702.5 - u) / 8) - norm.cdf((161.5 - u) / 8)).mean()
    long = stop_truth(sim, 0, 3000, 0.0, 0, table)
    assert 0.99 < look < 1
    assert long - expected_kept_ms(table, 2750) * short == pytest.approx(
        [210 * look, 0, 0], rel=1e-6, abs=1e-5
    )
    # after the press the eyes have no target; scrolled by 100 px, the background spans 0-900
    w = np.array([math.exp(-0.2), math.exp(-0.6), 1.5 * math.exp(-0.116)])
    b = np.array([541 / 1120 * 101 / 900, 541 / 1120 * 101 / 900, 222 / 1120 * 543 / 900])
    assert stop_truth(sim, 3000, 5000, 100.0, None, table) == pytest.approx(
        expected_kept_ms(table, 2000) * (0.84 * w / w.sum() + 0.16 * b), rel=1e-9
    )


def generated_screen(trial: int) -> tuple[Simulator, int, float]:
    """A page, a target and the final scroll offset as the generator makes them."""
    rng = keyed_rng(11, "trial", f"p004-b1-t{trial}")
    _, page_h, items = page_layout(rng, query_slug(11, 1, trial))
    sim = Simulator(rng, user_style(11, "p004"), items, page_h)
    target = sim.choose_target()
    return sim, target, sim.scroll_plan(target)[-1] * SCALE


def visits(sim: Simulator, target: int, px: float, times: tuple, seeds: range) -> list:
    """Fixation files of fresh visits of one screen: the final stop, then press to click."""
    start, press, click = times
    frames = []
    for k in seeds:
        sim.rng = np.random.default_rng([7, k])
        fix = sim.stop_fixations(start, press, px, target)
        fix += sim.stop_fixations(press, click, px, None)
        rows = [(t, round(x), round(y), d) for t, x, y, d in fix]  # as the file stores them
        frames.append(pd.DataFrame(rows, columns=FIXATION_COLUMNS))
    return frames


def tv(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a / a.sum() - b / b.sum()).sum())


@pytest.mark.parametrize("trial", [1, 2])  # unscrolled; scrolled by 700.1 px
def test_many_visits_of_one_screen_converge_to_the_truth(trial):
    sim, target, px = generated_screen(trial)
    times = (10_000, 15_000, 16_800)
    table = kept_ms_table(sim.style.fix_median, 6000)
    stop = stop_truth(sim, times[0], times[1], px, target, table)
    after = stop_truth(sim, times[1], times[2], px, None, table)
    boxes = [(i.kind, i.rank, i.x0, i.y0, i.x1, i.y1) for i in sim.items]
    aois = pd.DataFrame(boxes, columns=["kind", "rank", *BOX])
    slots = visible_aois(aois, round(px), 1280, 922)  # attributed as the pipeline does
    rows = slots["page_row"].to_numpy()
    assert stop[np.setdiff1d(np.arange(len(aois)), rows)].sum() == 0
    frames = visits(sim, target, px, times, range(1500))
    for end, truth in ((times[1], stop[rows]), (times[2], (stop + after)[rows])):
        mean = gaze_dwell(window_fixations(pd.concat(frames), times[0], end), slots[BOX].to_numpy())
        mean = mean / len(frames)
        assert tv(mean, truth) < 0.02
        assert mean.sum() == pytest.approx(truth.sum(), rel=0.03)
        single = [
            tv(gaze_dwell(window_fixations(f, times[0], end), slots[BOX].to_numpy()), truth)
            for f in frames[:15]
        ]
        assert np.median(single) > 0.05


def digest(folder: Path, skip: str = "") -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_file() and not (skip and name.startswith(skip)):
            h.update(name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adserp") / "data"
    generate_adserp(out, **GENERATE)
    return out


def test_the_truth_lies_beside_the_released_files_and_changes_none(
    generated, tmp_path, monkeypatch
):
    listing = list_trials(generated)
    assert listing.unrecognised == ()
    assert sorted(p.name for p in (generated / "truth").iterdir()) == [
        "gaze_truth.csv",
        "truth.json",
    ]
    truth = read_truth(generated / TRUTH_FILE)
    assert set(truth["trial_id"]) == set(listing.roles)
    assert json.loads((generated / TRUTH_INFO).read_text())["rows"] == len(truth)
    for name in ("kept_ms_table", "trial_truth", "write_truth"):
        monkeypatch.setattr(adserp_generate, name, lambda *args: None)
    generate_adserp(tmp_path / "data", **GENERATE)
    assert not (tmp_path / "data" / "truth").exists()
    assert digest(tmp_path / "data") == digest(generated, skip="truth")


@pytest.fixture(scope="module")
def shards(generated, tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("adserp_out")
    for user in USERS:
        run_trials(generated, user, work / "trials" / f"{user}.parquet")
    tables = sorted((work / "trials").glob("*.parquet"))
    run_split(tables, generated, work / "split.json", work / "report.json")
    for user in USERS:
        table, done = work / "trials" / f"{user}.parquet", work / "images" / f"{user}.json"
        run_render(table, generated, user, work, done)
        for truth, folder in ((generated / TRUTH_FILE, "samples"), (None, "plain")):
            shard = work / folder / f"{user}.parquet"
            run_shard(table, work / "split.json", done, user, shard, truth_path=truth)
    return work, generated / TRUTH_FILE


def test_samples_carry_the_truth_of_their_slots(shards):
    work, _ = shards
    samples = read_samples(sorted((work / "samples").glob("*.parquet")))
    assert len(samples) >= 6
    for row in samples.itertuples():
        truth = np.asarray(row.truth_ms)
        assert len(truth) == row.n_candidates == len(row.gaze_ms)
        assert (truth >= 0).all() and truth.sum() > 0
    observed = sum(float(np.sum(g)) for g in samples["gaze_ms"])
    planted = sum(float(np.sum(t)) for t in samples["truth_ms"])
    assert 0.75 < observed / planted < 1.3
    plain = read_samples(sorted((work / "plain").glob("*.parquet")))
    assert plain["truth_ms"].isna().all()


def test_the_truth_follows_the_decision_window(shards, generated, tmp_path):
    work, truth_path = shards
    truth = read_truth(truth_path)
    split = json.loads((work / "split.json").read_text())
    mapping = {q: s for s in ("train", "val", "test") for q in split[s]}
    trials = read_trials(sorted((work / "trials").glob("*.parquet")))
    run_trials(generated, USERS[0], tmp_path / "click.parquet", settings=Settings("click"))
    at_click = read_trials(tmp_path / "click.parquet")
    press = samples_from_trials(trials, mapping, USERS[0], truth).set_index("screen_id")
    click = samples_from_trials(at_click, mapping, USERS[0], truth).set_index("screen_id")
    for trial, row in click.iterrows():  # the window runs on to the logged click
        assert np.all(np.asarray(row["truth_ms"]) >= np.asarray(press.loc[trial, "truth_ms"]))
        assert np.sum(row["truth_ms"]) > np.sum(press.loc[trial, "truth_ms"])
    shifted = truth.assign(stop_start_ms=truth["stop_start_ms"] + 1)
    with pytest.raises(ValueError, match="window from"):
        samples_from_trials(trials, mapping, USERS[0], shifted)
