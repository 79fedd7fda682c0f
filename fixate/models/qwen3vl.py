"""Qwen3-VL (`Qwen3VLForConditionalGeneration`): merged patch grid, 3-D M-RoPE, DeepStack."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor

from fixate.models.base import Backbone, scatter_rows, unit_grid
from fixate.models.records import ModelBatch, VisualFeatures


class Qwen3VLBackbone(Backbone):
    """Qwen3-VL with its visual tokens laid out as the row-major merged patch grid.

    The image processor resizes the screen (aspect kept up to multiples of patch x merge) and
    orders patches so that each merge block is consecutive; after the merger, visual token k is
    cell (k // w, k % w) of an h x w grid, h and w being the patch grid divided by the merge size.
    """

    kind = "qwen3vl"
    default_window = 6

    def _token_cells(self, processed: Mapping, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        merge = self.model.config.vision_config.spatial_merge_size
        frames, grid_h, grid_w = (int(n) for n in processed["image_grid_thw"][0])
        if frames != 1:
            raise ValueError("a screen is one image (one temporal patch)")
        cells = unit_grid(grid_h // merge, grid_w // merge)
        return cells, torch.ones(cells.shape[0])

    def _vision_inputs(self, processed: Mapping) -> dict[str, Tensor]:
        return {
            "pixel_values": processed["pixel_values"],
            "image_grid_thw": processed["image_grid_thw"],
        }

    def _position_ids(
        self, input_ids: Tensor, attention_mask: Tensor, visions: list[dict[str, Tensor]]
    ) -> Tensor:
        """(4, B, T): the text row the causal mask uses, then M-RoPE's (t, h, w) rows.

        Computed from the layout ids, where the soft-prompt slots hold ordinary text tokens: fed
        `inputs_embeds` alone the model would silently fall back to 1-D positions or to
        `rope_deltas` left over from an earlier call.
        """
        token_types = (input_ids == self.image_token_id).int()
        rope, _ = self.model.model.get_rope_index(
            input_ids,
            mm_token_type_ids=token_types,
            image_grid_thw=torch.cat([vision["image_grid_thw"] for vision in visions]),
            attention_mask=attention_mask,
        )
        text = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        return torch.cat([text[None], rope], 0)

    def image_features(self, batch: ModelBatch, grad: bool = False) -> VisualFeatures:
        with torch.set_grad_enabled(grad):
            out = self.model.model.get_image_features(
                batch.vision["pixel_values"], batch.vision["image_grid_thw"], return_dict=True
            )
        # 5.24 splits DeepStack features per image, 5.17 does not
        deepstack = tuple(
            torch.cat(level) if isinstance(level, list | tuple) else level
            for level in out.deepstack_features
        )
        return VisualFeatures(torch.cat(out.pooler_output), deepstack)

    @contextmanager
    def _decoder_additions(self, batch: ModelBatch, features: VisualFeatures) -> Iterator[None]:
        """DeepStack: feature level k is added to the visual tokens' outputs of decoder layer k.

        The language model would do this itself given `deepstack_visual_embeds`, but through a
        boolean mask (a device sync per layer, forward and backward); these hooks index with the
        host-made `batch.image_index`.
        """

        def hook(level: Tensor) -> Callable:
            def add(module: torch.nn.Module, args: tuple, output: Tensor) -> Tensor:
                return scatter_rows(output, batch.image_index, level.to(output.dtype), add=True)

            return add

        layers = self.language_model.layers
        handles = [
            layers[k].register_forward_hook(hook(level))
            for k, level in enumerate(features.deepstack)
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
