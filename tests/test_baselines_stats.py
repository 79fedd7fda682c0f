"""The non-VLM baselines and the seed/user statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixate.baselines import SlotPriors, score_baselines
from fixate.data.samples import with_signal
from fixate.stats import identity_test, paired_wilcoxon, seed_summary


def samples(rows):
    return pd.DataFrame(
        rows,
        columns=["user_id", "screen_id", "split", "n_candidates", "label", "gaze_ms", "cursor_ms"],
    )


TRAIN = samples(
    [
        ("a", "T1", "train", 3, 0, [300.0, 100.0, 0.0], [1.0, 0.0, 0.0]),
        ("a", "T2", "train", 3, 0, [100.0, 300.0, 0.0], [0.0, 0.0, 0.0]),
        ("b", "T1", "train", 2, 1, [0.0, 200.0], [0.0, 5.0]),
    ]
)


def test_population_and_user_priors_average_normalised_dwell_per_slot():
    priors = SlotPriors(TRAIN)
    # slot 0: (0.75 + 0.25 + 0) / 3, slot 1: (0.25 + 0.75 + 1) / 3, slot 2: 0 / 2
    assert priors.population(3) == pytest.approx(np.array([1, 2, 0]) / 3)
    assert priors.user("a", 3) == pytest.approx([0.5, 0.5, 0.0])
    # user b never had a third slot: that position falls back to the population prior
    own = np.array([0.0, 1.0, 0.0])
    assert priors.user("b", 3) == pytest.approx(own / own.sum())
    assert priors.user("new", 2) == pytest.approx(priors.population(2))


def test_baselines_score_only_test_samples_with_every_metric():
    test = samples([("a", "T9", "test", 3, 1, [0.0, 500.0, 0.0], [0.0, 0.0, 0.0])])
    scored = score_baselines(pd.concat([TRAIN, test]))
    assert sorted(scored["baseline"]) == ["position_prior", "uniform", "user_prior"]
    uniform = scored[scored["baseline"] == "uniform"].iloc[0]
    assert uniform["csh@1"] == pytest.approx(1 / 3)
    assert uniform["log_loss"] == pytest.approx(np.log(3))
    prior = scored[scored["baseline"] == "position_prior"].iloc[0]
    assert prior["csh@1"] == 1.0  # slot 1 has the largest population prior


def test_signal_selection():
    assert list(with_signal(TRAIN, "fixation")["screen_id"]) == ["T1", "T2", "T1"]
    assert list(with_signal(TRAIN, "cursor")["user_id"]) == ["a", "b"]
    assert len(with_signal(TRAIN, "fixation", require_both=True)) == 2
    with pytest.raises(ValueError, match="signal must be one of"):
        with_signal(TRAIN, "pupil")


def test_seed_summary():
    out = seed_summary([{"js": 0.1, "n": 3}, {"js": 0.3, "n": 3}, {"js": float("nan")}])
    assert out["js"]["mean"] == pytest.approx(0.2) and out["js"]["n"] == 2
    assert out["js"]["std"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert seed_summary([{"js": 0.1}])["js"]["std"] is None


def test_paired_wilcoxon_detects_a_consistent_gain():
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(12) for _ in range(3)]
    base = pd.DataFrame({"user_id": users, "cosine": rng.uniform(0.3, 0.5, len(users))})
    better = base.assign(cosine=base["cosine"] + 0.2)
    out = paired_wilcoxon(base, better, ["cosine"])["cosine"]
    assert out["n_users"] == 12 and out["mean_delta"] == pytest.approx(0.2)
    assert out["p_wilcoxon"] < 0.01
    assert paired_wilcoxon(base, base, ["cosine"])["cosine"]["p_wilcoxon"] == 1.0
    few = paired_wilcoxon(base.head(9), better.head(9), ["cosine"])["cosine"]
    assert few["p_wilcoxon"] is None and few["n_users"] == 3


def test_planted_truth_baseline_scores_the_noise_ceiling():
    """With a truth column the baselines report KL to it, and the truth itself is a baseline
    whose truth_kl is 0 and whose kl to the observed gaze is the noise ceiling."""
    rows = [*TRAIN.itertuples(index=False), ("a", "T9", "test", 3, 0, [200.0, 0.0, 0.0], [1.0] * 3)]
    frame = samples(rows).assign(truth_ms=[None, None, None, [2.0, 1.0, 1.0]])
    scored = score_baselines(frame).set_index("baseline")
    assert set(scored.index) == {"uniform", "position_prior", "user_prior", "planted_truth"}
    assert scored.loc["planted_truth", "truth_kl"] == pytest.approx(0.0, abs=1e-6)
    assert scored.loc["planted_truth", "kl"] == pytest.approx(np.log(2.0), abs=1e-6)
    assert scored.loc["uniform", "truth_kl"] > 0


def test_identity_test_sees_whether_weights_carry_the_user():
    users = [f"u{i}" for i in range(12)]
    own = pd.DataFrame({"user_id": users, "truth_kl": np.linspace(0.1, 0.2, 12)})
    better_own = own.assign(truth_kl=own["truth_kl"] + np.linspace(0.01, 0.05, 12))
    result = identity_test(own, better_own)
    assert result["n_users"] == 12 and result["mean_delta"] == pytest.approx(0.03)
    assert result["p_wilcoxon_greater"] < 0.001
    assert identity_test(own, own)["p_wilcoxon_greater"] == 1.0  # one prompt for everyone
    rounding = own.assign(truth_kl=own["truth_kl"] + np.linspace(-2e-8, 3e-8, 12))
    assert identity_test(own, rounding)["p_wilcoxon_greater"] == 1.0  # float32 rounding only
    assert identity_test(own.iloc[:3], own.iloc[:3])["p_wilcoxon_greater"] is None
