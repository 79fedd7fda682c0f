"""Rule-based AttnLRP (Achtibat et al. 2024) through the gradient x input trick.

With the rules below, the ordinary backward pass computes LRP relevance, and R = x * dTarget/dx at
the language model's inputs. The rules change only gradients, never the forward values:
- RMSNorm: the normaliser is frozen (identity rule), so the norm is linear in its input;
- gated MLP: identity rule on the activation (its gradient becomes act(x) / x) and the uniform
  rule (gradient / 2) on the gate x up product;
- attention: the uniform rule on q and k (/4: bilinear q k^T, then the A V product) and v (/2),
  the softmax differentiated as is (AttnLRP's softmax rule; it is not conservative by design);
- linear layers need nothing: with epsilon -> 0, epsilon-LRP is gradient x input, and the Qwen3
  language models have no biases.
`rule="cp"` is CP-LRP instead: no relevance through q and k (gradient 0), v undivided. Then
relevance is exactly conserved (sum R = target), which tests the plumbing.

Relevance is read at three kinds of input: the text embeddings (soft prompt included), the image
features, and Qwen3-VL's DeepStack features (the reference never read the latter; they carry a real
share). The visual features are passed as leaf tensors to the composed forward of `Backbone`, the
version-proof equivalent of `mm_encoder_outputs` (which transformers 5.17 lacks). `lxt` is not
used: it cannot be installed next to a CPU torch and does not support transformers 5.x or these
models.

The rules act only while the relevance's own backward pass runs (`_Rules.active`). Every later
differentiation through the same forward graph sees the model's true derivatives: the training
loss's gradient of the relevance (which depends on the soft prompt through the inputs, the attention
probabilities and every activation; the frozen factors, normalisers and act(x)/x ratios, are
constants of that derivative, as in lxt) and the answer loss's gradient of the logits. So the logits
of this trace are the model's, and training needs no second forward pass for its answer loss.

Attention runs as `lean_attention` in every layer: SDPA forward, and a backward (and double
backward) that recomputes the probabilities in blocks of query rows instead of keeping T x T
tensors of all 36 layers for the second-order graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from fixate.models.attention import lean_attention
from fixate.models.base import Backbone, scatter_rows
from fixate.models.records import ModelBatch, VisualFeatures
from fixate.probe.operators import Operator, Trace, register_operator, target_scalar


@dataclass
class _Rules:
    """Whether the rules shape the gradients: set only around the relevance's backward pass."""

    active: bool = False


class _Scaled(torch.autograd.Function):
    """Identity forward; under the rules the gradient times `factor` (linear, so double backward
    works), otherwise the gradient itself."""

    @staticmethod
    def forward(ctx, x: Tensor, factor: float, rules: _Rules) -> Tensor:
        ctx.factor, ctx.rules = factor, rules
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        return (grad * ctx.factor if ctx.rules.active else grad), None, None


class _IdentityRule(torch.autograd.Function):
    """function(x), whose gradient under the rules is function(x) / x: a frozen ratio, so the
    backward is linear in the incoming gradient and the double backward treats the ratio as a
    constant (what the detach formulation y.detach() + (x - x.detach()) * ratio does, without its
    graph of eight elementwise operations). Otherwise the true derivative."""

    @staticmethod
    def forward(ctx, x: Tensor, function: Callable[[Tensor], Tensor], rules: _Rules) -> Tensor:
        y = function(x)
        ctx.save_for_backward(x, y)  # y is kept by the gate x up product anyway
        ctx.function, ctx.rules = function, rules
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        x, y = (t.detach() for t in ctx.saved_tensors)
        if ctx.rules.active:
            return grad * (y / x).nan_to_num_(0.0), None, None  # 0 / 0 at x = 0: ratio 0 there
        with torch.enable_grad():
            x.requires_grad_(True)
            (slope,) = torch.autograd.grad(ctx.function(x), x, grad)
        return slope, None, None


class _FrozenRMSNorm(torch.autograd.Function):
    """RMSNorm whose normaliser is frozen under the rules (the identity rule): the gradient is
    weight * scale times the incoming one, scale = 1 / rms(hidden) held constant, also in the
    double backward. Otherwise the true derivative, which also moves the normaliser."""

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, epsilon: float, rules: _Rules) -> Tensor:
        wide = hidden.to(torch.promote_types(hidden.dtype, torch.float32))
        scale = torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + epsilon)
        ctx.save_for_backward(hidden, weight, scale)
        ctx.rules = rules
        return weight * (wide * scale).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        hidden, weight, scale = ctx.saved_tensors
        if ctx.rules.active:
            # in place: the product in fp32, rounded once to grad's dtype, in one kernel
            return (grad * weight).mul_(scale), None, None, None
        wide = hidden.detach().to(scale.dtype)
        upstream = grad.to(scale.dtype) * weight
        # d(x s)/dx with s = (mean x^2 + eps)^-1/2: s u - s^3 x mean(u x)
        along = (upstream * wide).mean(-1, keepdim=True) * scale.pow(3)
        return (upstream * scale - wide * along).to(grad.dtype), None, None, None


