"""Probing operators: from the model's internals to relevance of every position for the answer.

All operators are registered by name and used through `fixate.probe.probe`. The attention-map
operators (rollout, glimpse, attnlrp) share one trace: a forward pass whose last `window` layers
return attention maps, the target scalar, and (except rollout) its gradients with respect to those
maps. Each then combines maps and gradients into the relevance row of the query position,
R[q, :], with exactly the formulas of the reference implementation, and using only row q
(r <- r + alpha r E applied from the deepest layer down gives the same value as the full T x T
product at O(T^2) per layer).

Precision and memory: everything of size T (rows, weights, normalisers) is fp32. GLIMPSE needs
every head's full T x T product, and in a differentiable probe each such tensor is kept for the
second-order backward; it is formed in the maps' dtype (bf16 on a GPU, as in the reference's
training path) with fp32 reductions, which saves several GiB at batch 4 on a 4B model
(`upcast=True` forms it in fp32). grad x attention only reads row q, which it upcasts.

Batches are left-padded: gradients at padded positions are zeroed so that a padded sample gets the
same relevance as the sample alone. Training and evaluation compute the same function: the
reference scaled the gradients by 0.1 in training only (ATTNLRP_GRAD_SCALE), which the operators
normalise away except through their epsilon, so it only made the two modes disagree.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from fixate.models.base import Backbone
from fixate.models.records import ModelBatch, VisualFeatures

EPS = 1e-4  # the reference trainer's epsilon, used throughout its operators


@dataclass(frozen=True)
class Trace:
    """What an operator returns: relevance (B, T) of every position, logits, target (B,)."""

    relevance: Tensor
    logits: Tensor
    target: Tensor


class Operator(ABC):
    """A way of turning one forward pass into relevance of every input position."""

    needs_backward: bool = True  # whether the operator differentiates the target
    # whether the layers below the probed window may be compiled (`Backbone.compile_below_window`):
    # true when the operator's second-order graph ends at the window
    compilable: bool = True

    @abstractmethod
    def trace(
        self,
        backbone: Backbone,
        batch: ModelBatch,
        inputs_embeds: Tensor,
        features: VisualFeatures,
        *,
        window: int,
        create_graph: bool,
        **options,
    ) -> Trace:
        """Run the model and compute relevance; `create_graph` keeps it differentiable."""

    def option_names(self) -> frozenset[str] | None:
        """The options (``probe.options``) that `trace` takes; None when it takes any."""
        return options_of(self.trace)


def options_of(
    function: Callable[..., object], ignore: frozenset[str] = frozenset()
) -> frozenset[str] | None:
    """The parameters of ``function`` that an option can set (those with a default), less
    ``ignore``; None when it takes arbitrary keywords."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters if p.default is not p.empty) - ignore


OPERATORS: dict[str, Operator] = {}


def register_operator(name: str, operator: Operator) -> None:
    """Make ``operator`` available as ``probe(..., operator=name)`` (and to the workflow, see
    `fixate.names`)."""
    OPERATORS[name] = operator


def get_operator(name: str) -> Operator:
    if name not in OPERATORS:
        raise ValueError(f"unknown operator {name!r}; choose one of {sorted(OPERATORS)}")
    return OPERATORS[name]


def check_options(name: str, options: Mapping[str, object]) -> None:
    """Refuse options that operator ``name`` does not take, naming them: a misspelt
    ``probe.options`` key would otherwise surface as a TypeError inside the first probe, after
    the model has loaded."""
    taken = get_operator(name).option_names()
    unknown = sorted(set(options) - taken) if taken is not None else []
    if unknown:
        raise ValueError(
            f"probe.options: operator {name!r} takes no option {unknown}; "
            f"its options: {sorted(taken)}"
        )


def target_scalar(logits: Tensor, answer_ids: Tensor | None) -> Tensor:
    """(B,) the sum of the answer tokens' logits, or the top logit when there is no answer.

    `logits` is `ForwardOutput.logits`: position j predicts answer token j.
    """
    logits = logits.float()
    if answer_ids is None:
        return logits[:, -1].max(-1).values
    picked = logits.gather(-1, answer_ids.clamp(min=0)[..., None])[..., 0]
    return (picked * (answer_ids >= 0)).sum(-1)


def _one_hot(query: int, like: Tensor) -> Tensor:
    row = torch.zeros(like.shape[0], like.shape[-1], dtype=torch.float32, device=like.device)
    row[:, query] = 1.0
    return row


