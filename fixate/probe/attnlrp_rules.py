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
`rule="cp"` is CP-LRP instead: q and k detached, v undivided. Then relevance is exactly conserved
(sum R = target), which tests the plumbing.

Relevance is read at three kinds of input: the text embeddings (soft prompt included), the image
features, and Qwen3-VL's DeepStack features (the reference never read the latter; they carry a real
share). The visual features are passed as leaf tensors to the composed forward of `Backbone`, the
version-proof equivalent of `mm_encoder_outputs` (which transformers 5.17 lacks). `lxt` is not
used: it cannot be installed next to a CPU torch and does not support transformers 5.x or these
models.

With `create_graph`, the frozen factors (normalisers, act(x)/x ratios) are constants of the second
derivative, as in lxt; the relevance still depends on the soft prompt through the inputs, the
attention probabilities and the weights. The logits of this trace are returned detached: under the
rules their gradients are not the model's.

Attention runs as `lean_attention` in every layer: SDPA forward, and a backward (and double
backward) that recomputes the probabilities in blocks of query rows instead of keeping T x T
tensors of all 36 layers for the second-order graph.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from fixate.models.attention import lean_attention
from fixate.models.base import Backbone, ModelBatch, VisualFeatures
from fixate.probe.operators import Operator, Trace, register_operator, target_scalar


class _Uniform(torch.autograd.Function):
    """Identity forward; the gradient divided by k (linear, so double backward works)."""

    @staticmethod
    def forward(ctx, x: Tensor, k: float) -> Tensor:
        ctx.k = k
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad / ctx.k, None


class _IdentityRule(torch.autograd.Function):
    """function(x), whose gradient is function(x) / x: a frozen ratio, so the backward is linear
    in the incoming gradient and the double backward treats the ratio as a constant (what the
    detach formulation y.detach() + (x - x.detach()) * ratio does, in one saved tensor and one
    multiplication per pass instead of a graph of eight elementwise operations)."""

    @staticmethod
    def forward(ctx, x: Tensor, function: Callable[[Tensor], Tensor]) -> Tensor:
        y = function(x)
        ctx.save_for_backward((y / x).nan_to_num_(0.0))  # 0 / 0 at x = 0: ratio 0 there
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (ratio,) = ctx.saved_tensors
        return grad * ratio, None


class _FrozenRMSNorm(torch.autograd.Function):
    """RMSNorm whose normaliser is frozen (the identity rule): the gradient is weight * scale
    times the incoming one, scale = 1 / rms(hidden) held constant, also in the double backward.
    Only the (B, T, 1) scale is kept, not fp32 copies of the hidden states."""

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, epsilon: float) -> Tensor:
        wide = hidden.to(torch.promote_types(hidden.dtype, torch.float32))
        scale = torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + epsilon)
        ctx.save_for_backward(weight, scale)
        return weight * (wide * scale).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        weight, scale = ctx.saved_tensors
        # in place: the product in fp32, rounded once to grad's dtype, in one kernel
        return (grad * weight).mul_(scale), None, None


def _rms_norm_forward(self, hidden: Tensor) -> Tensor:
    return _FrozenRMSNorm.apply(hidden, self.weight, self.variance_epsilon)


def _gated_mlp_forward(self, x: Tensor) -> Tensor:
    gate = _IdentityRule.apply(self.gate_proj(x), self.act_fn)
    return self.down_proj(_Uniform.apply(gate * self.up_proj(x), 2.0))


def _attnlrp_attention(module, query, key, value, attention_mask, **kwargs):
    query, key = _Uniform.apply(query, 4.0), _Uniform.apply(key, 4.0)
    value = _Uniform.apply(value, 2.0)
    return lean_attention(module, query, key, value, attention_mask, **kwargs)


def _cp_attention(module, query, key, value, attention_mask, **kwargs):
    return lean_attention(module, query.detach(), key.detach(), value, attention_mask, **kwargs)


_ATTENTION = {"attnlrp": _attnlrp_attention, "cp": _cp_attention}


def _is_rms_norm(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("RMSNorm") and hasattr(module, "variance_epsilon")


def _is_gated_mlp(module: torch.nn.Module) -> bool:
    return all(hasattr(module, name) for name in ("gate_proj", "up_proj", "down_proj", "act_fn"))


@contextmanager
def lrp_rules(language_model: torch.nn.Module) -> Iterator[None]:
    """Bind the rule forwards to this model's norm and MLP instances; restore them on exit."""
    patched = []
    for module in language_model.modules():
        rule = _rms_norm_forward if _is_rms_norm(module) else None
        rule = _gated_mlp_forward if _is_gated_mlp(module) else rule
        if rule is not None:
            module.forward = types.MethodType(rule, module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


class AttnLRPRules(Operator):
    """AttnLRP with explicit rules; relevance at the text embeddings and visual features."""

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
        if rule not in _ATTENTION:
            raise ValueError(f"unknown AttnLRP rule {rule!r}; choose one of {sorted(_ATTENTION)}")
        leaves = features.leaves()
        with lrp_rules(backbone.language_model):
            out = backbone.forward(
                batch,
                inputs_embeds,
                leaves,
                window=backbone.num_layers,
                attention=_ATTENTION[rule],
                output_attentions=False,
            )
        target = target_scalar(out.logits, batch.answer_ids)
        inputs = [inputs_embeds, leaves.image, *leaves.deepstack]
        grads = torch.autograd.grad(target.sum(), inputs, create_graph=create_graph)
        relevance = [(x.float() * g.float()).sum(-1) for x, g in zip(inputs, grads, strict=True)]
        text, visual = relevance[0], torch.stack(relevance[1:]).sum(0)
        row = text + torch.zeros_like(text).masked_scatter(batch.image_mask, visual)
        return Trace(relevance=row, logits=out.logits.detach(), target=target)


register_operator("attnlrp-rules", AttnLRPRules())
