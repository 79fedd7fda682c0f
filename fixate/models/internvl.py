"""InternVL, native transformers layout (`InternVLForConditionalGeneration`, InternVL3_5-4B-HF).

Visual tokens come tile by tile: the screen is resized to a canvas of `cols x rows` tiles chosen by
the processor's aspect-ratio rule, the tiles are taken row-major over the canvas, each yields an
s x s row-major token grid after the pixel shuffle, and a thumbnail of the whole screen follows
when there is more than one tile. The reference mapped these tokens as if they were one raster
over the image and swapped the tile rows and columns; here every
token is placed at its true position on the screen.

Thumbnail policy: the thumbnail's s x s tokens are a second, coarser view of the whole screen, so
each is mapped to its cell of the whole screen and counted with `thumbnail_weight` (default 1.0:
included like any other visual token, because the model does attend to them and dropping them would
discard part of what it looked at; 0.0 reproduces the reference, which dropped them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor
from transformers import PreTrainedModel
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas
from transformers.processing_utils import ProcessorMixin

from fixate.models.base import MAX_IMAGE_WIDTH, Backbone, unit_grid
from fixate.models.records import ModelBatch, VisualFeatures


class InternVLBackbone(Backbone):
    """InternVL (-HF layout) with its tiles mapped to their true place on the screen."""

    kind = "internvl"
    default_window = 5

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        *,
        max_image_width: int = MAX_IMAGE_WIDTH,
        thumbnail_weight: float = 1.0,
    ):
        super().__init__(model, processor, max_image_width=max_image_width)
        self.thumbnail_weight = thumbnail_weight

    def _limit_tiles(self, max_tiles: int | None) -> None:
        if max_tiles is not None:
            # the image processor is shared by every thread's processor (`thread_processor`)
            self.processor.image_processor.max_patches = max_tiles

    def tiling(self, size: tuple[int, int]) -> tuple[int, int, bool]:
        """(cols, rows, thumbnail) the processor uses for an image of (width, height).

        `InternVLProcessor` always crops to patches (its call default overrides the image
        processor's own `crop_to_patches`, which the -HF checkpoints save as false), so only
        `max_patches` decides.
        """
        ip = self.processor.image_processor
        if ip.max_patches <= 1:
            return 1, 1, False
        tile = (ip.size["height"], ip.size["width"])
        cols, rows = get_optimal_tiled_canvas(
            (size[1], size[0]), tile, ip.min_patches, ip.max_patches
        )
        return cols, rows, cols * rows > 1

    def _token_cells(self, processed: Mapping, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        cols, rows, thumbnail = self.tiling(size)
        tiles = processed["pixel_values"].shape[0]
        if tiles != cols * rows + thumbnail:
            raise ValueError(
                f"the processor made {tiles} tiles of a {size[0]}x{size[1]} image; expected "
                f"{cols}x{rows}{' + thumbnail' if thumbnail else ''}"
            )
        side = math.isqrt(self.processor.image_seq_length)
        tile = unit_grid(side, side)
        scale = torch.tensor([1 / cols, 1 / rows, 1 / cols, 1 / rows])
        cells = [
            (tile + torch.tensor([c, r, c, r], dtype=torch.float32)) * scale
            for r in range(rows)
            for c in range(cols)
        ]
        weights = [torch.ones(len(cells) * tile.shape[0])]
        if thumbnail:
            cells.append(tile)
            weights.append(torch.full((tile.shape[0],), float(self.thumbnail_weight)))
        return torch.cat(cells), torch.cat(weights)

    def _vision_inputs(self, processed: Mapping) -> dict[str, Tensor]:
        return {"pixel_values": processed["pixel_values"]}

    def _position_ids(
        self, input_ids: Tensor, attention_mask: Tensor, visions: list[dict[str, Tensor]]
    ) -> Tensor:
        """1-D positions counted from each sample's first real token (left padding)."""
        return (attention_mask.cumsum(-1) - 1).clamp(min=0)

    def image_features(self, batch: ModelBatch, grad: bool = False) -> VisualFeatures:
        config = self.model.config
        with torch.set_grad_enabled(grad):
            out = self.model.model.get_image_features(
                pixel_values=batch.vision["pixel_values"],
                vision_feature_layer=config.vision_feature_layer,
                vision_feature_select_strategy=config.vision_feature_select_strategy,
                return_dict=True,
            )
        features = out.pooler_output
        return VisualFeatures(features.reshape(-1, features.shape[-1]))
