"""The attention functions a backbone's language model runs, chosen per layer and per call.

- SDPA (the fast kernels) in every layer the probe does not read;
- `eager_attention` in the probed window: it returns the attention maps the operators need;
- `lean_attention` where the second derivative must pass through attention but no map is read
  (the rule-based AttnLRP runs it in all layers): SDPA's kernels have no double backward, and the
  eager arithmetic keeps several T x T tensors per head and layer for it. `lean_attention` keeps
  only q, k, v and the output gradient (20-26 GiB less at the peak of a 4B model's rule-based step
  at batch 4): its backward and double backward recompute the probabilities block by block of
  query rows.

All three see the registered mask function's output (`sdpa_mask`): None for plain causal
attention, else a boolean (B, 1, T, T) mask, True = attend.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION = "fixate"
"""The attention implementation every loaded language model runs under (see `fixate_attention`)."""

BLOCK_ELEMENTS = 1 << 28
"""Entries of one block of recomputed (B, H, rows, T) scores in `lean_attention`'s backward
(512 MiB in bf16; a 4B model at batch 4 and T = 840 needs about 90 M, so one block): the block's
few temporaries live only while one layer's backward runs, and a single block needs no strided
slices of q and the output gradient."""


def repeat_kv(states: Tensor, groups: int) -> Tensor:
    """(B, H_kv, T, d) -> (B, H_kv * groups, T, d): grouped-query heads made explicit."""
    if groups == 1:
        return states
    b, h, t, d = states.shape
    return states[:, :, None].expand(b, h, groups, t, d).reshape(b, h * groups, t, d)


def additive_mask(mask: Tensor | None, q_len: int, kv_len: int, like: Tensor) -> Tensor:
    """The boolean mask (None = causal) as an additive one in `like`'s dtype and device."""
    if mask is not None and mask.dtype != torch.bool:
        return mask
    if mask is None:
        mask = torch.ones(q_len, kv_len, dtype=torch.bool, device=like.device)
        mask = mask.tril(kv_len - q_len)[None, None]
    blocked = torch.zeros(mask.shape, dtype=like.dtype, device=like.device)
    return blocked.masked_fill(~mask, torch.finfo(like.dtype).min)


def eager_attention(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    softmax_dtype: torch.dtype | None = None,
    **kwargs,
) -> tuple[Tensor, Tensor]:
    """The eager arithmetic of Qwen3 / Qwen3-VL (inference only), returning the weights.

    The softmax runs in the input dtype: its kernels accumulate in fp32 on every device and the
    stock code rounds the weights to that dtype anyway, but an fp32 output would be kept for the
    backward as a second T x T copy per head and layer (2 GiB over the probed window of a 4B model
    at batch 4). `softmax_dtype=torch.float32` is the stock code's way, fp32 output then rounded.
    """
    key = repeat_kv(key, module.num_key_value_groups)
    value = repeat_kv(value, module.num_key_value_groups)
    scaling = module.scaling if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    scores = scores + additive_mask(attention_mask, *scores.shape[-2:], scores)
    weights = F.softmax(scores, dim=-1, dtype=softmax_dtype).to(query.dtype)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def _block_gradients(
    query: Tensor, key: Tensor, value: Tensor, grad: Tensor, mask: Tensor | None, start: int, scale
) -> tuple[Tensor, Tensor, Tensor]:
    """(dq, dk, dv) of attention for the query rows [start, start + rows) of `query` and `grad`
    (k and v may have fewer heads, each shared by a group of query heads).

    The rows' probabilities are recomputed from q and k; dk and dv are these rows' shares (the
    full gradients are sums over blocks). The softmax backward is the fused kernel autograd itself
    uses (fp32 accumulation, input-dtype output), and it has a derivative, so autograd
    differentiates this function as it differentiates eager attention.
    """
    rows, length = query.shape[-2], key.shape[-2]
    groups = query.shape[1] // key.shape[1]
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale
    if mask is None:  # causal, these rows only
        position = torch.arange(start, start + rows, device=query.device)[:, None]
        mask = (torch.arange(length, device=query.device) <= position)[None, None]
    else:
        mask = mask[:, :, start : start + rows]
        # a query with no key to attend to (padding) is zero in SDPA's forward, so nothing
        # flows back from it: zeroing its (B, H, rows, d) gradient does that cheaply
        grad = grad * mask.any(-1, keepdim=True).to(grad.dtype)
    scores = scores + additive_mask(mask, rows, length, scores)
    probs = F.softmax(scores, dim=-1)
    dprobs = torch.matmul(grad, value.transpose(-1, -2))
    dscores = torch._softmax_backward_data(dprobs, probs, -1, probs.dtype)
    dquery = torch.matmul(dscores, key) * scale
    dkey = torch.matmul(dscores.transpose(-1, -2), query) * scale
    dvalue = torch.matmul(probs.transpose(-1, -2), grad)
    if groups > 1:  # each shared key/value head gets the sum over its query heads
        dkey, dvalue = (d.unflatten(1, (-1, groups)).sum(2) for d in (dkey, dvalue))
    return dquery, dkey, dvalue


