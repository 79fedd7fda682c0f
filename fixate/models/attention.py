"""The attention functions a backbone's language model runs, chosen per layer and per call.

- SDPA (the fast kernels) in every layer the probe does not read;
- `eager_attention` in the probed window: it returns the attention maps the operators need;
- `lean_attention` where the second derivative must pass through attention but no map is read
  (the rule-based AttnLRP runs it in all layers): SDPA's kernels have no double backward, and the
  eager arithmetic keeps several T x T tensors per head and layer for it. `lean_attention` keeps
  only q, k, v and the output gradient (20-26 GiB less at the peak of a 4B model's rule-based step
  at batch 4): its backward and double backward recompute the probabilities block by block of
  query rows, in written-out formulas that pass over the T x T tensors as few times as possible
  (a first backward that builds no graph runs SDPA's own fused backward instead).

All three see the registered mask function's output (`padding_mask`): None for plain causal
attention, else a boolean (B, 1, T, T) mask, True = attend.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable
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


def causal_mask(rows: int, length: int, start: int, device: torch.device) -> Tensor:
    """Boolean (1, 1, rows, length) causal mask of the query rows [start, start + rows)."""
    position = torch.arange(start, start + rows, device=device)[:, None]
    return (torch.arange(length, device=device) <= position)[None, None]


def additive_mask(mask: Tensor | None, q_len: int, kv_len: int, like: Tensor) -> Tensor:
    """The boolean mask (None = causal) as an additive one in `like`'s dtype and device."""
    if mask is not None and mask.dtype != torch.bool:
        return mask
    if mask is None:
        mask = causal_mask(q_len, kv_len, kv_len - q_len, like.device)
    blocked = torch.zeros(mask.shape, dtype=like.dtype, device=like.device)
    return blocked.masked_fill(~mask, torch.finfo(like.dtype).min)


def attend_somewhere(mask: Tensor) -> Tensor:
    """The boolean mask with every query that attends to nothing (left padding) given all keys.
    Their outputs reach no other position (no query attends to a padding key), but a row with
    nothing to attend to makes some CUDA kernels' SDPA backward NaN, for every input gradient."""
    return mask | ~mask.any(-1, keepdim=True)


def padding_mask(*args, **kwargs) -> Tensor | None:
    """`sdpa_mask`, its padding queries attending everywhere (`attend_somewhere`).

    `Backbone.forward` passes a padding mask only when the batch is padded (host knowledge), so
    a given mask is always built: letting transformers check whether it could skip it reads the
    mask's values, a device sync per forward pass.
    """
    if kwargs.get("attention_mask") is not None:
        kwargs["allow_is_causal_skip"] = False
    mask = sdpa_mask(*args, **kwargs)
    return attend_somewhere(mask) if mask is not None and mask.dtype == torch.bool else mask


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


