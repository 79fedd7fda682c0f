"""Probing operators (known answers on hand-made attention stacks) and the one probe pipeline."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_fixtures import filler_prompt, make_screen, rules_training_probe, tolerance

from fixate.models import load_backbone
from fixate.models.tiny import TINY_KINDS
from fixate.probe import OPERATORS, probe
from fixate.probe.attnlrp_rules import _FrozenRMSNorm, _IdentityRule, _Rules, lrp_rules
from fixate.probe.operators import (
    EPS,
    glimpse,
    glimpse_depth_weights,
    glimpse_head_weights,
    glimpse_layer,
    grad_attention,
    rollout,
    target_scalar,
)
from fixate.probe.slots import normalise, overlap_matrix

pytest_plugins = ["model_fixtures"]

OPERATOR_NAMES = sorted(OPERATORS)


def causal_maps(layers: int, batch: int = 2, heads: int = 3, length: int = 6, seed: int = 0):
    """Random row-stochastic causal attention maps, shallow -> deep, (B, H, T, T) each."""
    generator = torch.Generator().manual_seed(seed)
    future = ~torch.ones(length, length, dtype=torch.bool).tril()
    return [
        torch.randn(batch, heads, length, length, generator=generator)
        .masked_fill(future, float("-inf"))
        .softmax(-1)
        for _ in range(layers)
    ]


def random_like(maps, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(m.shape, generator=generator) for m in maps]


# ---------------------------------------------------------------------------- operators, by hand
def test_rollout_of_identity_attention_is_identity():
    maps = [torch.eye(5).expand(1, 2, 5, 5) for _ in range(3)]
    for discard in (0.0, 0.5):
        rows = torch.cat([rollout(maps, q, discard_ratio=discard) for q in range(5)])
        torch.testing.assert_close(rows, torch.eye(5))


def test_rollout_row_equals_the_full_product():
    maps = causal_maps(3)
    product = torch.eye(6).expand(2, 6, 6)
    for attention in maps:  # R = A_L ... A_1, newest on the left
        step = 0.5 * attention.mean(1) + 0.5 * torch.eye(6)
        product = (step / step.sum(-1, keepdim=True)) @ product
    for q in range(6):
        torch.testing.assert_close(rollout(maps, q), product[:, q])


def test_rollout_discard_is_blind_to_padding():
    maps = causal_maps(2, batch=1, length=5)
    padded = []
    for attention in maps:
        wide = torch.zeros(1, 3, 7, 7)
        wide[..., 2:, 2:] = attention
        wide[..., :2, :] = 1 / 7  # padded queries attend anywhere; nothing attends to them
        padded.append(wide)
    valid = torch.tensor([[False, False, True, True, True, True, True]])
    alone = rollout(maps, 4, discard_ratio=0.4)
    torch.testing.assert_close(rollout(padded, 6, discard_ratio=0.4, valid=valid)[:, 2:], alone)


def test_glimpse_weights_sum_to_one():
    maps = causal_maps(4)
    grads = [g.abs() + 0.5 for g in random_like(maps)]  # every row has some realised gradient
    for attention, gradient in zip(maps, grads, strict=True):
        heads = glimpse_head_weights(torch.relu(gradient * attention), gradient, 0.5)
        torch.testing.assert_close(heads.sum(-1), torch.ones(2))
        rows = glimpse_layer(attention, gradient, 0.5).sum(-1)
        torch.testing.assert_close(rows, torch.ones_like(rows), atol=1e-3, rtol=0)
    depth = glimpse_depth_weights(random_like(maps), 0.2)
    torch.testing.assert_close(depth.sum(-1), torch.ones(2), atol=1e-5, rtol=0)


def test_glimpse_known_answers():
    maps = causal_maps(2)
    uniform = [torch.ones_like(m) for m in maps]
    # a uniform positive gradient favours no head: each layer's map is the head mean
    torch.testing.assert_close(
        glimpse_layer(maps[0], uniform[0], 0.5), maps[0].mean(1), atol=1e-3, rtol=0
    )
    # equal gradient mass in every layer: the depth weights are the depth prior softmax(0.2 l)
    prior = torch.softmax(0.2 * torch.arange(1.0, 3.0), 0)
    torch.testing.assert_close(
        glimpse_depth_weights(uniform, 0.2), prior.expand(2, 2), atol=1e-5, rtol=0
    )
    # a head realising more of its gradient gets more weight
    gradient = torch.ones(1, 2, 6, 6)
    attention = torch.stack([maps[0][0, 0], torch.eye(6) * 0.01], 0)[None]
    weights = glimpse_head_weights(torch.relu(gradient * attention), gradient, 0.5)
    assert weights[0, 0] > weights[0, 1]
    # no gradient, no relevance: R[q] is the query itself
    zero = [torch.zeros_like(m) for m in maps]
    torch.testing.assert_close(glimpse(maps, zero, 3), torch.eye(6)[3].expand(2, 6))


def test_glimpse_row_equals_the_full_product():
    maps, grads = causal_maps(3), random_like(causal_maps(3))
    layers = [glimpse_layer(a, g, 0.5) for a, g in zip(maps, grads, strict=True)]
    alpha = glimpse_depth_weights(grads, 0.2)
    full = torch.eye(6).expand(2, 6, 6)
    for index, layer in enumerate(layers):  # R <- R + (alpha_l E_l) R, shallow to deep
        full = full + (alpha[:, index, None, None] * layer) @ full
    for q in range(6):
        torch.testing.assert_close(glimpse(maps, grads, q), full[:, q])


def test_glimpse_in_bf16_agrees_with_fp32_products():
    """The low-memory path (T x T products in the maps' dtype) within bf16 rounding of fp32."""
    maps, grads = causal_maps(3), random_like(causal_maps(3))
    valid = torch.tensor([[False, True, True, True, True, True], [True] * 6])
    low = [m.bfloat16() for m in maps], [g.bfloat16() for g in grads]
    for q in (2, 5):
        exact = glimpse(maps, grads, q, valid=valid, upcast=True)
        assert glimpse(*low, q, valid=valid).dtype == torch.float32
        torch.testing.assert_close(glimpse(*low, q, valid=valid), exact, atol=2e-2, rtol=0)
        torch.testing.assert_close(glimpse(maps, grads, q, valid=valid), exact)


def test_grad_attention_known_answer():
    maps = causal_maps(3)
    ones = [torch.ones_like(m) for m in maps]
    expected = torch.eye(6)[4].expand(2, 6).clone()
    for weight, attention in zip((1 / 6, 2 / 6, 3 / 6), maps, strict=True):
        expected += weight * attention.mean(1)[:, 4] / (1 + EPS)
    for stable in (True, False):  # all-positive rows: both normalisations agree
        torch.testing.assert_close(grad_attention(maps, ones, 4, stable=stable), expected)


def test_grad_attention_stable_variant_is_bounded():
    """Where a head row's signed sum cancels, the reference's division explodes; ours does not."""
    attention = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]])[None]
    gradient = torch.tensor([[[0.0, 0.0, 0.0], [1.0, -1.0001, 0.0], [1.0, 1.0, 1.0]]])[None]
    reference = grad_attention([attention], [gradient], 1, stable=False)
    stable = grad_attention([attention], [gradient], 1, stable=True)
    assert reference.abs().max() > 1e3
    assert stable.abs().max() <= 1.0 + 1e-6
    relu = grad_attention([attention], [gradient], 1, relu=True)
    torch.testing.assert_close(
        relu, grad_attention([attention], [gradient], 1, stable=False, relu=True)
    )


