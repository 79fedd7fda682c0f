"""A per-screen cache of the frozen vision tower's outputs.

Why: the vision tower is frozen and its input is the screen alone (not the soft prompt, the profile
or the answer), so training recomputes identical features for every screen in every epoch; at the
4B scale that is about a tenth of a second-order step. The cache keeps each
screen's rows of `VisualFeatures` (the merged image features and, for Qwen3-VL, every DeepStack
level) and assembles a batch's features from them in batch order, running the tower only on the
screens it lacks. Assembling is host bookkeeping plus one concatenation per level on the device:
no device sync and, while entries live on the device, no host-device copy.

Memory is bounded in bytes, in two tiers: entries live on the model's device while `device_bytes`
allows, then in host memory (pinned, copied back asynchronously) while `host_bytes` allows; beyond
that, features are computed and not kept. Nothing is evicted: training visits every screen once per
epoch in a new order, and on such a cyclic pattern a least-recently-used cache smaller than the set
of screens misses every time, whereas keeping the first entries serves a steady share of them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from fixate.models.base import Backbone
from fixate.models.records import ModelBatch, Screen, VisualFeatures

GIB = 2**30


def screen_key(screen: Screen) -> str:
    """The identity of what the vision tower sees: a digest of the screen's pixels and size.

    Content rather than file path, because one file can yield different screens (crops, re-renders)
    and one screen can sit in several files; every other field of a screen (profile, answer, slot
    boxes) leaves the visual features unchanged.
    """
    image = screen.image
    digest = hashlib.blake2b(f"{image.mode}:{image.size}".encode(), digest_size=16)
    digest.update(image.tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Visual features per screen for one backbone, bounded in bytes on the device and the host."""

    def __init__(
        self,
        backbone: Backbone,
        *,
        device_bytes: int = 4 * GIB,
        host_bytes: int = 16 * GIB,
    ):
        self.backbone = backbone
        self.device_bytes = device_bytes
        self.host_bytes = host_bytes
        self._entries: dict[str, tuple[Tensor, ...]] = {}
        self._used = {"device": 0, "host": 0}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        """Whether the features of the screen with this `screen_key` are kept (and stay kept:
        nothing is evicted)."""
        return key in self._entries

    @property
    def used_bytes(self) -> dict[str, int]:
        """Bytes held on the device and on the host."""
        return dict(self._used)

    def features(self, batch: ModelBatch, keys: Sequence[str]) -> VisualFeatures:
        """The batch's `VisualFeatures` (as `backbone.image_features(batch)`), through the cache.

        `keys` are the `screen_key`s of the screens `batch` was encoded from, in the same order.
        """
        if len(keys) != len(batch.token_cells):
            raise ValueError(f"{len(keys)} screen keys for a batch of {len(batch.token_cells)}")
        rows: list[tuple[Tensor, ...] | None] = [self._lookup(key) for key in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        first: dict[str, int] = {}  # a screen repeated in the batch runs through the tower once
        for i in missing:
            first.setdefault(keys[i], i)
        computed_rows = list(first.values())
        self.hits += len(keys) - len(computed_rows)
        self.misses += len(computed_rows)
        if missing:
            whole = len(computed_rows) == len(keys)  # then the batch's vision inputs serve as is
            computed = (
                self.backbone.image_features(batch)
                if whole
                else self.backbone.screen_features(batch, computed_rows)
            )
            sizes = [len(batch.token_cells[i]) for i in computed_rows]
            fresh = dict(
                zip([keys[i] for i in computed_rows], computed.per_screen(sizes), strict=True)
            )
            for key, row in fresh.items():
                self._store(key, row)
            if whole:
                return computed
            for i in missing:
                rows[i] = fresh[keys[i]]
        return VisualFeatures.from_screens(rows)

    def _lookup(self, key: str) -> tuple[Tensor, ...] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        device = self.backbone.device
        return tuple(t.to(device, non_blocking=True) for t in entry)

    @property
    def budgets(self) -> dict[str, int]:
        """Bytes allowed on the device and on the host."""
        return {"device": self.device_bytes, "host": self.host_bytes}

    def _store(self, key: str, rows: tuple[Tensor, ...]) -> None:
        size = sum(t.numel() * t.element_size() for t in rows)
        tier = _tier(size, self._used, self.budgets)
        if tier is not None:
            self._entries[key] = tuple(_copy(t, on_host=tier == "host") for t in rows)
            self._used[tier] += size

    def share(self) -> int:
        """Give every process of a data-parallel run the entries that any process holds; return
        how many this process received. Collective: every process calls it, at the same point.

        Why: each process computes the features of the screens in its own share of the batches,
        so after one epoch each holds about 1/N of them, and in the next epochs it would run the
        vision tower (and the image processor) again for about half its screens, then a quarter,
        while one process has them all from its second epoch on. One exchange after the first
        epoch gives every process the screens any process has seen.

        Each missing entry is broadcast from the lowest rank that holds it (its levels in one
        tensor) to the processes that lack it and have room for it, as `_store` would place it;
        every process works the same plan out from the gathered keys, sizes and budgets, so an
        entry nobody can keep is not sent at all.
        """
        if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
            return 0
        held = {key: [(t.shape, t.dtype) for t in rows] for key, rows in self._entries.items()}
        everyone: list = [None] * dist.get_world_size()  # (held, used, budgets) per process
        dist.all_gather_object(everyone, (held, self.used_bytes, self.budgets))
        used = [dict(process_used) for _, process_used, _ in everyone]  # as the plan fills them
        rank, device = dist.get_rank(), self.backbone.device
        received = 0
        for key in sorted(set().union(*(entries for entries, _, _ in everyone))):  # same order
            holders = [r for r, (entries, _, _) in enumerate(everyone) if key in entries]
            shapes, dtypes = zip(*everyone[holders[0]][0][key], strict=True)
            if len(set(dtypes)) != 1:
                raise TypeError(f"feature levels of mixed dtypes {set(dtypes)} cannot be shared")
            sizes = [math.prod(shape) for shape in shapes]
            size = sum(sizes) * dtypes[0].itemsize
            takers = []
            for r, (_, _, budgets) in enumerate(everyone):
                tier = None if r in holders else _tier(size, used[r], budgets)
                if tier is not None:
                    used[r][tier] += size
                    takers.append(r)
            if not takers:
                continue
            if rank == holders[0]:
                flat = torch.cat([t.to(device).flatten() for t in self._entries[key]])
            else:
                flat = torch.empty(sum(sizes), dtype=dtypes[0], device=device)
            dist.broadcast(flat, src=holders[0])
            if rank in takers:
                parts = flat.split(sizes)
                self._store(key, tuple(p.view(s) for p, s in zip(parts, shapes, strict=True)))
                received += 1
        return received


def _tier(size: int, used: dict[str, int], budgets: dict[str, int]) -> str | None:
    """Where an entry of `size` bytes goes: the device while it has room, then the host, or
    nowhere."""
    return next((tier for tier in ("device", "host") if used[tier] + size <= budgets[tier]), None)


def _copy(tensor: Tensor, on_host: bool) -> Tensor:
    """An owned copy (not a view that would pin the whole batch's features in memory).

    Host copies of device tensors go to pinned memory without waiting, so that neither storing
    nor reading them back stalls the step.
    """
    if not on_host or tensor.device.type == "cpu":
        return tensor.clone()
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    return host.copy_(tensor, non_blocking=True)
