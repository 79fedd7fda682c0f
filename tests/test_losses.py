"""Alignment losses on hand-computed cases, with padding, and the lambda schedule."""

from __future__ import annotations

import math

import pytest
import torch

from fixate.losses import AlignmentLoss, attention_weight, dwell_distribution


def test_plain_kl_matches_a_hand_computed_value_and_ignores_padding():
    g = torch.tensor([[0.5, 0.5, 0.0]])
    a = torch.tensor([[0.25, 0.75, 0.9]])
    mask = torch.tensor([[True, True, False]])
    loss = AlignmentLoss("plain_kl", eps=0.0)(g, a, mask)
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_weighted_kl_with_gamma_zero_is_plain_kl_over_the_slot_count():
    g = torch.tensor([[0.7, 0.2, 0.1, 0.0]])
    a = torch.tensor([[0.3, 0.3, 0.3, 0.1]])
    mask = torch.tensor([[True, True, True, False]])
    plain = AlignmentLoss("plain_kl")(g, a, mask)
    flat = AlignmentLoss("weighted_full_kl", gamma=0.0)(g, a, mask)
    assert flat.item() == pytest.approx(plain.item() / 3, rel=1e-6)


def test_weighted_kl_weights_each_slot_by_its_squared_gaze_share():
    g = torch.tensor([[0.8, 0.2]])
    a = torch.tensor([[0.5, 0.5]])
    loss = AlignmentLoss("weighted_full_kl", gamma=2.0, eps=0.0, eps_pw=0.0)(g, a, torch.ones(1, 2))
    w = torch.tensor([0.64, 0.04]) / 0.68
    terms = torch.tensor([0.8 * math.log(0.8 / 0.5), 0.2 * math.log(0.2 / 0.5)])
    assert loss.item() == pytest.approx((w * terms).sum().item(), rel=1e-6)


def test_coarsened_kl_pools_the_tail():
    g = torch.tensor([[0.6, 0.3, 0.05, 0.05]])
    a = torch.tensor([[0.6, 0.3, 0.1, 0.0]])  # differs only inside the tail
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert AlignmentLoss("coarsened_kl", top_k=2)(g, a, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert AlignmentLoss("plain_kl")(g, a, mask).item() > 0.01


def test_losses_are_zero_at_the_target_and_batch_rows_with_different_widths():
    g = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    for mode in ("plain_kl", "weighted_full_kl", "coarsened_kl"):
        assert AlignmentLoss(mode)(g, g, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_flows_to_the_model_distribution():
    g = torch.tensor([[0.7, 0.3]])
    logits = torch.zeros(1, 2, requires_grad=True)
    AlignmentLoss()(g, logits.softmax(-1), torch.ones(1, 2)).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 0] < 0


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="alignment mode must be one of"):
        AlignmentLoss("l2")


def test_dwell_distribution_floors_candidates_and_zeroes_padding():
    dwell = torch.tensor([[300.0, 100.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    d = dwell_distribution(dwell, mask)
    assert d.sum().item() == pytest.approx(1.0)
    assert d[0, 3].item() == 0.0 and 0 < d[0, 2].item() < 1e-7
    assert d[0, 0].item() == pytest.approx(0.75, rel=1e-6)


def test_lambda_warms_up_then_ramps():
    values = [attention_weight(t, 0.5, 30) for t in (0, 29, 30, 45, 60, 100)]
    assert values == [0.0, 0.0, 0.0, 0.25, 0.5, 0.5]
    assert attention_weight(0, 0.5, 30, with_choice_loss=False) == 0.5