def test_target_scalar():
    logits = torch.arange(24.0).reshape(2, 2, 6)
    answers = torch.tensor([[-100, 1], [2, 3]])
    torch.testing.assert_close(target_scalar(logits, answers), torch.tensor([7.0, 14.0 + 21.0]))
    torch.testing.assert_close(target_scalar(logits, None), torch.tensor([11.0, 23.0]))


def test_overlap_and_normalise():
    cells = torch.tensor([[0.0, 0.0, 2.0, 2.0], [2.0, 0.0, 4.0, 2.0]])
    boxes = torch.tensor([[1.0, 0.0, 3.0, 2.0], [0.0, 0.0, 4.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    expected = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    torch.testing.assert_close(overlap_matrix(cells, boxes), expected)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    mass = torch.tensor([[1.0, 3.0, 5.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(
        normalise(mass, mask), torch.tensor([[0.25, 0.75, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    )


# ---------------------------------------------------------------------------- the pipeline
@pytest.mark.parametrize("operator", OPERATOR_NAMES)
def test_probe_modes_agree_and_reach_the_soft_prompt(backbone, device, operator):
    batch = backbone.encode([make_screen(3), make_screen(11, n_slots=10)], n_soft=4)
    features = backbone.image_features(batch)
    soft = torch.nn.Parameter(filler_prompt(backbone, 4) + 0.01)
    trained = probe(
        backbone, batch, soft, operator=operator, window=2, differentiable=True, features=features
    )
    assert trained.slots.shape == (2, 15) and trained.slot_mask.sum(1).tolist() == [15, 10]
    torch.testing.assert_close(trained.slots.sum(-1), torch.ones(2, device=device))
    assert torch.all(trained.slots[1, 10:] == 0)
    loss = -(trained.slots[trained.slot_mask] + 1e-8).log().mean()
    loss.backward()
    assert torch.isfinite(soft.grad).all() and soft.grad.abs().sum() > 0
    evaluated = probe(backbone, batch, soft, operator=operator, window=2, features=features)
    assert not evaluated.slots.requires_grad and soft.grad is not None
    torch.testing.assert_close(evaluated.slots, trained.slots.detach(), **tolerance(device))
    torch.testing.assert_close(evaluated.target, trained.target.detach(), **tolerance(device))


@pytest.mark.parametrize("operator", OPERATOR_NAMES)
def test_padded_batch_equals_each_screen_alone(backbone, device, operator):
    screens = [
        make_screen(1, profile="Top_genre: Horror"),
        make_screen(8, profile="Top_genre: Comedy, Preferred_genres: Drama|Romance", n_slots=10),
    ]
    batch = probe(backbone, backbone.encode(screens), operator=operator, window=3).slots
    for i, screen in enumerate(screens):
        alone = probe(backbone, backbone.encode([screen]), operator=operator, window=3).slots[0]
        torch.testing.assert_close(batch[i, : len(alone)], alone, **tolerance(device))


def test_probe_without_answer_uses_the_top_logit(backbone):
    batch = backbone.encode([make_screen(answer=None)])
    result = probe(backbone, batch, operator="rollout")
    assert result.logits.shape[1] == 1 and batch.query_index == batch.input_ids.shape[1] - 1
    torch.testing.assert_close(result.target, result.logits[:, -1].float().max(-1).values)
    with pytest.raises(ValueError, match="window"):
        probe(backbone, batch, operator="glimpse", window=0)
    with pytest.raises(ValueError, match="unknown operator"):
        probe(backbone, batch, operator="saliency")


def test_cp_lrp_conserves_the_logit(backbone, device):
    """CP-LRP relevance over text, image and DeepStack inputs sums to the answer logit: the rules
    are wired through every layer and no input (DeepStack included) is left out."""
    batch = backbone.encode([make_screen(6)], n_soft=2)
    soft = filler_prompt(backbone, 2)
    result = probe(backbone, batch, soft, operator="attnlrp-rules", rule="cp")
    error = (result.relevance.sum(-1) - result.target).abs() / result.target.abs()
    assert error.max() < (1e-4 if device.type == "cpu" else 5e-2)
    full = probe(backbone, batch, soft, operator="attnlrp-rules")
    assert torch.isfinite(full.relevance).all()


def test_lrp_rules_change_gradients_not_values(backbone, device):
    batch = backbone.encode([make_screen(2)])
    with torch.no_grad():
        plain = backbone.run(batch).logits
        with lrp_rules(backbone.language_model):
            ruled = backbone.run(batch).logits
    torch.testing.assert_close(ruled, plain, **tolerance(device))
    patched = [m for m in backbone.language_model.modules() if "forward" in vars(m)]
    assert not patched


def _detached_identity_rule(x):
    ratio = (F.silu(x) / torch.where(x >= 0, x + 1e-10, x - 1e-10)).detach()
    return F.silu(x).detach() + (x - x.detach()) * ratio


def _detached_rms_norm(x, weight, epsilon=1e-6):
    scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + epsilon)
    return weight * (x * scale.detach())


def _rule_pair(rule: str, rules: _Rules, generator: torch.Generator):
    """The rule's autograd function, its detach formulation, and the plain function it rules."""
    weight = torch.rand(6, generator=generator, dtype=torch.float64) + 0.5
    return {
        "identity": (
            lambda x: _IdentityRule.apply(x, F.silu, rules),
            _detached_identity_rule,
            F.silu,
        ),
        "rms_norm": (
            lambda x: _FrozenRMSNorm.apply(x, weight, 1e-6, rules),
            lambda x: _detached_rms_norm(x, weight),
            lambda x: F.rms_norm(x, (6,), weight, 1e-6),
        ),
    }[rule]


@pytest.mark.parametrize("rule", ["identity", "rms_norm"])
def test_rule_functions_match_the_detach_formulation(rule):
    """Under the rules, values, gradients and second derivatives (through the gradient) of the
    rules' autograd functions equal those of the detach trick they stand for."""
    generator = torch.Generator().manual_seed(0)
    pair = _rule_pair(rule, _Rules(active=True), generator)[:2]
    upstream = torch.randn(3, 6, generator=generator, dtype=torch.float64)
    start = torch.randn(3, 6, generator=generator, dtype=torch.float64)
    results = []
    for function in pair:
        x = (start * 1.0).requires_grad_(True)
        w = upstream.clone().requires_grad_(True)  # the incoming gradient, itself differentiated
        y = function(x * x)  # x * x: so the second derivative reaches x through the rule's input
        (grad,) = torch.autograd.grad((y * w).sum(), x, create_graph=True)
        grad.pow(2).sum().backward()
        results.append((y.detach(), grad.detach(), x.grad, w.grad))
    for ours, detached in zip(*results, strict=True):
        torch.testing.assert_close(ours, detached)


@pytest.mark.parametrize("rule", ["identity", "rms_norm"])
def test_rule_functions_give_true_gradients_when_the_rules_are_off(rule):
    generator = torch.Generator().manual_seed(2)
    ruled, _, plain = _rule_pair(rule, _Rules(active=False), generator)
    start = torch.randn(3, 6, generator=generator, dtype=torch.float64)
    torch.autograd.gradcheck(ruled, (start.clone().requires_grad_(True),))
    x = start.clone().requires_grad_(True)
    torch.testing.assert_close(ruled(x), plain(x))


def test_rules_shape_only_the_relevance_backward(backbone, device):
    """The rule-based trace's logits carry the model's own gradients (the answer loss trains on
    them without a second forward pass), and no rule is left bound to the model."""
    batch = backbone.encode([make_screen(5), make_screen(7, n_slots=10)], n_soft=3)
    features = backbone.image_features(batch)
    soft, traced = rules_training_probe(backbone, batch, features)
    plain = backbone.forward(batch, backbone.embed(batch, soft), features)
    grads = []
    for logits in (traced.logits, plain.logits):
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch.answer_ids.flatten())
        grads.append(torch.autograd.grad(loss, soft, retain_graph=True)[0])
    torch.testing.assert_close(traced.logits, plain.logits, **tolerance(device))
    torch.testing.assert_close(grads[0], grads[1], **tolerance(device))
    assert grads[0].abs().sum() > 0
    assert not [m for m in backbone.language_model.modules() if "forward" in vars(m)]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("operator", OPERATOR_NAMES)
def test_bf16_on_gpu_stays_close_to_fp32(tiny_models, operator):
    """The fp32 operators keep bf16 slot distributions close to fp32 ones on the same weights."""
    for name, folder in tiny_models.items():
        bf16 = load_backbone(folder, TINY_KINDS[name], device="cuda")
        fp32 = load_backbone(folder, TINY_KINDS[name], device="cuda")
        fp32.model.float()
        screens = [make_screen(4), make_screen(9, profile="Top_genre: Drama")]
        a = probe(bf16, bf16.encode(screens), operator=operator).slots
        b = probe(fp32, fp32.encode(screens), operator=operator).slots
        assert (a - b).abs().max() < 0.05, (name, operator)


COMPILED_ON = [
    pytest.param("cpu", "aot_eager", id="cpu-aot_eager"),
    pytest.param("cuda", "inductor", id="cuda-inductor", marks=pytest.mark.gpu),
]


@pytest.mark.parametrize(("device", "backend"), COMPILED_ON)
@pytest.mark.parametrize("name", sorted(TINY_KINDS))
def test_layers_compiled_below_the_window_train_as_the_uncompiled_ones(
    tiny_models, name, device, backend
):
    """`compile_below_window`: the layers below the window compiled, the window left as is, the
    operators' arithmetic on the maps compiled once; every compilable operator's training probe
    gives the same slots and soft-prompt gradient.
    On the CPU, AOTAutograd without code generation (it traces and differentiates as inductor
    does, in a second rather than half a minute); on a GPU, inductor's fused kernels."""
    device = torch.device(device)
    backbone = load_backbone(tiny_models[name], TINY_KINDS[name], device=device)
    batch = backbone.encode([make_screen(3), make_screen(11, n_slots=10)], n_soft=4)
    features = backbone.image_features(batch)
    operators = [o for o in OPERATOR_NAMES if OPERATORS[o].compilable]

    def step(operator: str) -> tuple[torch.Tensor, torch.Tensor]:
        soft = torch.nn.Parameter(filler_prompt(backbone, 4) + 0.01)
        trained = probe(
            backbone,
            batch,
            soft,
            operator=operator,
            window=2,
            differentiable=True,
            features=features,
        )
        (-(trained.slots[trained.slot_mask] + 1e-8).log().mean()).backward()
        return trained.slots.detach(), soft.grad

    plain = {operator: step(operator) for operator in operators}
    combine = OPERATORS["glimpse"].combine
    assert backbone.compiled(combine) is combine
    backbone.compile_below_window(2, backend=backend, dynamic=True)
    layers = backbone.language_model.layers
    assert all("forward" in vars(layer) for layer in layers[:-2])
    assert not any("forward" in vars(layer) for layer in layers[-2:])
    assert backbone.compiled(combine) is backbone.compiled(combine) is not combine
    for operator in operators:
        slots, grad = step(operator)
        torch.testing.assert_close(slots, plain[operator][0], **tolerance(device))
        assert float((grad - plain[operator][1]).norm() / plain[operator][1].norm()) < (
            1e-4 if device.type == "cpu" else 5e-2
        )
