"""The original InternVL release (remote-code `InternVLChatModel`), converted to the native class.

Why: OpenGVLab publishes InternVL3.5 twice, as the original release (config `internvl_chat` with an
`llm_config` and an InternViT `vision_config`, weights named `vision_model.*`, `mlp1.*`,
`language_model.*`, modelling code run through `auto_map`) and as the -HF conversion for the native
`InternVLForConditionalGeneration`. Running the release's own code would mean executing downloaded
Python and keeping a second model class downstream. Instead the folder is converted at load time:
a native `InternVLConfig` is built from the original config, the weights are renamed (InternViT's
fused `attn.qkv` split into q/k/v projections, layer scales `ls1/ls2` to `lambda_1/lambda_2`, `mlp1`
to the multimodal projector, the language model moved under the native prefixes) and loaded
strictly, so any weight that maps nowhere, or any native weight that nothing maps to, is an error
naming it. The processor is the native one (`ImageOnlyInternVLProcessor` with a PIL
`GotOcr2ImageProcessorPil` and the -HF chat layout), so `InternVLBackbone` sees exactly what it sees
for an -HF folder: same tiles, same pixels, same tokens. No code from the checkpoint is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor
from transformers import AutoConfig, AutoTokenizer, InternVLConfig, InternVLForConditionalGeneration
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

from fixate.models.folders import ModelFolderError, read_config
from fixate.models.processors import ImageOnlyInternVLProcessor

# `architectures` of the original release (its `auto_map` points at the remote code)
_ARCHITECTURES = frozenset({"InternVLChatModel"})

# The tokens the native processor names; the original tokenizer has the image ones but not the names
# (and usually no <video>, which is then added as a new special token: it never occurs in a prompt).
_NAMED_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}

# The -HF conversion's chat layout (ChatML turns, an image as <IMG_CONTEXT> and a newline, no
# system turn); the original's own `template` lives in its remote conversation code.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Language models whose original weight names are the transformers ones under `language_model.`
# (InternLM2, used by some InternVL2.5 sizes, fuses wqkv and needs its own code: not supported).
_LANGUAGE_MODELS = {"qwen2", "qwen3"}

# llm_config keys that describe the original's loading (remote code, flash attention, dtype), not
# the architecture; the loader chooses attention and dtype itself.
_LOADING_KEYS = {
    "_name_or_path",
    "auto_map",
    "architectures",
    "attn_implementation",
    "_attn_implementation",
    "_attn_implementation_autoset",
    "use_flash_attn",
    "torch_dtype",
    "dtype",
    "use_bfloat16",
}

# what each entry of the loading report means here (a shape mismatch raises in transformers)
_LOAD_PROBLEMS = {
    "missing_keys": "native weights no original weight maps to",
    "unexpected_keys": "original weights renamed to names the native model lacks",
}

_V = r"vision_model\.encoder\.layers\.(\d+)\."
_NV = r"model.vision_tower.encoder.layer.\1."
# original name (full match) -> native name; every original weight must match exactly one rule
_RENAMES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"vision_model\.embeddings\.class_embedding", "model.vision_tower.embeddings.cls_token"),
        (
            r"vision_model\.embeddings\.position_embedding",
            "model.vision_tower.embeddings.position_embeddings",
        ),
        (
            r"vision_model\.embeddings\.patch_embedding\.(weight|bias)",
            r"model.vision_tower.embeddings.patch_embeddings.projection.\1",
        ),
        (_V + r"attn\.proj\.(weight|bias)", _NV + r"attention.projection_layer.\2"),
        (_V + r"attn\.(q_norm|k_norm)\.weight", _NV + r"attention.\2.weight"),
        (_V + r"mlp\.(fc1|fc2)\.(weight|bias)", _NV + r"mlp.\2.\3"),
        (_V + r"norm1\.(weight|bias)", _NV + r"layernorm_before.\2"),
        (_V + r"norm2\.(weight|bias)", _NV + r"layernorm_after.\2"),
        (_V + r"ls(1|2)", _NV + r"lambda_\2"),
        (r"mlp1\.0\.(weight|bias)", r"model.multi_modal_projector.layer_norm.\1"),
        (r"mlp1\.1\.(weight|bias)", r"model.multi_modal_projector.linear_1.\1"),
        (r"mlp1\.3\.(weight|bias)", r"model.multi_modal_projector.linear_2.\1"),
        (r"language_model\.model\.(.+)", r"model.language_model.\1"),
        (r"language_model\.lm_head\.weight", "lm_head.weight"),
    )
)
# InternViT's fused projection: rows [q; k; v], each hidden_size long (heads x head_dim)
_QKV = re.compile(_V + r"attn\.qkv\.(weight|bias)")


def is_original_layout(config: Mapping) -> bool:
    """Whether a parsed config.json is the original (remote-code) InternVL release."""
    return bool(set(config.get("architectures") or []) & _ARCHITECTURES)


def native_config(original: Mapping, image_token_id: int) -> InternVLConfig:
    """The native `InternVLConfig` equivalent to an original `internvl_chat` config.

    Raises NotImplementedError for originals the native class cannot reproduce (pixel shuffle v1,
    an InternLM2 language model, a forced tile size other than the vision tower's).
    """
    if original.get("ps_version", "v1") != "v2":
        raise NotImplementedError("only ps_version 'v2' has a native pixel shuffle")
    llm = {k: v for k, v in original["llm_config"].items() if k not in _LOADING_KEYS}
    model_type = llm.pop("model_type", None)
    if model_type not in _LANGUAGE_MODELS:
        raise NotImplementedError(
            f"language model {model_type!r} is not supported; choose one of "
            f"{sorted(_LANGUAGE_MODELS)}"
        )
    text_config = AutoConfig.for_model(model_type, **llm)
    vision = original["vision_config"]
    image_size = vision.get("image_size", 224)
    if _tile(original) != image_size:
        raise NotImplementedError("force_image_size differs from the vision tower's image_size")
    return InternVLConfig(
        vision_config=dict(
            hidden_size=vision["hidden_size"],
            num_hidden_layers=vision["num_hidden_layers"],
            num_attention_heads=vision["num_attention_heads"],
            intermediate_size=vision["intermediate_size"],
            # the defaults of the original InternVisionConfig, for keys a config left out
            hidden_act=vision.get("hidden_act", "gelu"),
            layer_norm_eps=vision.get("layer_norm_eps", 1e-6),
            norm_type=vision.get("norm_type", "rms_norm"),
            attention_bias=vision.get("qkv_bias", False),
            use_qk_norm=vision.get("qk_normalization", True),
            image_size=image_size,
            patch_size=vision.get("patch_size", 14),
            num_channels=vision.get("num_channels", 3),
            # InternViT has no final norm; mean pooling makes the native one an identity
            use_mean_pooling=True,
        ),
        text_config=text_config,
        image_token_id=image_token_id,
        image_seq_length=_tokens_per_tile(original),
        downsample_ratio=original.get("downsample_ratio", 0.5),
        projector_hidden_act="gelu",  # mlp1 is LayerNorm, Linear, GELU (exact), Linear
        vision_feature_layer=original.get("select_layer", -1),
        vision_feature_select_strategy="default",  # the CLS token is dropped
        # as in the original, whose language model is built (and tied) from llm_config alone
        tie_word_embeddings=text_config.tie_word_embeddings,
    )


def convert_state_dict(original: Mapping[str, Tensor], hidden_size: int) -> dict[str, Tensor]:
    """Rename original weights to native ones; `hidden_size` is the vision tower's width.

    Raises ValueError naming the first weight no rule maps.
    """
    converted: dict[str, Tensor] = {}
    for key, tensor in original.items():
        qkv = _QKV.fullmatch(key)
        if qkv:
            if tensor.shape[0] != 3 * hidden_size:
                raise ValueError(f"{key} has {tensor.shape[0]} rows, not 3 x {hidden_size}")
            layer, kind = qkv.groups()
            prefix = f"model.vision_tower.encoder.layer.{layer}.attention"
            for name, part in zip("qkv", tensor.unflatten(0, (3, hidden_size)), strict=True):
                converted[f"{prefix}.{name}_proj.{kind}"] = part.clone()
            continue
        for pattern, replacement in _RENAMES:
            match = pattern.fullmatch(key)
            if match:
                converted[match.expand(replacement)] = tensor
                break
        else:
            raise ValueError(f"original InternVL weight {key!r} has no native counterpart")
    return converted


def load_original(
    path: Path, dtype: torch.dtype
) -> tuple[InternVLForConditionalGeneration, ImageOnlyInternVLProcessor]:
    """Load an original-release folder as the native model and processor (CPU, `dtype`, SDPA).

    Raises ValueError naming any weight without a native counterpart, or any native weight the
    checkpoint does not provide.
    """
    original = read_config(path)
    processor = _processor(path, original)
    config = native_config(original, processor.image_token_id)
    weights = convert_state_dict(_read_weights(path), config.vision_config.hidden_size)
    model, info = InternVLForConditionalGeneration.from_pretrained(
        None,
        config=config,
        state_dict=weights,
        dtype=dtype,
        attn_implementation="sdpa",
        output_loading_info=True,
    )
    for problem, what in _LOAD_PROBLEMS.items():
        if info[problem]:
            raise ValueError(f"{path}: {what}: {sorted(info[problem])}")
    return model, processor


def _tile(original: Mapping) -> int:
    """The side of one image tile in pixels."""
    return original.get("force_image_size") or original["vision_config"].get("image_size", 224)


def _tokens_per_tile(original: Mapping) -> int:
    """Visual tokens per tile: patches per side, pixel-shuffled by the downsample ratio."""
    side = _tile(original) // original["vision_config"].get("patch_size", 14)
    return round(side * side * original.get("downsample_ratio", 0.5) ** 2)


def _read_weights(path: Path) -> dict[str, Tensor]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (path / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise FileNotFoundError(f"{path} has no safetensors weights")
    return {key: value for name in files for key, value in load_file(path / name).items()}


def _processor(path: Path, original: Mapping) -> ImageOnlyInternVLProcessor:
    """The native processor: a saved GotOcr2 image processor if the folder has one, else one built
    from the original's tiling settings (448 px tiles, ImageNet statistics, dynamic tiling with a
    thumbnail), the folder's tokenizer with the image tokens named, the -HF chat layout."""
    if _saved_image_processor_type(path).startswith("GotOcr2ImageProcessor"):
        image_processor = GotOcr2ImageProcessorPil.from_pretrained(str(path), local_files_only=True)
    else:
        dynamic = bool(original.get("dynamic_image_size", False))
        if dynamic and not original.get("use_thumbnail", False):
            raise NotImplementedError("dynamic tiling without a thumbnail has no native processor")
        tile = _tile(original)
        # without dynamic tiling the image is one resized tile: a 1 x 1 canvas (the processor
        # crops to patches whatever the image processor says)
        image_processor = GotOcr2ImageProcessorPil(
            size={"height": tile, "width": tile},
            crop_to_patches=dynamic,
            min_patches=original.get("min_dynamic_patch", 1) if dynamic else 1,
            max_patches=original.get("max_dynamic_patch", 6) if dynamic else 1,
            image_mean=list(IMAGENET_DEFAULT_MEAN),
            image_std=list(IMAGENET_DEFAULT_STD),
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path),
            local_files_only=True,
            extra_special_tokens=_NAMED_TOKENS,
            trust_remote_code=False,  # never ask: in a terminal transformers offers to run it
        )
    except ValueError as err:
        raise ModelFolderError(
            f"{path}: the tokenizer cannot be built from transformers' own classes, and the "
            f"folder's own tokenizer code (auto_map in tokenizer_config.json) is never run ({err})"
        ) from err
    return ImageOnlyInternVLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_length=_tokens_per_tile(original),
        chat_template=CHAT_TEMPLATE,
    )


def _saved_image_processor_type(path: Path) -> str:
    """`image_processor_type` of the folder's saved image processor, "" when there is none."""
    for name, section in (
        ("preprocessor_config.json", None),
        ("processor_config.json", "image_processor"),
    ):
        file = path / name
        if file.is_file():
            saved = json.loads(file.read_text())
            saved = saved.get(section, {}) if section else saved
            if saved.get("image_processor_type"):
                return saved["image_processor_type"]
    return ""