# ---------------------------------------------------------------------------- rollout (4.4)
def _discard_below(mean: Tensor, ratio: float, valid: Tensor | None) -> Tensor:
    """Zero the entries below the `ratio` quantile of each sample's (unpadded) entries."""
    pairs = torch.ones_like(mean, dtype=torch.bool)
    if valid is not None:
        pairs = valid[:, :, None] & valid[:, None, :]
    kept = []
    for sample, inside in zip(mean, pairs, strict=True):
        values = sample.detach()[inside]
        threshold = values.kthvalue(max(1, int(ratio * values.numel()))).values
        kept.append(torch.where(sample < threshold, 0.0, sample))
    return torch.stack(kept)


def rollout(
    maps: Sequence[Tensor],
    query: int,
    discard_ratio: float = 0.0,
    valid: Tensor | None = None,
) -> Tensor:
    """Attention rollout: R = A_L ... A_1 with A = rownorm(0.5 mean_heads(A) + 0.5 I).

    `maps` run shallow -> deep, each (B, H, T, T). With `discard_ratio` > 0 the entries of each
    head-mean map below that quantile of the sample's entries (`valid` positions only) are zeroed
    first. No gradient of the target is used; R is differentiable through the maps.
    """
    row = _one_hot(query, maps[0])
    for attention in reversed(maps):
        mean = attention.float().mean(1)
        if discard_ratio > 0:
            mean = _discard_below(mean, discard_ratio, valid)
        eye = torch.eye(mean.shape[-1], device=mean.device)
        step = 0.5 * mean + 0.5 * eye
        step = step / (step.sum(-1, keepdim=True) + 1e-12)
        row = torch.bmm(row[:, None], step)[:, 0]
    return row


# ---------------------------------------------------------------------------- GLIMPSE (4.3)
def glimpse_head_weights(gated: Tensor, gradient: Tensor, head_temperature: float) -> Tensor:
    """(B, H) head weights softmax(sigma / T_head), sigma_h = sum G_h / (sum relu(g_h) + eps):
    the share of a head's positive gradient that its attention realises.

    sum relu(g) is taken as (sum g + sum |g|) / 2, which keeps no T x T tensor for backward
    beyond `gradient` itself."""
    positive = (
        gradient.sum((-1, -2), dtype=torch.float32)
        + gradient.abs().sum((-1, -2), dtype=torch.float32)
    ) / 2
    score = gated.sum((-1, -2), dtype=torch.float32) / (positive + EPS)
    return torch.softmax(score / head_temperature, dim=-1)


def glimpse_layer(attention: Tensor, gradient: Tensor, head_temperature: float) -> Tensor:
    """One layer's map E (B, T, T) in fp32: E = sum_h w_h G_h with G_h = relu(g_h A_h),
    row-normalised; G is formed in the inputs' dtype.

    The head mix is a broadcast product summed over heads, not a matrix product: the gradient
    of a (B, 1, H) x (B, H, T * T) product at the weights is a matrix product that reduces over
    T * T with one output column per head, 1.15 ms a layer in the profile of InternVL's 4B step
    at batch 4 on an H200; compiled, the sum is one fused reduction each way."""
    gated = F.relu(gradient * attention)
    weights = glimpse_head_weights(gated, gradient, head_temperature)
    mixed = (weights.to(gated.dtype)[:, :, None, None] * gated).sum(1, dtype=torch.float32)
    return mixed / (mixed.sum(-1, keepdim=True) + EPS)


def glimpse_depth_weights(gradients: Sequence[Tensor], depth_temperature: float) -> Tensor:
    """(B, L) layer weights alpha_l = gamma_l pi_l / (sum gamma pi + eps).

    gamma_l = sum |sum_h g_l,h| (how strongly the target depends on the layer's attention) and
    pi = softmax(T_depth * [1..L]) (a prior towards deeper layers; the temperature multiplies).
    """
    gamma = torch.stack([g.sum(1, dtype=torch.float32).abs().sum((-1, -2)) for g in gradients], 1)
    depth = torch.arange(1, len(gradients) + 1, dtype=gamma.dtype, device=gamma.device)
    prior = torch.softmax(depth_temperature * depth, 0)
    weighted = gamma * prior
    return weighted / (weighted.sum(1, keepdim=True) + EPS)