def _blocks(query: Tensor, key: Tensor, limit: int) -> list[slice]:
    """Blocks of query rows whose (B, H, rows, T) scores have at most `limit` entries."""
    b, h, rows, length = *query.shape[:3], key.shape[-2]
    size = max(1, limit // max(1, b * h * length))
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


class _AttentionGradients(torch.autograd.Function):
    """(dq, dk, dv) for an output gradient; its backward is the double backward of attention,
    recomputed block by block under autograd."""

    @staticmethod
    def forward(ctx, query, key, value, grad, mask, scale, limit):
        ctx.save_for_backward(query, key, value, grad, mask)
        ctx.scale, ctx.limit = scale, limit
        dquery, dkey, dvalue = (
            torch.zeros_like(query),
            torch.zeros_like(key),
            torch.zeros_like(value),
        )
        for rows in _blocks(query, key, limit):
            block = _block_gradients(
                query[:, :, rows], key, value, grad[:, :, rows], mask, rows.start, scale
            )
            dquery[:, :, rows] = block[0]
            dkey += block[1]
            dvalue += block[2]
        return dquery, dkey, dvalue

    @staticmethod
    def backward(ctx, g_query, g_key, g_value):
        query, key, value, grad, mask = ctx.saved_tensors
        out = [torch.zeros_like(t) for t in (query, key, value, grad)]
        with torch.enable_grad():
            key_leaf = key.detach().requires_grad_(True)
            value_leaf = value.detach().requires_grad_(True)
            for rows in _blocks(query, key, ctx.limit):
                query_leaf = query[:, :, rows].detach().requires_grad_(True)
                grad_leaf = grad[:, :, rows].detach().requires_grad_(True)
                block = _block_gradients(
                    query_leaf, key_leaf, value_leaf, grad_leaf, mask, rows.start, ctx.scale
                )
                parts = torch.autograd.grad(
                    block,
                    (query_leaf, key_leaf, value_leaf, grad_leaf),
                    (g_query[:, :, rows], g_key, g_value),
                )
                out[0][:, :, rows] += parts[0]
                out[1] += parts[1]
                out[2] += parts[2]
                out[3][:, :, rows] += parts[3]
        return (*out, None, None, None)


class _LeanAttention(torch.autograd.Function):
    """SDPA forward; a twice-differentiable backward that keeps no T x T tensor."""

    @staticmethod
    def forward(ctx, query, key, value, mask, scale, limit):
        ctx.save_for_backward(query, key, value, mask)  # k and v with their shared heads only
        ctx.scale, ctx.limit = scale, limit
        groups = query.shape[1] // key.shape[1]
        return F.scaled_dot_product_attention(
            query,
            repeat_kv(key, groups),
            repeat_kv(value, groups),
            attn_mask=mask,
            is_causal=mask is None,
            scale=scale,
        )

    @staticmethod
    def backward(ctx, grad):
        query, key, value, mask = ctx.saved_tensors
        dquery, dkey, dvalue = _AttentionGradients.apply(
            query, key, value, grad.contiguous(), mask, ctx.scale, ctx.limit
        )
        return dquery, dkey, dvalue, None, None, None


def lean_attention(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    block_elements: int = BLOCK_ELEMENTS,
    **kwargs,
) -> tuple[Tensor, None]:
    """Attention with SDPA's memory and speed forward and an exact, twice-differentiable
    backward; records no weights."""
    if attention_mask is not None and attention_mask.dtype != torch.bool:
        raise ValueError("lean_attention expects the boolean mask of `sdpa_mask` (or None)")
    scaling = module.scaling if scaling is None else scaling
    output = _LeanAttention.apply(
        query.contiguous(),
        key.contiguous(),
        value.contiguous(),
        attention_mask,
        scaling,
        block_elements,
    )
    return output.transpose(1, 2).contiguous(), None


def fixate_attention(module, query, key, value, attention_mask, **kwargs):
    """SDPA, unless the layer has been given another function for this call (`Backbone.forward`).

    This is the "hybrid" attention: only the probed window pays for eager
    attention and its weights; the layers below run the fast kernel. The registered mask function
    is `sdpa_mask` (None when nothing is padded, which keeps SDPA's is_causal fast path); without
    a registered mask function a custom name silently runs unmasked.
    """
    function = getattr(module, "fixate_attention", None)
    if function is None:
        kwargs.pop("output_attentions", None)
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return function(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(ATTENTION, fixate_attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)
