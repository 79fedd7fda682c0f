"""The records that pass between data, models and the probe: a screen as the model sees it,
its encoding, a padded batch of encodings, the visual features and a forward pass's output.

Plain frozen dataclasses, apart from the `Backbone` interface (`fixate.models.base`) that makes
and consumes them, so that code which only passes them along (the feature cache, the training
batches, the probe's slot pooling) needs no model code to name them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from fixate.data.samples import image_file

PIXELS = "pixel_values"  # the vision inputs a cached screen can do without


@dataclass(frozen=True)
class Screen:
    """One screen of one user, as the model sees it: the contract between data and models."""

    image: Image.Image
    slot_boxes: np.ndarray  # (S, 4) x0, y0, x1, y1 in pixels of `image`
    slot_names: tuple[str, ...]  # what the image labels each slot with ("A".."O", "0".."n")
    profile: str = ""
    answer: str | None = None  # teacher-forced answer text; None for free generation

    @classmethod
    def from_sample(
        cls, row: Mapping, *, labelled: bool = True, teacher_forced: bool = True
    ) -> Screen:
        """Build from a Sample row (`fixate.data.samples`); the answer is the clicked slot."""
        with Image.open(image_file(row, labelled=labelled)) as image:
            rgb = image.convert("RGB")
        names = tuple(str(name) for name in row["slot_names"])
        return cls(
            image=rgb,
            slot_boxes=np.asarray([list(box) for box in row["slot_boxes"]], dtype=np.float32),
            slot_names=names,
            profile=str(row["profile"]),
            answer=names[int(row["label"])] if teacher_forced else None,
        )


@dataclass(frozen=True)
class ScreenEncoding:
    """One screen's part of a batch before padding: `Backbone.encode_screen` makes it and
    `Backbone.collate` pads several into a `ModelBatch`.

    A screen whose visual features are cached needs only its token layout, not its pixels: the
    trainer keeps each training sample's encoding `without_pixels` and reuses it in later epochs
    instead of running the image processor again.
    """

    ids: Tensor  # the prompt's token ids, then the answer's
    answer: list[int] | None  # the answer's token ids (teacher forcing), or None
    cells: Tensor  # (n_visual, 4) image cell of each visual token, pixels
    weights: Tensor  # (n_visual,) weight of each visual token's cell
    vision: dict[str, Tensor]  # the vision tower's inputs (pixel_values, image_grid_thw, ...)
    slot_boxes: Tensor  # (S, 4) slot boxes, pixels
    n_soft: int

    def without_pixels(self) -> ScreenEncoding:
        return replace(self, vision={k: v for k, v in self.vision.items() if k != PIXELS})

    def answered(self, answer: list[int]) -> ScreenEncoding:
        """This screen (encoded without an answer) with ``answer``'s token ids appended: what
        `Backbone.encode_screen` gives for the screen with that answer, without running the
        image processor again."""
        if self.answer is not None:
            raise ValueError("the screen was encoded with an answer already")
        return replace(
            self,
            ids=torch.cat([self.ids, torch.tensor(answer, dtype=self.ids.dtype)]),
            answer=answer,
        )


@dataclass(frozen=True)
class ModelBatch:
    """A left-padded batch of encoded screens; every position-dependent tensor is (B, T)."""

    input_ids: Tensor  # layout ids: the filler token in the soft-prompt slots
    attention_mask: Tensor
    position_ids: Tensor  # (B, T), or (4, B, T) for M-RoPE (text row + t, h, w)
    soft_mask: Tensor  # bool, the N soft-prompt slots of every sample
    image_mask: Tensor  # bool, the visual tokens
    soft_index: Tensor  # long, positions of the soft-prompt slots in the flattened (B * T) batch
    image_index: Tensor  # long, likewise of the visual tokens (see `scatter_rows`)
    padded: bool  # whether any sample is shorter than the batch (host side: read without a sync)
    answer_ids: Tensor | None  # (B, A) answer token ids, -100 left-padding shorter answers
    screen_vision: list[dict[str, Tensor]]  # per screen, the vision tower's inputs (host memory)
    token_cells: list[Tensor]  # per sample (n_visual, 4) image cell of each visual token, pixels
    token_weights: list[Tensor]  # per sample (n_visual,) weight of each visual token's cell
    slot_boxes: list[Tensor]  # per sample (S, 4) slot boxes, pixels
    n_soft: int

    @property
    def answer_length(self) -> int:
        return 0 if self.answer_ids is None else self.answer_ids.shape[1]

    @property
    def query_index(self) -> int:
        """The position whose prediction is probed: the one predicting the last answer token."""
        return self.input_ids.shape[1] - (2 if self.answer_length else 1)

    @cached_property
    def vision(self) -> dict[str, Tensor]:
        """The vision tower's inputs of the batch (pixel_values, image_grid_thw, ...), collated and
        on the batch's device when first read.

        Only a screen missing from a feature cache needs its pixels: collating and copying them
        for every batch took about a third of a batch's preparation on the CPU.
        """
        if any(PIXELS not in vision for vision in self.screen_vision):
            raise ValueError(
                "a screen of this batch was encoded without its pixels (kept for a screen whose "
                "visual features are cached), but the vision tower needs them"
            )
        keys = self.screen_vision[0]
        device = self.input_ids.device
        return {k: torch.cat([v[k] for v in self.screen_vision]).to(device) for k in keys}

    def to(self, device: torch.device | str) -> ModelBatch:
        """The batch on `device`, but for `screen_vision` (see `vision`)."""

        def move(value):
            if isinstance(value, Tensor):
                return value.to(device)
            if isinstance(value, list):
                return [move(item) for item in value]
            return value

        moved = {
            f.name: move(getattr(self, f.name)) for f in fields(self) if f.name != "screen_vision"
        }
        return replace(self, **moved)


@dataclass(frozen=True)
class VisualFeatures:
    """What the frozen vision tower hands the language model; rows follow the batch's visual tokens.

    Computed once per batch (no gradient: the soft prompt never reaches the vision tower), so a
    trainer may cache it, and the probe may turn it into leaf tensors to read relevance at it.
    """

    image: Tensor  # (n_visual_total, D) merged into inputs_embeds at the visual tokens
    deepstack: tuple[Tensor, ...] = ()  # Qwen3-VL: feature k is added after decoder layer k

    def leaves(self) -> VisualFeatures:
        """Detached copies that require grad, so relevance can be read at them."""
        return VisualFeatures(
            self.image.detach().requires_grad_(True),
            tuple(level.detach().requires_grad_(True) for level in self.deepstack),
        )

    def per_screen(self, sizes: Sequence[int]) -> list[tuple[Tensor, ...]]:
        """Each screen's rows at every level (the image features, then each DeepStack level),
        for screens of ``sizes`` visual tokens in batch order: what a cache keeps per screen."""
        levels = [level.split(list(sizes)) for level in (self.image, *self.deepstack)]
        return [tuple(level[i] for level in levels) for i in range(len(sizes))]

    @classmethod
    def from_screens(cls, rows: Sequence[tuple[Tensor, ...]]) -> VisualFeatures:
        """The features of a batch of screens, from each screen's rows (`per_screen`) in order."""
        image, *deepstack = (torch.cat(level) for level in zip(*rows, strict=True))
        return cls(image, tuple(deepstack))


@dataclass(frozen=True)
class ForwardOutput:
    """Logits where the answer is predicted (B, max(A, 1), V) and the window's attention maps."""

    logits: Tensor
    attentions: tuple[Tensor, ...] = field(default=())  # shallow -> deep, each (B, H, T, T)