def glimpse(
    maps: Sequence[Tensor],
    gradients: Sequence[Tensor],
    query: int,
    head_temperature: float = 0.5,
    depth_temperature: float = 0.2,
    valid: Tensor | None = None,
    upcast: bool = False,
) -> Tensor:
    """GLIMPSE: R = prod_l (I + alpha_l E_l), shallow layer innermost; returns R[query].

    `valid` (B, T) marks the unpadded positions; `upcast` forms the T x T products in fp32.
    """
    if valid is not None:
        pairs = (valid[:, :, None] & valid[:, None, :])[:, None]
        gradients = [g * pairs for g in gradients]
    if upcast:
        maps, gradients = [a.float() for a in maps], [g.float() for g in gradients]
    layers = [glimpse_layer(a, g, head_temperature) for a, g in zip(maps, gradients, strict=True)]
    alpha = glimpse_depth_weights(gradients, depth_temperature)
    row = _one_hot(query, maps[0])
    for index in reversed(range(len(layers))):
        row = row + alpha[:, index, None] * torch.bmm(row[:, None], layers[index])[:, 0]
    return row


# ------------------------------------------------------------------------- grad x attention (4.2)
def _signed_stabiliser(total: Tensor) -> Tensor:
    """The reference's stab(d): d + eps sign(d), or eps where |d| < eps (keeps the sign)."""
    return torch.where(total.abs() < EPS, torch.full_like(total, EPS), total + EPS * total.sign())


def grad_attention(
    maps: Sequence[Tensor],
    gradients: Sequence[Tensor],
    query: int,
    stable: bool = True,
    relu: bool = False,
    valid: Tensor | None = None,
) -> Tensor:
    """The reference's "AttnLRP": gradient x attention, bilinear-normalised, summed over depth.

    Per layer and head P = A g (optionally relu); E_l = mean over heads of P normalised per row;
    R = I + sum_i w_i E_i with w_i = i / sum_j j (deeper layers weigh more); returns R[query].

    The reference divides each head row by its SIGNED sum (`stable=False`). Where positive and
    negative entries nearly cancel, that sum is close to zero and the row explodes: in bf16 a mere
    kernel change moved the slot distributions by 15-18 %. The default divides
    by the sum of absolute values instead: every head row then has an L1 norm of at most 1, and
    rows whose entries share one sign (all of them with `relu=True`) are unchanged. `valid`
    (B, T) marks the unpadded positions.
    """
    weights = torch.arange(1, len(maps) + 1, dtype=torch.float32)
    weights = weights / weights.sum()
    row = _one_hot(query, maps[0])
    for weight, attention, gradient in zip(weights.tolist(), maps, gradients, strict=True):
        product = attention[:, :, query].float() * gradient[:, :, query].float()  # (B, H, T)
        if valid is not None:
            product = product * valid[:, None]
        if relu:
            product = F.relu(product)
        if stable:
            scale = product.abs().sum(-1, keepdim=True) + EPS
        else:
            scale = _signed_stabiliser(product.sum(-1, keepdim=True))
        row = row + weight * (product / scale).mean(1)
    return row


# ---------------------------------------------------------------------------- shared trace
class AttentionOperator(Operator):
    """An operator computed from the attention maps (and their gradients) of the last layers."""

    def __init__(
        self,
        combine: Callable[..., Tensor],
        needs_backward: bool = True,
        compile_combine: bool = False,
    ):
        """``compile_combine``: run ``combine`` compiled when the backbone's layers are
        (`Backbone.compiled`). Worth it where it makes passes over every head's T x T tensors."""
        self.combine = combine
        self.needs_backward = needs_backward
        self.compile_combine = compile_combine

    def option_names(self) -> frozenset[str] | None:
        return options_of(self.combine, ignore=frozenset({"valid"}))

    def trace(
        self,
        backbone: Backbone,
        batch: ModelBatch,
        inputs_embeds: Tensor,
        features: VisualFeatures,
        *,
        window: int,
        create_graph: bool,
        **options,
    ) -> Trace:
        out = backbone.forward(batch, inputs_embeds, features, window=window)
        target = target_scalar(out.logits, batch.answer_ids)
        maps = out.attentions
        if not maps:
            raise ValueError("the probe needs a window of at least one layer")
        valid = batch.attention_mask.bool()
        combine = backbone.compiled(self.combine) if self.compile_combine else self.combine
        if self.needs_backward:
            grads = torch.autograd.grad(target.sum(), maps, create_graph=create_graph)
            if not create_graph:
                maps = [m.detach() for m in maps]
            row = combine(maps, grads, batch.query_index, valid=valid, **options)
        else:
            row = combine(maps, batch.query_index, valid=valid, **options)
        return Trace(relevance=row, logits=out.logits, target=target)


register_operator("rollout", AttentionOperator(rollout, needs_backward=False))
# GLIMPSE's combine compiled: 0.94 x the 4B training step on both backbones; rollout's (one mean
# over heads a map) and attnlrp's (one row a map) gained nothing (benchmarks/README.md)
register_operator("glimpse", AttentionOperator(glimpse, compile_combine=True))
register_operator("attnlrp", AttentionOperator(grad_attention))
