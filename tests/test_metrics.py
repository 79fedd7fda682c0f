"""Known answers for every metric, the aggregates and the composite score."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fixate.metrics import (
    METRICS,
    add_gap_closed,
    aggregate,
    composite_score,
    in_top_k,
    normalise,
    sample_metrics,
    top_k,
)


def test_identical_distributions_are_perfectly_aligned():
    q = [5.0, 3.0, 2.0, 1.0, 0.0]
    m = sample_metrics(q, q, choice=0)
    assert m["kl"] == pytest.approx(0.0, abs=1e-6)
    assert m["js"] == pytest.approx(0.0, abs=1e-12)
    assert m["cosine"] == pytest.approx(1.0)
    assert m["csh@1"] == 1.0 and m["tgo@1"] == 1.0 and m["tgo@3"] == 1.0
    assert m["topk_js"] == pytest.approx(0.0, abs=1e-12)
    assert set(m) == set(METRICS) - {"truth_kl"}  # only samples with a planted truth have it
    assert set(sample_metrics(q, q, choice=0, truth=q)) == set(METRICS)


def test_truth_kl_and_the_share_of_the_gap_closed():
    """KL(truth || model) by hand; R is 0 for the reference prior, 1 for the truth, and negative
    for a method farther from the truth than the prior."""
    truth, prior, model = [3.0, 1.0], [0.5, 0.5], [0.7, 0.3]
    kl = sample_metrics(model, [1, 1], choice=0, truth=truth)["truth_kl"]
    assert kl == pytest.approx(0.75 * math.log(0.75 / 0.7) + 0.25 * math.log(0.25 / 0.3), abs=1e-6)
    aggregates = {
        name: {"micro_truth_kl": sample_metrics(p, [1, 1], 0, truth=truth)["truth_kl"]}
        for name, p in {
            "position_prior": prior,
            "fixate": model,
            "truth": truth,
            "bad": [0.1, 0.9],
        }.items()
    }
    add_gap_closed(aggregates)
    assert aggregates["position_prior"]["micro_truth_r"] == 0.0
    assert aggregates["truth"]["micro_truth_r"] == pytest.approx(1.0, abs=1e-6)
    assert 0 < aggregates["fixate"]["micro_truth_r"] < 1
    assert aggregates["bad"]["micro_truth_r"] < 0
    assert "macro_truth_r" not in aggregates["fixate"]
    with pytest.raises(ValueError, match="truth slots"):
        sample_metrics(model, [1, 1], choice=0, truth=[1.0, 1.0, 1.0])


def test_disjoint_distributions_hit_the_js_bound():
    m = sample_metrics([1, 0, 0, 0], [0, 1, 0, 0], choice=1)
    assert m["js"] == pytest.approx(math.log(2))
    assert m["cosine"] == pytest.approx(0.0, abs=1e-7)
    assert m["csh@1"] == 0.0
    assert m["csh@3"] == pytest.approx(2 / 3)  # slot 0, then 2 of the 3 tied zeros
    assert m["tgo@1"] == 0.0


def test_kl_is_gaze_against_model_with_a_hand_computed_value():
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 0.25, 0.5])
    expected = 0.25 * math.log(0.5) + 0.5 * math.log(2)
    assert sample_metrics(p, q, 0)["kl"] == pytest.approx(expected, rel=1e-6)


def test_log_loss_and_auc_use_the_option_probabilities():
    m = sample_metrics([0.1, 0.2, 0.7], [1, 1, 1], choice=1, option_probs=[0.2, 0.5, 0.3])
    assert m["log_loss"] == pytest.approx(-math.log(0.5))
    assert m["auc"] == 1.0  # the clicked option beats both others
    tied = sample_metrics([1, 1, 1], [1, 1, 1], choice=0)
    assert tied["auc"] == 0.5  # all tied: half credit
    assert math.isnan(sample_metrics([1], [1], 0)["auc"])  # one candidate: no ranking


def test_zero_dwell_becomes_uniform_and_ties_break_to_the_lower_index():
    assert normalise([0, 0, 0, 0]).tolist() == [0.25] * 4
    assert top_k(np.array([0.2, 0.4, 0.4, 0.0]), 2).tolist() == [1, 2]
    assert in_top_k(np.array([0.2, 0.4, 0.4, 0.0]), 1).tolist() == [0.0, 0.5, 0.5, 0.0]


def test_k_larger_than_the_candidates_is_capped():
    m = sample_metrics([0.6, 0.4], [0.4, 0.6], choice=1)
    assert m["csh@5"] == 1.0 and m["tgo@5"] == 1.0 and m["tgo@1"] == 0.0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="3 model slots, 2 gaze slots"):
        sample_metrics([1, 1, 1], [1, 1], 0)
    with pytest.raises(ValueError, match="choice 5"):
        sample_metrics([1, 1], [1, 1], 5)


def test_micro_and_macro_averages():
    frame = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "js": [0.0, 0.0, 0.3, 0.6]})
    out = aggregate(frame, ["js"])
    assert out["micro_js"] == pytest.approx(0.225)
    assert out["macro_js"] == pytest.approx((0.1 + 0.6) / 2)
    assert out["n_samples"] == 4 and out["n_users"] == 2


def test_composite_score_skips_the_answer_term_when_teacher_forced():
    agg = {
        "micro_cosine": 1.0,
        "micro_csh@1": 1.0,
        "micro_csh@3": 1.0,
        "micro_tgo@3": 1.0,
        "micro_topk_js": 0.0,
        "micro_answer_accuracy": 1.0,
    }
    assert composite_score(agg, with_answer=True) == pytest.approx(1.0)
    assert composite_score(agg, with_answer=False) == pytest.approx(0.75)
    assert math.isnan(composite_score({"micro_cosine": 1.0}, with_answer=False))


@pytest.mark.parametrize("n", [5, 10, 15])
def test_every_candidate_count_of_the_carousel(n):
    q = np.zeros(n)
    q[n - 1] = 1.0  # all gaze on the last slot
    p = np.linspace(1, 2, n)  # the model ranks the last slot first
    m = sample_metrics(p, q, choice=n - 1)
    assert m["csh@1"] == 1.0 and m["tgo@1"] == 1.0
    # q's top 3: the last slot, then 2 of the n - 1 tied zero-dwell slots at random
    assert m["tgo@3"] == pytest.approx((1 + 4 / (n - 1)) / 3)
    assert m["auc"] == 1.0
    assert m["kl"] == pytest.approx(-math.log(p[-1] / p.sum()), rel=1e-6)


def test_ties_count_in_expectation_so_uniform_scores_k_over_n():
    m = sample_metrics([0.25, 0.25, 0.25, 0.25, 0.0], [0, 0, 0, 1, 0], choice=3)
    assert m["csh@1"] == pytest.approx(0.25) and m["csh@3"] == pytest.approx(0.75)
    assert m["csh@5"] == 1.0 and m["tgo@1"] == pytest.approx(0.25)
    uniform = sample_metrics(np.ones(10), np.arange(10.0), choice=0)
    assert uniform["csh@3"] == pytest.approx(0.3) and uniform["tgo@3"] == pytest.approx(0.3)


def test_aggregating_and_reporting_need_no_model_code():
    """The aggregate, table and study rules run where no GPU stack is installed: they import
    the four-way test's mode names from `fixate.metrics`, never torch."""
    code = (
        "import sys, fixate.aggregate, fixate.report.tables, fixate.report.study, "
        "fixate.report.enroll; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
