"""The original InternVL release loads, without its remote code, as the native model.

A tiny original-layout folder is written from the tiny native model by the inverse of the
conversion, spelt out here independently of `fixate.models.internvl_original` (fused qkv, layer
scales, mlp1, the language model under `language_model.`, an `internvl_chat` config with
`llm_config` and an InternViT `vision_config`, the tokenizer without the -HF names). Both folders
must then give the same tokens, pixels and logits.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from model_fixtures import WIDE, filler_prompt, make_screen
from safetensors.torch import load_file, save_file
from transformers import InternVLConfig, InternVLForConditionalGeneration

from fixate.models import load_backbone
from fixate.models.internvl_original import native_config
from fixate.models.tiny import materialise

CPU = torch.device("cpu")  # a conversion test: fp32, where equal weights give equal logits

# InternViT-300M (InternVL3.5-4B): LayerNorm, qkv bias, no qk norm; InternViT-6B: RMSNorm, qk norm
VISION_VARIANTS = {
    "vit300m": dict(norm_type="layer_norm", attention_bias=True, use_qk_norm=False),
    "vit6b": dict(norm_type="rms_norm", attention_bias=False, use_qk_norm=True),
}

# native name (after model.vision_tower.encoder.layer.N.) -> original (after
# vision_model.encoder.layers.N.); q/k/v are fused separately
LAYER_NAMES = {
    "attention.projection_layer.weight": "attn.proj.weight",
    "attention.projection_layer.bias": "attn.proj.bias",
    "attention.q_norm.weight": "attn.q_norm.weight",
    "attention.k_norm.weight": "attn.k_norm.weight",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.weight": "mlp.fc2.weight",
    "mlp.fc2.bias": "mlp.fc2.bias",
    "layernorm_before.weight": "norm1.weight",
    "layernorm_before.bias": "norm1.bias",
    "layernorm_after.weight": "norm2.weight",
    "layernorm_after.bias": "norm2.bias",
    "lambda_1": "ls1",
    "lambda_2": "ls2",
}
OTHER_NAMES = {
    "model.vision_tower.embeddings.cls_token": "vision_model.embeddings.class_embedding",
    "model.vision_tower.embeddings.position_embeddings": (
        "vision_model.embeddings.position_embedding"
    ),
    "model.vision_tower.embeddings.patch_embeddings.projection.weight": (
        "vision_model.embeddings.patch_embedding.weight"
    ),
    "model.vision_tower.embeddings.patch_embeddings.projection.bias": (
        "vision_model.embeddings.patch_embedding.bias"
    ),
    "model.multi_modal_projector.layer_norm.weight": "mlp1.0.weight",
    "model.multi_modal_projector.layer_norm.bias": "mlp1.0.bias",
    "model.multi_modal_projector.linear_1.weight": "mlp1.1.weight",
    "model.multi_modal_projector.linear_1.bias": "mlp1.1.bias",
    "model.multi_modal_projector.linear_2.weight": "mlp1.3.weight",
    "model.multi_modal_projector.linear_2.bias": "mlp1.3.bias",
    "lm_head.weight": "language_model.lm_head.weight",
}


def to_original_weights(native: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """Native state dict -> original names, q/k/v fused back into one projection."""
    native = {key: value.clone() for key, value in native.items()}  # no shared (tied) storage
    original = {OTHER_NAMES[key]: native.pop(key) for key in OTHER_NAMES}
    for i in range(layers):
        ours, theirs = f"model.vision_tower.encoder.layer.{i}.", f"vision_model.encoder.layers.{i}."
        for kind in ("weight", "bias"):
            parts = [native.pop(f"{ours}attention.{p}_proj.{kind}", None) for p in "qkv"]
            if parts[0] is not None:
                original[f"{theirs}attn.qkv.{kind}"] = torch.cat(parts)
        for name, theirs_name in LAYER_NAMES.items():
            if ours + name in native:
                original[theirs + theirs_name] = native.pop(ours + name)
    prefix = "model.language_model."
    for key in [key for key in native if key.startswith(prefix)]:
        original["language_model.model." + key.removeprefix(prefix)] = native.pop(key)
    assert not native, f"the test's inverse mapping misses {sorted(native)}"
    return original


def to_original_config(native: dict) -> dict:
    """An `internvl_chat` config.json as the original release writes it (transformers 4.x keys)."""
    text, vision = dict(native["text_config"]), native["vision_config"]
    text["rope_theta"] = text.pop("rope_parameters")["rope_theta"]
    tile = vision["image_size"][0]
    return {
        "_name_or_path": "OpenGVLab/InternVL3_5-4B",
        "architectures": ["InternVLChatModel"],
        "auto_map": {
            "AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
            "AutoModel": "modeling_internvl_chat.InternVLChatModel",
        },
        "model_type": "internvl_chat",
        "torch_dtype": "bfloat16",
        "downsample_ratio": native["downsample_ratio"],
        "dynamic_image_size": True,
        "force_image_size": tile,
        "max_dynamic_patch": 12,
        "min_dynamic_patch": 1,
        "pad2square": False,
        "ps_version": "v2",
        "select_layer": native["vision_feature_layer"],
        "template": "internvl2_5",
        "use_backbone_lora": 0,
        "use_llm_lora": 0,
        "use_thumbnail": True,
        "llm_config": {
            **text,
            "_name_or_path": "Qwen/Qwen3-4B",
            "architectures": ["Qwen3ForCausalLM"],
            "attn_implementation": "flash_attention_2",
            "torch_dtype": "bfloat16",
            "use_bfloat16": True,
            # some of the generic keys a transformers 4.x config dump carries
            "rope_scaling": None,
            "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
            "max_length": 20,
            "return_dict": True,
            "transformers_version": "4.52.0",
        },
        "vision_config": {
            "architectures": ["InternVisionModel"],
            "model_type": "intern_vit_6b",
            "hidden_size": vision["hidden_size"],
            "num_hidden_layers": vision["num_hidden_layers"],
            "num_attention_heads": vision["num_attention_heads"],
            "intermediate_size": vision["intermediate_size"],
            "image_size": tile,
            "patch_size": vision["patch_size"][0],
            "num_channels": 3,
            "qkv_bias": vision["attention_bias"],
            "qk_normalization": vision["use_qk_norm"],
            "norm_type": vision["norm_type"],
            "layer_norm_eps": vision["layer_norm_eps"],
            "hidden_act": "gelu",
            "initializer_factor": 0.1,
            "drop_path_rate": 0.0,
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "use_flash_attn": True,
        },
    }


def native_folder(root: Path, variant: str) -> Path:
    """The tiny native model with the vision variant, every weight perturbed (non-uniform layer
    scales and norms, so a swapped or mis-split weight changes the logits)."""
    folder = materialise("tiny-internvl", root / "native")
    config = InternVLConfig.from_pretrained(folder)
    for key, value in VISION_VARIANTS[variant].items():
        setattr(config.vision_config, key, value)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = InternVLForConditionalGeneration(config)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
    model.save_pretrained(folder)
    return folder


def original_folder(native: Path, out: Path) -> Path:
    """The original-layout twin of a native folder: two weight shards, no -HF processor files."""
    out.mkdir()
    config = json.loads((native / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(to_original_config(config), indent=2))
    model = InternVLForConditionalGeneration.from_pretrained(native)
    layers = config["vision_config"]["num_hidden_layers"]
    weights = to_original_weights(model.state_dict(), layers)
    shards = {  # vision + projector, then the language model, as real shards are split
        "model-00001-of-00002.safetensors": {
            k: v for k, v in weights.items() if not k.startswith("language_model.")
        },
        "model-00002-of-00002.safetensors": {
            k: v for k, v in weights.items() if k.startswith("language_model.")
        },
    }
    for name, shard in shards.items():
        save_file(shard, out / name)
    weight_map = {key: name for name, shard in shards.items() for key in shard}
    (out / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    shutil.copy(native / "tokenizer.json", out)
    tokenizer_config = json.loads((native / "tokenizer_config.json").read_text())
    for key in ("start_image_token", "end_image_token", "context_image_token", "video_token"):
        del tokenizer_config[key]  # the -HF names; the original tokenizer only has the tokens
    del tokenizer_config["processor_class"]
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    # an image config of another processor (CLIP-style), which the native processor cannot use
    clip = {"feature_extractor_type": "CLIPFeatureExtractor", "size": 448, "crop_size": 448}
    (out / "preprocessor_config.json").write_text(json.dumps(clip))
    return out


def edit_shard(folder: Path, edit: Callable[[dict[str, torch.Tensor]], object]) -> None:
    """Apply `edit` to the first weight shard's dict and write it back (index kept in step)."""
    shard = folder / "model-00001-of-00002.safetensors"
    weights = load_file(shard)
    edit(weights)
    save_file(weights, shard)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if v != shard.name}
    index["weight_map"].update(dict.fromkeys(weights, shard.name))
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.fixture(scope="module", params=sorted(VISION_VARIANTS))
def folders(request: pytest.FixtureRequest, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp(request.param)
    native = native_folder(root, request.param)
    return native, original_folder(native, root / "original")


def test_original_release_gives_the_native_logits(folders):
    native_dir, original_dir = folders
    native = load_backbone(native_dir, "internvl", device=CPU)
    original = load_backbone(original_dir, "internvl", device=CPU, trust_remote_code=True)
    assert type(original.model) is InternVLForConditionalGeneration
    for key in ("image_token_id", "image_seq_length", "downsample_ratio", "vision_feature_layer"):
        assert getattr(original.model.config, key) == getattr(native.model.config, key)
    screens = [
        make_screen(2, size=WIDE, profile="Top_genre: Action"),
        make_screen(9, profile="Top_genre: Comedy, Preferred_genres: Drama|Horror"),
    ]
    ours, theirs = original.encode(screens, n_soft=3), native.encode(screens, n_soft=3)
    assert torch.equal(ours.input_ids, theirs.input_ids)
    assert torch.equal(ours.vision["pixel_values"], theirs.vision["pixel_values"])
    for a, b in zip(ours.token_cells, theirs.token_cells, strict=True):
        assert torch.equal(a, b)
    soft = filler_prompt(native, 3)
    with torch.no_grad():
        features = original.image_features(ours)
        torch.testing.assert_close(
            features.image, native.image_features(theirs).image, atol=1e-5, rtol=0
        )
        logits = original.forward(ours, original.embed(ours, soft), features).logits
        reference = native.run(theirs, soft).logits
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=0)


