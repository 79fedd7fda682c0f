"""Pool relevance over visual tokens into a distribution over a screen's slots.

Every visual token covers a cell of the screen (`ModelBatch.token_cells`, in pixels). A slot's mass
is the relevance of the tokens weighted by the fraction of each token's cell that lies inside the
slot box, so slot borders that cut through tokens split them fairly, cells outside every box
(titles, arrows, gaps) count for nothing, and overlapping boxes (AdSERP) each get their share. The
reference assigned whole tokens by their centre, first box wins.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fixate.models.records import ModelBatch

TINY = 1e-12  # below this total mass a screen has no signal and gets the uniform distribution


def overlap_matrix(cells: Tensor, boxes: Tensor) -> Tensor:
    """(n_cells, n_boxes): the fraction of each cell's area inside each box (x0, y0, x1, y1)."""
    top_left = torch.maximum(cells[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(cells[:, None, 2:], boxes[None, :, 2:])
    inside = (bottom_right - top_left).clamp(min=0).prod(-1)
    area = (cells[:, 2:] - cells[:, :2]).prod(-1)
    return inside / area[:, None]


def pooling_matrix(batch: ModelBatch, index: int) -> Tensor:
    """(n_visual, S) token -> slot weights of one sample (cell overlap x token weight)."""
    overlap = overlap_matrix(batch.token_cells[index], batch.slot_boxes[index])
    return overlap * batch.token_weights[index][:, None]


def normalise(mass: Tensor, mask: Tensor) -> Tensor:
    """Rows of non-negative `mass` (B, S) to distributions over their `mask`ed slots.

    Exact normalisation (the reference added 1e-4 to the sum, which is not scale-free); a row with
    no mass becomes uniform over its slots.
    """
    mass = mass * mask
    total = mass.sum(-1, keepdim=True)
    uniform = mask / mask.sum(-1, keepdim=True).clamp(min=1)
    return torch.where(total > TINY, mass / total.clamp(min=TINY), uniform)


def slot_distribution(relevance: Tensor, batch: ModelBatch) -> tuple[Tensor, Tensor]:
    """Distributions (B, S_max) from relevance over positions (B, T), and the slot mask.

    Uses |relevance| at the visual tokens, as the reference did for every operator; padded slots
    (beyond a sample's own) are zero.
    """
    n_slots = [len(boxes) for boxes in batch.slot_boxes]
    width = max(n_slots)
    mask = torch.zeros(len(n_slots), width, dtype=torch.bool, device=relevance.device)
    rows = []
    for i, n in enumerate(n_slots):
        visual = batch.image_mask[i]
        # position t takes the pooling row of visual token (number of visual tokens up to t) - 1
        # and text positions weigh zero: no boolean indexing, which would wait for the GPU
        token = (visual.cumsum(0) - 1).clamp(min=0)
        weights = torch.where(visual, relevance[i].float().abs(), 0.0)
        pooled = weights @ pooling_matrix(batch, i).index_select(0, token)
        rows.append(torch.cat([pooled, pooled.new_zeros(width - n)]))
        mask[i, :n] = True
    mass = torch.stack(rows)
    return normalise(mass, mask), mask
