"""lean_attention: SDPA's forward with exact first and second derivatives, and the rule-based
AttnLRP through it giving what it gives through eager attention."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from model_fixtures import make_screen, rules_training_probe, tolerance

from fixate.models.attention import eager_attention, lean_attention
from fixate.probe import attnlrp_rules

pytest_plugins = ["model_fixtures"]

HEADS, KV_HEADS, LENGTH, DIM = 4, 2, 7, 8
MODULE = SimpleNamespace(num_key_value_groups=HEADS // KV_HEADS, scaling=DIM**-0.5)


def padded_mask(pads: list[int], length: int = LENGTH) -> torch.Tensor:
    """`sdpa_mask`'s boolean (B, 1, T, T) mask of a left-padded batch (True = attend)."""
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    keys = torch.arange(length)[None] >= torch.tensor(pads)[:, None]
    return (causal[None] & keys[:, None])[:, None]


def inputs(batch: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)

    def make(heads):
        shape = (batch, heads, LENGTH, DIM)
        return torch.randn(shape, generator=generator, dtype=torch.float64).requires_grad_(True)

    return make(HEADS), make(KV_HEADS), make(KV_HEADS)


# two blocks of query rows (4 + 3) for the backward, so the blocks are tested too
BLOCK = 2 * HEADS * LENGTH * 4


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("mask", [None, padded_mask([3, 0])], ids=["causal", "padded"])
def test_derivatives_are_exact_to_second_order(mask, device):
    """Numerical first and second derivatives (the second through the output gradient too); the
    first without a graph runs SDPA's backward, with one the written-out blocks."""
    if mask is not None:
        mask = mask.to(device)

    def attend(query, key, value):
        return lean_attention(MODULE, query, key, value, mask, block_elements=BLOCK)[0]

    tensors = [t.detach().to(device).requires_grad_(True) for t in inputs()]
    assert torch.autograd.gradcheck(attend, tensors, fast_mode=True)
    assert torch.autograd.gradgradcheck(attend, tensors, fast_mode=True)


@pytest.mark.gpu
def test_bf16_derivatives_agree_with_fp32():
    """In bf16 (what training runs), at a size where rounding adds up, on a padded batch: the
    first derivatives by SDPA's fused backward (no graph) and by the written-out blocks (with a
    graph), and the second derivatives, against the same in fp32 (relative error of each)."""
    b, heads, kv_heads, length, dim = 2, 8, 2, 136, 64
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads, scaling=dim**-0.5)
    mask = padded_mask([9, 0], length).cuda()
    generator = torch.Generator(device="cuda").manual_seed(0)

    def make(*shape):
        return torch.randn(shape, generator=generator, device="cuda")

    tensors = [make(b, h, length, dim) for h in (heads, kv_heads, kv_heads)]
    upstream = make(b, length, heads, dim)
    weights = [make(*t.shape) for t in tensors]

    def derivatives(dtype: torch.dtype) -> list[torch.Tensor]:
        leaves = [t.to(dtype).requires_grad_(True) for t in tensors]
        output = lean_attention(module, *leaves, mask)[0]
        plain = torch.autograd.grad(output, leaves, upstream.to(dtype), retain_graph=True)
        first = torch.autograd.grad(output, leaves, upstream.to(dtype), create_graph=True)
        functional = sum((f * w.to(dtype)).sum() for f, w in zip(first, weights, strict=True))
        return [*plain, *first, *torch.autograd.grad(functional, leaves)]

    for low, high in zip(derivatives(torch.bfloat16), derivatives(torch.float32), strict=True):
        assert low.dtype == torch.bfloat16
        error = (low.float() - high).norm() / high.norm()
        assert error < 2e-2, error.item()


def test_same_values_and_derivatives_as_eager_attention():
    """On every position that attends to something (padded queries are zero in SDPA)."""
    mask = padded_mask([3, 0])
    live = mask.any(-1)[:, 0, :, None, None].double()  # (B, T, 1, 1) over (B, T, H, d)
    generator = torch.Generator().manual_seed(5)
    upstream = torch.randn(2, LENGTH, HEADS, DIM, generator=generator, dtype=torch.float64)
    probe_weights = [
        torch.randn(t.shape, generator=generator, dtype=torch.float64) for t in inputs()
    ]
    results = []
    for function in (eager_attention, lean_attention):
        query, key, value = inputs()
        weights = (upstream * live).requires_grad_(True)
        output = function(MODULE, query, key, value, mask)[0]
        first = torch.autograd.grad(
            (output * weights).sum(), (query, key, value), create_graph=True
        )
        second = sum((g * w).sum() for g, w in zip(first, probe_weights, strict=True))
        second.backward()
        grads = [query.grad, key.grad, value.grad, weights.grad * live]
        results.append([output * live, *first, *grads])
    for lean, eager in zip(*results, strict=True):
        torch.testing.assert_close(lean, eager)


def _eager_rules(module, query, key, value, attention_mask, **kwargs):
    output, _ = eager_attention(module, query, key, value, attention_mask, **kwargs)
    return output, None


def test_rules_relevance_and_training_gradient_as_with_eager_attention(
    backbone, device, monkeypatch
):
    """The rule-based AttnLRP's relevance and its gradient at the soft prompt, on a padded batch,
    are those of the eager attention it replaced."""
    screens = [make_screen(3, profile="Top_genre: Horror"), make_screen(11, n_slots=10)]
    batch = backbone.encode(screens, n_soft=4)
    features = backbone.image_features(batch)
    results = []
    for function in (attnlrp_rules.lean_attention, _eager_rules):
        monkeypatch.setattr(attnlrp_rules, "lean_attention", function)
        soft, result = rules_training_probe(backbone, batch, features)
        (result.slots[result.slot_mask] + 1e-8).log().mean().backward()
        results.append((result.relevance.detach(), result.slots.detach(), soft.grad))
    (relevance, slots, grad), (eager_relevance, eager_slots, eager_grad) = results
    torch.testing.assert_close(relevance, eager_relevance, **tolerance(device))
    torch.testing.assert_close(slots, eager_slots, **tolerance(device))
    # a second-order gradient through every bf16 layer: ~10 % apart in norm between two bf16
    # kernels (the stock eager's fp32 softmax output, rounded, lands as far from fp32 as this)
    error = (grad - eager_grad).norm() / eager_grad.norm()
    assert error < (1e-5 if device.type == "cpu" else 0.25), error
    assert grad.abs().sum() > 0