def test_a_missing_weight_is_named(folders, tmp_path):
    folder = shutil.copytree(folders[1], tmp_path / "original")
    edit_shard(folder, lambda weights: weights.pop("vision_model.encoder.layers.1.ls2"))
    with pytest.raises(
        ValueError,
        match=r"no original weight maps to.*model\.vision_tower\.encoder\.layer\.1\.lambda_2",
    ):
        load_backbone(folder, "internvl", device=CPU, trust_remote_code=True)


def test_an_unexpected_weight_is_named(folders, tmp_path):
    folder = shutil.copytree(folders[1], tmp_path / "original")
    extra = "vision_model.encoder.layers.0.attn.extra_scale"
    edit_shard(folder, lambda weights: weights.update({extra: torch.ones(3)}))
    with pytest.raises(ValueError, match=re.escape(extra)):
        load_backbone(folder, "internvl", device=CPU, trust_remote_code=True)
    # a name the rules map, but the native model does not have (a layer too many)
    folder = shutil.copytree(folders[1], tmp_path / "deeper")
    edit_shard(
        folder,
        lambda weights: weights.update({"vision_model.encoder.layers.7.ls1": torch.ones(3)}),
    )
    with pytest.raises(
        ValueError, match=r"names the native model lacks.*model\.vision_tower\.encoder\.layer\.7"
    ):
        load_backbone(folder, "internvl", device=CPU, trust_remote_code=True)


def test_original_release_needs_the_flag(folders):
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_backbone(folders[1], "internvl", device=CPU)


def test_a_saved_native_image_processor_is_used(folders, tmp_path):
    folder = shutil.copytree(folders[1], tmp_path / "original")
    saved = json.loads((folders[0] / "processor_config.json").read_text())["image_processor"]
    (folder / "preprocessor_config.json").write_text(json.dumps({**saved, "max_patches": 4}))
    backbone = load_backbone(folder, "internvl", device=CPU, trust_remote_code=True)
    assert backbone.processor.image_processor.max_patches == 4
    assert backbone.tiling(WIDE) == (2, 1, True)  # at most 4 tiles now


def test_originals_the_native_class_cannot_reproduce_are_refused(folders):
    config = to_original_config(json.loads((folders[0] / "config.json").read_text()))
    with pytest.raises(NotImplementedError, match="ps_version"):
        native_config({**config, "ps_version": "v1"}, image_token_id=5)
    internlm2 = {**config, "llm_config": {**config["llm_config"], "model_type": "internlm2"}}
    with pytest.raises(NotImplementedError, match="internlm2"):
        native_config(internlm2, image_token_id=5)
