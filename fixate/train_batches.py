"""The training loop's input: blocks of sample rows read, encoded and moved to the device, ahead
of the step that trains on them, with the frozen vision tower's features served by a cache.

Kept apart from the loop (`fixate.train`) because none of it touches the soft prompt or the
optimiser: it is CPU work (reading images, the image processor, tokenising, hashing pixels) that
runs in background threads while the device trains, and the loop only asks for the next batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fixate.data.samples import SIGNAL_COLUMNS
from fixate.models.base import Backbone
from fixate.models.cache import GIB, FeatureCache
from fixate.models.records import ModelBatch, VisualFeatures
from fixate.prefetch import prefetched
from fixate.sample_encoder import SampleEncoder

PREPARED_AHEAD = 2
"""Batches prepared in background threads while one trains (`TrainingBatches.encoded`). With
one, two GPUs training a 4B model waited 25 ms for each batch of 4 and trained 22.4 samples per
second; with two, 3 ms and 24.1 (`benchmarks/README.md`, before encodings were kept per sample)."""


@dataclass(frozen=True)
class PreparedBatch:
    """A training batch's rows, their screens' feature-cache keys, the encoded batch and the human
    dwell per slot (on the device, zero beyond a screen's own slots)."""

    rows: list[dict]
    keys: list[str]
    batch: ModelBatch
    dwell: torch.Tensor


def padded(values: list, width: int) -> torch.Tensor:
    """(B, width) float tensor of variable-length rows, zero-padded."""
    out = torch.zeros(len(values), width)
    for i, row in enumerate(values):
        out[i, : len(row)] = torch.as_tensor(np.asarray(row, dtype=np.float32))
    return out


class TrainingBatches:
    """Prepares the training batches of one run and feeds their screens through the feature
    cache.

    ``signal`` names the dwell column the loss aligns with (`SIGNAL_COLUMNS`), ``n_soft`` the
    soft prompt's length and ``instruction`` the question every screen is asked; with
    ``prefetch`` the next batches are prepared while the current one trains.
    """

    def __init__(
        self,
        backbone: Backbone,
        signal: str,
        n_soft: int,
        instruction: str,
        prefetch: bool = True,
        cache_gib: Mapping[str, float] | None = None,
    ):
        """``cache_gib``: the feature cache's budgets, {"device": GiB, "host": GiB}
        (`FeatureCache`'s defaults for any left out)."""
        self.backbone = backbone
        budgets = {f"{tier}_bytes": int(gib * GIB) for tier, gib in (cache_gib or {}).items()}
        self.feature_cache = FeatureCache(backbone, **budgets)
        self.encoder = SampleEncoder(backbone, instruction, self.feature_cache)
        self.signal = signal
        self.n_soft = n_soft
        self.prefetch = prefetch

    def prepare(self, block: pd.DataFrame) -> PreparedBatch:
        """Encode a batch's screens, reading and processing only those the cache cannot serve
        (`SampleEncoder`; CPU work, then a copy to the device)."""
        rows = block.to_dict("records")
        keys, encodings = self.encoder.encode_rows(rows, self.n_soft, teacher_forced=True)
        batch = self.backbone.collate(encodings)
        width = max(len(boxes) for boxes in batch.slot_boxes)
        dwell = padded([row[SIGNAL_COLUMNS[self.signal]] for row in rows], width)
        return PreparedBatch(rows, keys, batch, dwell.to(self.backbone.device))

    def encoded(self, blocks: Iterable[pd.DataFrame]) -> Iterator[PreparedBatch]:
        """The blocks' batches in order; with `prefetch`, the next `PREPARED_AHEAD` are prepared
        in background threads while the caller trains on the current one.

        Reading, image processing and tokenising a batch take about as long as a 4B training
        step on a GPU (the image processing only until `encode_screen` has kept the sample's
        layout); PIL, numpy and the tokenisers release the GIL, so the threads overlap them with
        the step, and with each other (`Backbone.thread_processor`). `blocks` may be lazy and is
        read `PREPARED_AHEAD` blocks ahead (`fixate.prefetch.prefetched`), so the loop passes
        every remaining epoch's blocks at once: the prefetch then runs across epoch boundaries
        instead of stalling each epoch's start.
        """
        yield from prefetched(self.prepare, blocks, PREPARED_AHEAD if self.prefetch else 0)

    def features(self, prepared: PreparedBatch) -> VisualFeatures:
        """The batch's visual features, through the cache (the vision tower runs only on the
        screens the cache lacks)."""
        return self.feature_cache.features(prepared.batch, prepared.keys)
