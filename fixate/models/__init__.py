"""Frozen vision-language backbones: offline loading, input building, visual-token geometry."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import InternVLForConditionalGeneration, Qwen3VLForConditionalGeneration

from fixate.models.base import (
    DEFAULT_INSTRUCTION,
    Backbone,
    ForwardOutput,
    ModelBatch,
    Screen,
    VisualFeatures,
)
from fixate.models.internvl import InternVLBackbone
from fixate.models.processors import load_processor
from fixate.models.qwen3vl import Qwen3VLBackbone

__all__ = [
    "DEFAULT_INSTRUCTION",
    "Backbone",
    "ForwardOutput",
    "InternVLBackbone",
    "ModelBatch",
    "Qwen3VLBackbone",
    "Screen",
    "VisualFeatures",
    "load_backbone",
]

_BACKBONES = {
    "qwen3vl": (Qwen3VLBackbone, Qwen3VLForConditionalGeneration),
    "internvl": (InternVLBackbone, InternVLForConditionalGeneration),
}

# the original InternVL release ships its own modelling code (InternVLChatModel via auto_map)
_REMOTE_CODE_ARCHITECTURES = {"InternVLChatModel"}


def _check_layout(path: Path, kind: str, trust_remote_code: bool) -> None:
    config_file = path / "config.json"
    if not config_file.is_file():
        hint = " (materialise tiny models first: fixate.models.tiny.materialise)"
        raise FileNotFoundError(f"{path} is not a local checkpoint folder{hint}")
    architectures = set(json.loads(config_file.read_text()).get("architectures") or [])
    if kind != "internvl" or not architectures & _REMOTE_CODE_ARCHITECTURES:
        if trust_remote_code:
            raise ValueError("trust_remote_code=True only applies to the original InternVL release")
        return
    if not trust_remote_code:
        raise ValueError(
            f"{path} is the original remote-code InternVL release (InternVLChatModel); use the "
            "native InternVL3_5-4B-HF layout, or opt in explicitly with trust_remote_code=True"
        )
    raise NotImplementedError(
        "the remote-code InternVL path (InternVLChatModel, its own dynamic_preprocess and weight "
        "names) is not implemented; use the native InternVL3_5-4B-HF checkpoint"
    )


def load_backbone(
    path_or_name: str | Path,
    kind: str,
    device: torch.device | str | None = None,
    trust_remote_code: bool = False,
) -> Backbone:
    """Load a local checkpoint folder offline as a frozen backbone.

    bf16 on a GPU, fp32 on the CPU (bf16 matrix products on the CPU are slow and the operators
    are sensitive to rounding). All parameters are frozen. The language model runs SDPA except in
    the layers a probe asks eager attention of.
    """
    if kind not in _BACKBONES:
        raise ValueError(f"unknown backbone kind {kind!r}; choose one of {sorted(_BACKBONES)}")
    path = Path(path_or_name)
    _check_layout(path, kind, trust_remote_code)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    backbone_cls, model_cls = _BACKBONES[kind]
    model = model_cls.from_pretrained(
        str(path), dtype=dtype, attn_implementation="sdpa", local_files_only=True
    ).to(device)
    return backbone_cls(model, load_processor(path, kind))
