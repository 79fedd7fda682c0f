"""Training losses: the gaze-alignment KL variants and the attention-weight schedule.

All alignment losses compare the human distribution ``g`` with the model's slot distribution ``a``
over a padded batch ``(B, S)``; ``mask`` marks each sample's real candidates, so screens with 5, 10
or 15 slots (or any number of AdSERP boxes) share a batch without padding slots counting.

* ``plain_kl``: KL(g || a).
* ``weighted_full_kl`` (default): each slot's KL term weighted by ``(g + eps_pw)^gamma``, normalised
  over the sample's slots; gamma = 0 gives uniform weights 1/S (the "w/o omega" ablation).
* ``coarsened_kl``: the same weighted KL over k+1 buckets: the k most-looked-at slots of ``g`` and
  the rest pooled into a tail bucket (k = min(top_k, S - 1) per sample).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

AlignmentMode = Literal["plain_kl", "weighted_full_kl", "coarsened_kl"]
ALIGNMENT_MODES = ("plain_kl", "weighted_full_kl", "coarsened_kl")


@dataclass(frozen=True)
class AlignmentLoss:
    """One alignment loss; constants are the reference's defaults."""

    mode: AlignmentMode = "weighted_full_kl"
    gamma: float = 2.0
    top_k: int = 5
    eps: float = 1e-4
    eps_pw: float = 1e-8

    def __post_init__(self) -> None:
        if self.mode not in ALIGNMENT_MODES:
            raise ValueError(f"alignment mode must be one of {ALIGNMENT_MODES}, not {self.mode!r}")

    def __call__(self, g: torch.Tensor, a: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch. ``g`` and ``a`` are distributions over the masked slots."""
        mask = mask.bool()
        g = torch.where(mask, g, torch.zeros_like(g))
        a = torch.where(mask, a, torch.zeros_like(a))
        if self.mode == "coarsened_kl":
            g, a, mask = self._buckets(g, a, mask)
        terms = g * (torch.log(g + self.eps) - torch.log(a + self.eps))
        terms = torch.where(mask, terms, torch.zeros_like(terms))
        if self.mode == "plain_kl":
            weights = mask.to(g.dtype)
        else:
            power = torch.where(mask, (g + self.eps_pw) ** self.gamma, torch.zeros_like(g))
            weights = power / power.sum(dim=-1, keepdim=True)
        return (weights * terms).sum(dim=-1).mean()

    def _buckets(
        self, g: torch.Tensor, a: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = mask.sum(dim=-1)
        k = torch.clamp(torch.minimum(torch.full_like(n, self.top_k), n - 1), min=1)
        width = int(k.max())
        ranked = torch.where(mask, g, torch.full_like(g, -1.0))
        idx = ranked.topk(width, dim=-1).indices
        keep = torch.arange(width, device=g.device)[None, :] < k[:, None]
        g_top = torch.where(keep, g.gather(-1, idx), torch.zeros_like(idx, dtype=g.dtype))
        a_top = torch.where(keep, a.gather(-1, idx), torch.zeros_like(idx, dtype=a.dtype))
        g_tail = (1 - g_top.sum(-1, keepdim=True)).clamp(min=0)
        a_tail = (1 - a_top.sum(-1, keepdim=True)).clamp(min=0)
        bucket_mask = torch.cat([keep, torch.ones_like(keep[:, :1])], dim=-1)
        return torch.cat([g_top, g_tail], -1), torch.cat([a_top, a_tail], -1), bucket_mask


def dwell_distribution(
    dwell: torch.Tensor, mask: torch.Tensor, floor: float = 1e-8
) -> torch.Tensor:
    """Human dwell (ms, padded ``(B, S)``) to a distribution over each sample's candidates.

    A small floor on every candidate keeps log terms finite (the reference's 1e-8).
    """
    d = torch.where(
        mask.bool(),
        dwell.clamp(min=0) / dwell.clamp(min=0).sum(-1, keepdim=True).clamp(min=1e-12) + floor,
        torch.zeros_like(dwell),
    )
    return d / d.sum(-1, keepdim=True)


def attention_weight(
    step: int, target: float, warmup_steps: int, with_choice_loss: bool = True
) -> float:
    """Weight lambda(t) of the alignment loss at optimiser step ``step``.

    With the next-token loss on, no alignment for ``warmup_steps`` steps, then a linear ramp to
    ``target`` over as many steps (the model first learns to answer, then to look). Without it,
    the target from the start.
    """
    if not with_choice_loss or warmup_steps <= 0:
        return target
    if step < warmup_steps:
        return 0.0
    return min(target, (step - warmup_steps) / warmup_steps * target)