def _grouped(states: Tensor, groups: int) -> Tensor:
    """(B, H, rows, d) -> (B, H_kv, groups * rows, d): the query heads that share a key/value
    head stacked as rows, so products with the unrepeated k and v sum over the group."""
    b, h, rows, d = states.shape
    return states.reshape(b, h // groups, groups * rows, d)


def _ungrouped(states: Tensor, groups: int) -> Tensor:
    b, h_kv, stacked, d = states.shape
    return states.reshape(b, h_kv * groups, stacked // groups, d)


def _probabilities(
    query: Tensor, key: Tensor, mask: Tensor | None, start: int, scale: float, groups: int
) -> Tensor:
    """Softmax probabilities (B, H_kv, groups * rows, T) of the grouped query rows, which are
    the rows [start, start + rows) of the sequence."""
    b, h_kv, stacked, length = *query.shape[:3], key.shape[-2]
    rows = stacked // groups
    scores = torch.matmul(query * scale, key.transpose(-1, -2)).view(b, h_kv, groups, rows, length)
    if mask is None:
        allowed = causal_mask(rows, length, start, query.device)[None]
    else:
        allowed = mask[:, :, None, start : start + rows]
    scores.masked_fill_(~allowed, torch.finfo(scores.dtype).min)
    return F.softmax(scores, dim=-1).view(b, h_kv, stacked, length)


def _live_gradient(grad: Tensor, mask: Tensor | None, start: int) -> Tensor:
    """The output gradient with the rows of queries that attend to nothing (padding) zeroed:
    SDPA's forward makes them zero, so nothing flows back from them."""
    if mask is None:
        return grad
    rows = grad.shape[-2]
    return grad * mask[:, :, start : start + rows].any(-1, keepdim=True).to(grad.dtype)


def _row_dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise dot products (..., 1) of (..., rows, n) tensors, summed in fp32 at least."""
    return (a * b).sum(-1, keepdim=True, dtype=torch.promote_types(a.dtype, torch.float32))


OFFSET_COLUMNS = 8
"""Columns added to the operands by `_minus_rows`: one for the values, the rest zero, so the
width stays a multiple of 8 (16-byte aligned bf16 rows, which the fast matrix kernels need)."""


def _minus_rows(left: Tensor, right: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Operands whose product is left right^T - rows (one value per row of left): the values
    ride as extra columns of left against columns of ones in right. The subtraction then
    costs no pass over the T x T product (a broadcasting pass is slow) and is rounded once, in
    the product's fp32 accumulator.

    The fp32 values take two columns, their rounding to the operands' dtype and the remainder:
    the difference is mostly cancellation (a row's entries minus their weighted mean), and a
    bf16-rounded mean alone left gradients 17 % off in norm."""
    high = rows[..., 0].to(left.dtype)
    low = (rows[..., 0] - high).to(left.dtype)
    left = F.pad(left, (0, OFFSET_COLUMNS))
    left[..., -OFFSET_COLUMNS] = -high
    left[..., 1 - OFFSET_COLUMNS] = -low
    right = F.pad(right, (0, OFFSET_COLUMNS))
    right[..., -OFFSET_COLUMNS : 2 - OFFSET_COLUMNS] = 1
    return left, right.mT


def _backward_block(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    grad: Tensor,
    mask: Tensor | None,
    start: int,
    scale: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """(dq, dk, dv) of attention for the query rows [start, start + rows) held in `query` and
    `grad`; dk and dv are these rows' shares (the full gradients are sums over blocks).

    With P = softmax(scale q k^T) (masked) and dP = g v^T, dS = P * (dP - delta) where
    delta = rowsum(P * dP) = rowsum(g * (P v)): a product of width d instead of two passes over
    the T x T tensors (elementwise passes over them are most of this function's time), and
    dP - delta is formed by the product itself (`_minus_rows`)."""
    groups = query.shape[1] // key.shape[1]
    query, grad = _grouped(query, groups), _grouped(_live_gradient(grad, mask, start), groups)
    probs = _probabilities(query, key, mask, start, scale, groups)
    delta = _row_dot(grad, torch.matmul(probs, value))
    dscores = torch.matmul(*_minus_rows(grad, value, delta)).mul_(probs)
    dquery = torch.matmul(dscores, key) * scale
    dkey = torch.matmul(dscores.transpose(-1, -2), query) * scale
    dvalue = torch.matmul(probs.transpose(-1, -2), grad)
    return _ungrouped(dquery, groups), dkey, dvalue


def _double_backward_block(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    grad: Tensor,
    grad_dquery: Tensor,
    grad_dkey: Tensor,
    grad_dvalue: Tensor,
    mask: Tensor | None,
    start: int,
    scale: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The gradients at (q, k, v, output gradient) of <grad_dquery, dq> + <grad_dkey, dk> +
    <grad_dvalue, dv>, for the block of `_backward_block` (k and v terms: the block's shares).

    Written out rather than left to autograd of the recomputed backward, which forms more T x T
    tensors and reruns its products. With the notation of `_backward_block`, the functional is
    <W, dS> + <U, P>, W = scale (g_dq k^T + q g_dk^T), U = g g_dv^T. Its derivatives:
    dP-bar = P * (W - omega) and P-bar = (W - omega) * (dP - delta) + U, omega = rowsum(W * P)
    (a constant per row, -omega delta, is left out: the softmax backward removes it), then
    S-bar = P * (P-bar - rho), rho = rowsum(P * P-bar) = rowsum(dS * W) + rowsum(P * U). Every
    row sum is taken from products of width d and every row offset is folded into a product
    (`_minus_rows`), so the T x T tensors see 5 elementwise passes besides the softmax.
    """
    groups, width = query.shape[1] // key.shape[1], key.shape[-1]
    grad = _grouped(_live_gradient(grad, mask, start), groups)
    query, grad_dquery = _grouped(query, groups), _grouped(grad_dquery, groups)
    probs = _probabilities(query, key, mask, start, scale, groups)
    sides = torch.cat([grad_dquery, query], -1) * scale  # W = sides [k, g_dk]^T
    keys = torch.cat([key, grad_dkey], -1)
    averaged = torch.matmul(probs, torch.cat([keys, value, grad_dvalue], -1))
    p_keys, output, p_grad_dvalue = averaged.split([2 * width, width, width], -1)
    centred = torch.matmul(*_minus_rows(grad, value, _row_dot(grad, output)))
    dscores = probs * centred
    weights = torch.matmul(*_minus_rows(sides, keys, _row_dot(sides, p_keys)))
    bar_dprobs = probs * weights
    ds_keys = torch.matmul(dscores, keys)
    rho = _row_dot(sides, ds_keys) + _row_dot(grad, p_grad_dvalue)
    bar_scores = weights.mul_(centred)
    del centred
    left, right = _minus_rows(grad, grad_dvalue, rho)  # + U - rho
    bar_scores.flatten(0, 1).baddbmm_(left.flatten(0, 1), right.flatten(0, 1))
    bar_scores.mul_(probs)
    grad_query = (torch.matmul(bar_scores, key) + ds_keys[..., width:]) * scale
    grad_key = (torch.matmul(bar_scores.mT, query) + torch.matmul(dscores.mT, grad_dquery)) * scale
    grad_value = torch.matmul(bar_dprobs.mT, grad)
    grad_grad = torch.matmul(bar_dprobs, value) + p_grad_dvalue
    grad_grad = _live_gradient(_ungrouped(grad_grad, groups), mask, start)
    return _ungrouped(grad_query, groups), grad_key, grad_value, grad_grad


def _blocks(query: Tensor, key: Tensor, limit: int) -> list[slice]:
    """Blocks of query rows whose (B, H, rows, T) scores have at most `limit` entries."""
    b, h, rows, length = *query.shape[:3], key.shape[-2]
    size = max(1, limit // max(1, b * h * length))
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


class _AttentionGradients(torch.autograd.Function):
    """(dq, dk, dv) for an output gradient; its backward is the double backward of attention,
    block by block of query rows."""

    @staticmethod
    def forward(ctx, query, key, value, grad, mask, scale, limit):
        ctx.save_for_backward(query, key, value, grad, mask)
        ctx.scale, ctx.limit = scale, limit
        dquery = torch.empty_like(query)
        dkey, dvalue = torch.zeros_like(key), torch.zeros_like(value)
        for rows in _blocks(query, key, limit):
            block = _backward_block(
                query[:, :, rows], key, value, grad[:, :, rows], mask, rows.start, scale
            )
            dquery[:, :, rows] = block[0]
            dkey += block[1]
            dvalue += block[2]
        return dquery, dkey, dvalue

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_dquery, grad_dkey, grad_dvalue):
        query, key, value, grad, mask = ctx.saved_tensors
        out = [torch.empty_like(query), torch.zeros_like(key), torch.zeros_like(value)]
        out.append(torch.empty_like(grad))
        for rows in _blocks(query, key, ctx.limit):
            parts = _double_backward_block(
                query[:, :, rows],
                key,
                value,
                grad[:, :, rows],
                grad_dquery[:, :, rows],
                grad_dkey,
                grad_dvalue,
                mask,
                rows.start,
                ctx.scale,
            )
            out[0][:, :, rows] = parts[0]
            out[1] += parts[1]
            out[2] += parts[2]
            out[3][:, :, rows] = parts[3]
        return (*out, None, None, None)


def _sdpa(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    """SDPA on (B, H, T, d) heads, the shared key/value heads repeated (the fused kernels take a
    padding mask only without grouped heads)."""
    groups = query.shape[1] // key.shape[1]
    return F.scaled_dot_product_attention(
        query,
        repeat_kv(key, groups),
        repeat_kv(value, groups),
        attn_mask=mask,
        is_causal=mask is None,
        scale=scale,
    )


class _LeanAttention(torch.autograd.Function):
    """SDPA forward; a twice-differentiable backward that keeps no T x T tensor."""

    @staticmethod
    def forward(ctx, query, key, value, mask, scale, limit):
        ctx.save_for_backward(query, key, value, mask)  # k and v with their shared heads only
        ctx.scale, ctx.limit = scale, limit
        return _sdpa(query, key, value, mask, scale)

    @staticmethod
    def backward(ctx, grad):
        query, key, value, mask = ctx.saved_tensors
        if not torch.is_grad_enabled():
            # no graph wanted (an evaluation probe, or the second backward passing through the
            # forward): SDPA's own fused backward, after recomputing its forward (queries that
            # attend to nothing, zero in the forward, have their output gradient zeroed)
            grad = _live_gradient(grad, mask, 0)
            if mask is not None:
                mask = attend_somewhere(mask)
            with torch.enable_grad():
                leaves = [t.detach().requires_grad_(True) for t in (query, key, value)]
                output = _sdpa(*leaves, mask, ctx.scale)
                gradients = torch.autograd.grad(output, leaves, grad)
        else:
            gradients = _AttentionGradients.apply(
                query, key, value, grad.contiguous(), mask, ctx.scale, ctx.limit
            )
        return *gradients, None, None, None


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
        raise ValueError("lean_attention expects the boolean mask of `padding_mask` (or None)")
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
    is `padding_mask` (None when nothing is padded, which keeps SDPA's is_causal fast path);
    without a registered mask function a custom name silently runs unmasked.
    """
    function = getattr(module, "fixate_attention", None)
    if function is None:
        kwargs.pop("output_attentions", None)
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return function(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(ATTENTION, fixate_attention)
AttentionMaskInterface.register(ATTENTION, padding_mask)
