"""Frozen vision-language backbones: offline loading, input building, visual-token geometry."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import InternVLForConditionalGeneration, Qwen3VLForConditionalGeneration

from fixate.models.base import DEFAULT_INSTRUCTION, Backbone
from fixate.models.folders import ModelFolderError, note_own_code, read_config
from fixate.models.internvl import InternVLBackbone
from fixate.models.internvl_original import is_original_layout, load_original
from fixate.models.processors import load_processor
from fixate.models.qwen3vl import Qwen3VLBackbone
from fixate.models.records import ForwardOutput, ModelBatch, Screen, ScreenEncoding, VisualFeatures

__all__ = [
    "DEFAULT_INSTRUCTION",
    "Backbone",
    "ForwardOutput",
    "InternVLBackbone",
    "ModelBatch",
    "ModelFolderError",
    "Qwen3VLBackbone",
    "Screen",
    "ScreenEncoding",
    "VisualFeatures",
    "load_backbone",
]

_BACKBONES = {
    "qwen3vl": (Qwen3VLBackbone, Qwen3VLForConditionalGeneration),
    "internvl": (InternVLBackbone, InternVLForConditionalGeneration),
}


def _is_original_internvl(path: Path, kind: str, trust_remote_code: bool) -> bool:
    """Whether `path` is the original InternVL release, to be converted; refuses what must not load.

    The original release is only loaded on explicit request (`trust_remote_code=True`), although
    none of its code is run (see `fixate.models.internvl_original`): it is a different checkpoint
    from the -HF one, and the flag keeps that choice visible in the configuration.
    """
    config = read_config(path)  # every folder: a missing or broken config.json is named
    original = kind == "internvl" and is_original_layout(config)
    if not original and trust_remote_code:
        raise ModelFolderError(
            f"{path}: trust_remote_code=True only applies to the original InternVL release"
        )
    if original and not trust_remote_code:
        raise ModelFolderError(
            f"{path} is the original InternVL release (InternVLChatModel); use the native "
            "InternVL3_5-4B-HF layout, or opt in explicitly with trust_remote_code=True (it is "
            "converted to the native class at load time; none of its code is run)"
        )
    return original


def load_backbone(
    path_or_name: str | Path,
    kind: str,
    device: torch.device | str | None = None,
    trust_remote_code: bool = False,
) -> Backbone:
    """Load a local checkpoint folder offline as a frozen backbone.

    bf16 on a GPU, fp32 on the CPU (bf16 matrix products on the CPU are slow and the operators
    are sensitive to rounding). All parameters are frozen. The language model runs SDPA except in
    the layers a probe asks eager attention of. The original InternVL release (InternVLChatModel)
    needs `trust_remote_code=True` and is converted to `InternVLForConditionalGeneration`.
    """
    if kind not in _BACKBONES:
        raise ValueError(f"unknown backbone kind {kind!r}; choose one of {sorted(_BACKBONES)}")
    path = Path(path_or_name)
    original = _is_original_internvl(path, kind, trust_remote_code)
    note_own_code(path)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    backbone_cls, model_cls = _BACKBONES[kind]
    if original:
        model, processor = load_original(path, dtype)
    else:
        model = model_cls.from_pretrained(
            str(path), dtype=dtype, attn_implementation="sdpa", local_files_only=True
        )
        processor = load_processor(path, kind)
    return backbone_cls(model.to(device), processor)