_ATTENTION_FACTORS = {"attnlrp": (0.25, 0.5), "cp": (0.0, 1.0)}
"""Gradient factors of (q and k, v) under each rule: AttnLRP's uniform rule (q k^T is bilinear,
then the A V product), or CP-LRP (no relevance through q and k)."""


def _rule_attention(rules: _Rules, query_key_factor: float, value_factor: float) -> Callable:
    """`lean_attention` behind the rule's gradient factors."""

    def attention(module, query, key, value, attention_mask, **kwargs):
        query = _Scaled.apply(query, query_key_factor, rules)
        key = _Scaled.apply(key, query_key_factor, rules)
        value = _Scaled.apply(value, value_factor, rules)
        return lean_attention(module, query, key, value, attention_mask, **kwargs)

    return attention


def _is_rms_norm(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("RMSNorm") and hasattr(module, "variance_epsilon")


def _is_gated_mlp(module: torch.nn.Module) -> bool:
    return all(hasattr(module, name) for name in ("gate_proj", "up_proj", "down_proj", "act_fn"))


def _rule_forward(module: torch.nn.Module, rules: _Rules) -> Callable | None:
    """The rule-bound forward of a norm or gated MLP instance; None for other modules."""
    if _is_rms_norm(module):
        return lambda hidden: _FrozenRMSNorm.apply(
            hidden, module.weight, module.variance_epsilon, rules
        )
    if _is_gated_mlp(module):

        def mlp(x: Tensor) -> Tensor:
            gate = _IdentityRule.apply(module.gate_proj(x), module.act_fn, rules)
            return module.down_proj(_Scaled.apply(gate * module.up_proj(x), 0.5, rules))

        return mlp
    return None


@contextmanager
def lrp_rules(language_model: torch.nn.Module) -> Iterator[_Rules]:
    """Bind the rule forwards to this model's norm and MLP instances; restore them on exit.

    Yields the rules' switch: they shape only the backward passes run while it is active, also
    after the exit (the forward graph keeps it).
    """
    rules = _Rules()
    patched = []
    for module in language_model.modules():
        forward = _rule_forward(module, rules)
        if forward is not None:
            module.forward = forward
            patched.append(module)
    try:
        yield rules
    finally:
        for module in patched:
            del module.forward


class AttnLRPRules(Operator):
    """AttnLRP with explicit rules; relevance at the text embeddings and visual features."""

    compilable = False  # its rules differentiate twice through every layer

    def trace(
        self,
        backbone: Backbone,
        batch: ModelBatch,
        inputs_embeds: Tensor,
        features: VisualFeatures,
        *,
        window: int,
        create_graph: bool,
        rule: str = "attnlrp",
    ) -> Trace:
        """`window` is ignored: the rules apply to every layer, from the logit to the inputs."""
        if rule not in _ATTENTION_FACTORS:
            choices = sorted(_ATTENTION_FACTORS)
            raise ValueError(f"unknown AttnLRP rule {rule!r}; choose one of {choices}")
        leaves = features.leaves()
        with lrp_rules(backbone.language_model) as rules:
            out = backbone.forward(
                batch,
                inputs_embeds,
                leaves,
                window=backbone.num_layers,
                attention=_rule_attention(rules, *_ATTENTION_FACTORS[rule]),
                output_attentions=False,
            )
        target = target_scalar(out.logits, batch.answer_ids)
        inputs = [inputs_embeds, leaves.image, *leaves.deepstack]
        rules.active = True
        try:
            grads = torch.autograd.grad(target.sum(), inputs, create_graph=create_graph)
        finally:
            rules.active = False
        relevance = [(x.float() * g.float()).sum(-1) for x, g in zip(inputs, grads, strict=True)]
        visual = torch.stack(relevance[1:]).sum(0)
        row = scatter_rows(relevance[0], batch.image_index, visual, add=True)
        return Trace(relevance=row, logits=out.logits, target=target)


register_operator("attnlrp-rules", AttnLRPRules())
