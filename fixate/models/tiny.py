"""Tiny random models of the REAL classes, saved like real checkpoints, for CPU tests and the demo.

Why: real weights cannot be downloaded here, but every code path downstream (offline loading,
processors, chat templates, M-RoPE, DeepStack, InternVL tiling, eager attention maps) must be the
real one. `materialise` writes a folder with `save_pretrained` (config, safetensors weights,
tokenizer, image-only processor, chat template) that `load_backbone(folder, kind)` loads exactly as
it would load Qwen3-VL-4B-Instruct or InternVL3_5-4B-HF. The numbers such a model produces mean
nothing; the shapes and code paths are the real ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    InternVLConfig,
    InternVLForConditionalGeneration,
    PreTrainedModel,
    Qwen2Tokenizer,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.processing_utils import ProcessorMixin

from fixate.models.base import DEFAULT_INSTRUCTION
from fixate.models.processors import ImageOnlyInternVLProcessor, ImageOnlyQwen3VLProcessor
from fixate.tempfiles import temp_folder

TINY_KINDS = {"tiny-qwen3vl": "qwen3vl", "tiny-internvl": "internvl"}

CHAT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
INTERNVL_NAMED_SPECIALS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}

# Enough text for a byte-level BPE to learn the words the prompts use; any other text still encodes
# (256 byte symbols), it just takes more tokens.
_CORPUS = [
    DEFAULT_INSTRUCTION,
    "user assistant system Top_genre: Action, Preferred_genres: Comedy|Drama|Horror|Romance",
    "Search query: best running shoes for women. Which result will the user click?",
    "A B C D E F G H I J K L M N O 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
]

# The layout of the real chat templates (ChatML turns; Qwen renders an image as vision_start +
# image_pad + vision_end, InternVL-HF as <IMG_CONTEXT> and a newline); the processor then expands
# the single image placeholder to the image's tokens.
_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '@IMAGE@' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _tokenizer(specials: list[str], named: dict[str, str]) -> Qwen2Tokenizer:
    """A byte-level BPE in the real tokenizer class; special tokens stay single, unsplit tokens."""
    all_specials = [*CHAT_SPECIALS, *specials, *named.values()]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=all_specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_CORPUS, trainer)
    vocab = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab["vocab"],
        merges=[tuple(pair) for pair in vocab["merges"]],  # must be tuples
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=named,
    )
    tokenizer.add_tokens(
        [AddedToken(token, special=True, normalized=False) for token in all_specials],
        special_tokens=True,
    )
    return tokenizer


TINY_TEXT = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
)
"""The language model's sizes of every tiny model (also the shrunk real-file checkpoint of the
tests)."""
TINY_MROPE_SECTION = [4, 2, 2]  # sum must be head_dim / 2, or the position axes silently mix
TINY_QWEN_VISION = dict(
    depth=2, hidden_size=32, intermediate_size=64, num_heads=2, deepstack_visual_indexes=[0, 1]
)
"""The tiny Qwen3-VL vision tower's sizes."""


def _text_config(vocab_size: int) -> dict:
    return dict(
        vocab_size=vocab_size,
        **TINY_TEXT,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )


def _tiny_qwen3vl() -> tuple[PreTrainedModel, ProcessorMixin]:
    tokenizer = _tokenizer(QWEN_SPECIALS, {})
    ids = {
        key: tokenizer.convert_tokens_to_ids(token)
        for key, token in dict(
            image_token_id="<|image_pad|>",
            video_token_id="<|video_pad|>",
            vision_start_token_id="<|vision_start|>",
            vision_end_token_id="<|vision_end|>",
        ).items()
    }
    text = _text_config(len(tokenizer))
    text["rope_parameters"] = dict(
        rope_type="default",
        rope_theta=5e6,
        mrope_section=TINY_MROPE_SECTION,
        mrope_interleaved=True,
    )
    config = Qwen3VLConfig(
        text_config=text,
        vision_config=dict(
            **TINY_QWEN_VISION,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=text["hidden_size"],
            num_position_embeddings=256,
        ),
        tie_word_embeddings=True,
        **ids,
    )
    image_processor = Qwen2VLImageProcessorPil(
        # the real processor allows up to 16.7M px; ~170k px keeps CPU tests fast (a 9x17 grid
        # for a 1100x600 screen, still 3 tokens per slot per axis)
        size={"shortest_edge": 16384, "longest_edge": 170000},
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )
    processor = ImageOnlyQwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=_CHAT_TEMPLATE.replace(
            "@IMAGE@", "<|vision_start|><|image_pad|><|vision_end|>"
        ),
    )
    return Qwen3VLForConditionalGeneration(config), processor


def _tiny_internvl() -> tuple[PreTrainedModel, ProcessorMixin]:
    tokenizer = _tokenizer([], INTERNVL_NAMED_SPECIALS)
    tile, patch = 224, 14  # the real model uses 448 px tiles; 224 keeps CPU tests fast
    tokens_per_tile = (tile // patch) ** 2 // 4  # pixel shuffle with downsample ratio 0.5
    text = _text_config(len(tokenizer))
    text["model_type"] = "qwen3"  # InternVL3.5's language model is Qwen3
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=tile,
            patch_size=patch,
            norm_type="layer_norm",
            use_qk_norm=False,
        ),
        text_config=text,
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=tokens_per_tile,
        downsample_ratio=0.5,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=True,
    )
    image_processor = GotOcr2ImageProcessorPil(
        size={"height": tile, "width": tile},
        crop_to_patches=True,
        min_patches=1,
        max_patches=12,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    processor = ImageOnlyInternVLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_length=tokens_per_tile,
        chat_template=_CHAT_TEMPLATE.replace("@IMAGE@", "<IMG_CONTEXT>\\n"),
    )
    return InternVLForConditionalGeneration(config), processor


_BUILDERS = {"tiny-qwen3vl": _tiny_qwen3vl, "tiny-internvl": _tiny_internvl}


def materialise(name: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny model `name` ("tiny-qwen3vl" or "tiny-internvl") to `out_dir`; return it.

    The weights are drawn with a fixed seed inside a forked RNG, so the caller's RNG state is
    untouched. The folder is written next to `out_dir` and renamed into place, so a killed job
    never leaves a half-written model that looks complete; an existing `out_dir` is replaced.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown tiny model {name!r}; choose one of {sorted(_BUILDERS)}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor = _BUILDERS[name]()
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    staging = temp_folder(out_dir)  # (a killed earlier job's staging folder is removed first)
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        if out_dir.exists():
            retired = temp_folder(out_dir)
            out_dir.rename(retired / out_dir.name)
            shutil.rmtree(retired)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
