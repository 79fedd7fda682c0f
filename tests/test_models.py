"""Backbones: offline round trip, visual-token geometry, soft-prompt inputs, hybrid attention."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch
from model_fixtures import (
    LETTERS,
    SMALL,
    WIDE,
    filler_prompt,
    interface,
    make_screen,
    slot_boxes,
    tolerance,
)
from transformers import InternVLForConditionalGeneration, Qwen3VLForConditionalGeneration

from fixate.models import DEFAULT_INSTRUCTION, ModelFolderError, Screen, load_backbone
from fixate.models.attention import eager_attention
from fixate.models.base import MAX_IMAGE_WIDTH
from fixate.models.tiny import TINY_KINDS, materialise
from fixate.probe.slots import pooling_matrix

pytest_plugins = ["model_fixtures"]

REAL_CLASSES = {
    "qwen3vl": Qwen3VLForConditionalGeneration,
    "internvl": InternVLForConditionalGeneration,
}


def plain_logits(backbone, batch):
    """The ordinary transformers call on the layout ids (filler tokens as text): (B, T, V)."""
    kwargs = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask, **batch.vision)
    if backbone.kind == "qwen3vl":
        kwargs["mm_token_type_ids"] = (batch.input_ids == backbone.image_token_id).int()
    with torch.no_grad():
        return backbone.model(**kwargs, use_cache=False).logits


def test_materialise_writes_a_real_checkpoint(tmp_path, device):
    for name, kind in TINY_KINDS.items():
        folder = materialise(name, tmp_path / name)
        assert materialise(name, tmp_path / name) == folder  # replaced in place
        files = {p.name for p in folder.iterdir()}
        assert {
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "chat_template.jinja",
        } <= files
        loaded = load_backbone(folder, kind, device=device)
        assert type(loaded.model) is REAL_CLASSES[kind]
        assert not any(p.requires_grad for p in loaded.model.parameters())
        assert loaded.dtype == (torch.bfloat16 if device.type == "cuda" else torch.float32)
        if kind == "qwen3vl":
            assert loaded.model.config.vision_config.deepstack_visual_indexes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(TINY_KINDS)  # no staging left
    twin = load_backbone(materialise("tiny-qwen3vl", tmp_path / "twin"), "qwen3vl", device=device)
    first = load_backbone(tmp_path / "tiny-qwen3vl", "qwen3vl", device=device)
    for p, q in zip(first.model.parameters(), twin.model.parameters(), strict=True):
        assert torch.equal(p, q)  # seeded


def test_load_backbone_refuses_what_it_cannot_load(tmp_path):
    with pytest.raises(ValueError, match="unknown backbone kind"):
        load_backbone(tmp_path, "llava")
    with pytest.raises(ModelFolderError, match="missing is not a local checkpoint folder"):
        load_backbone(tmp_path / "missing", "qwen3vl")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["InternVLChatModel"]}))
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_backbone(tmp_path, "internvl")
    with pytest.raises(ValueError, match="only applies to the original InternVL"):
        load_backbone(tmp_path, "qwen3vl", trust_remote_code=True)
    # with the flag, the original release is converted: tests/test_internvl_original.py


def test_painting_one_slot_white_recovers_it(backbone):
    """Raw visual-token activations, pooled by the token->slot overlap, find the painted slot.

    For InternVL the screen is tiled 4 x 2, so this proves tiles are placed at their true raster
    position (the reference's tile-major-as-raster mapping finds 4 of 15 here).
    """
    if backbone.kind == "internvl":
        assert backbone.tiling(WIDE) == (4, 2, True)
    dark = backbone.image_features(backbone.encode([make_screen(None, size=WIDE)])).image
    for slot in range(15):
        batch = backbone.encode([make_screen(slot, size=WIDE)])
        change = (backbone.image_features(batch).image - dark).float().norm(dim=-1)
        pooling = pooling_matrix(batch, 0)
        per_slot = change @ pooling / pooling.sum(0)  # mean change per unit of slot area
        assert int(per_slot.argmax()) == slot


def test_token_cells_tile_the_screen(backbone):
    batch = backbone.encode([make_screen(size=WIDE)])
    cells, weights = batch.token_cells[0], batch.token_weights[0]
    area = (cells[:, 2:] - cells[:, :2]).prod(-1)
    views = 2 if backbone.kind == "internvl" else 1  # the thumbnail covers the screen again
    assert float(area.sum()) == pytest.approx(views * WIDE[0] * WIDE[1], rel=1e-4)
    assert cells.min() >= 0 and float(cells[:, 2].max()) == pytest.approx(WIDE[0])
    assert torch.all(weights == 1)


def test_internvl_thumbnail_weight(backbone):
    if backbone.kind != "internvl":
        pytest.skip("InternVL only")
    backbone.thumbnail_weight = 0.0
    try:
        weights = backbone.encode([make_screen()]).token_weights[0]
    finally:
        backbone.thumbnail_weight = 1.0
    per_tile = backbone.processor.image_seq_length
    assert torch.all(weights[:-per_tile] == 1) and torch.all(weights[-per_tile:] == 0)


def test_fit_screens_widens_qwen3vl_and_caps_internvl_tiles(backbone):
    """AdSERP's screen fit (`fixate.data.adserp.instruction`): the full 1,280-pixel width gives
    Qwen3-VL more visual tokens than the default 1,100; a cap of 4 tiles gives InternVL fewer
    tokens and a coarser tiling, every token still placed. Each backbone ignores what does not
    apply to it (Qwen3-VL has no tiles; InternVL tiles by aspect ratio, which a width keeps)."""
    processor = backbone.processor.image_processor
    strip = make_screen(size=(1280, 96))  # under the tiny Qwen3-VL's pixel budget at both widths
    before = [backbone.encode([screen]) for screen in (make_screen(size=WIDE), strip)]
    saved = getattr(processor, "max_patches", None)
    backbone.fit_screens(1280, 4)
    try:
        after = [backbone.encode([screen]) for screen in (make_screen(size=WIDE), strip)]
        tiling = backbone.tiling(WIDE) if backbone.kind == "internvl" else None
    finally:
        backbone.fit_screens(MAX_IMAGE_WIDTH)
        if saved is not None:
            processor.max_patches = saved
    tokens = [[int(batch.image_mask.sum()) for batch in run] for run in (before, after)]
    if backbone.kind != "internvl":
        assert torch.equal(after[0].input_ids, before[0].input_ids)
        assert tokens[1][1] > tokens[0][1]  # the strip seen at 1,280 pixels, not 1,100
        assert float(after[1].token_cells[0][:, 2].max()) == pytest.approx(1280)
        return
    assert tiling == (2, 1, True)  # from 4 x 2
    per_tile = backbone.processor.image_seq_length
    assert tokens[1][0] == 3 * per_tile < tokens[0][0]
    assert float(after[0].token_cells[0][:, 2].max()) == pytest.approx(WIDE[0])


def test_internvl_tiles_whatever_the_image_processor_says(backbone):
    """The -HF checkpoints save `crop_to_patches: false`, but `InternVLProcessor` tiles anyway."""
    if backbone.kind != "internvl":
        pytest.skip("InternVL only")
    image_processor = backbone.processor.image_processor
    expected = backbone.encode([make_screen(size=WIDE)]).token_cells[0]
    image_processor.crop_to_patches = False
    try:
        cells = backbone.encode([make_screen(size=WIDE)]).token_cells[0]
    finally:
        image_processor.crop_to_patches = True
    assert backbone.tiling(WIDE)[0] * backbone.tiling(WIDE)[1] > 1
    torch.testing.assert_close(cells, expected)


def test_encode_layout(backbone):
    screens = [make_screen(profile="Top_genre: Drama"), make_screen(profile="Top_genre: Action, x")]
    batch = backbone.encode(screens, n_soft=3, instruction="Pick one of {candidates}.")
    text = backbone.chat_text(screens[0], 3, "Pick one of {candidates}.")
    assert "Pick one of A, B, C" in text and text.index("Top_genre") > text.index(
        backbone.filler_token
    )
    assert batch.soft_mask.sum(1).tolist() == [3, 3]
    lengths = batch.attention_mask.sum(1)  # left padding, to a multiple of 8 positions
    assert batch.input_ids.shape[1] % 8 == 0 and lengths[0] < lengths[1]
    for row, length in zip(batch.attention_mask, lengths.tolist(), strict=True):
        assert row[-length:].all() and not row[:-length].any()
    answer = backbone.answer_ids("B")
    assert batch.answer_ids.tolist() == [answer, answer]
    assert batch.input_ids[:, -1].tolist() == answer * 2
    assert batch.query_index == batch.input_ids.shape[1] - 2
    assert batch.padded and not backbone.encode(screens[:1]).padded
    for mask, index in ((batch.soft_mask, batch.soft_index), (batch.image_mask, batch.image_index)):
        assert index.tolist() == mask.flatten().nonzero()[:, 0].tolist()
    # the soft slots come before the image, the image before the profile
    first_soft = int(batch.soft_mask[1].nonzero()[0])
    assert first_soft < int(batch.image_mask[1].nonzero()[0])
    with pytest.raises(ValueError, match="every screen"):
        backbone.encode([make_screen(), make_screen(answer=None)])
    assert "{candidates}" in DEFAULT_INSTRUCTION


@pytest.mark.parametrize("n_screens", [1, 2])
def test_filler_soft_prompt_equals_plain_input_ids(backbone, device, n_screens):
    """Soft vectors set to the filler embedding reproduce the plain `input_ids` call exactly,
    alone and in a left-padded batch with different prompt lengths: positions (3-D M-RoPE for
    Qwen3-VL), image features and DeepStack are right."""
    n_soft = 4
    profiles = ["Top_genre: Action", "Top_genre: Comedy, Preferred_genres: Drama|Horror"]
    screens = [
        make_screen(lit, profile=p) for lit, p in zip((2, 9), profiles[:n_screens], strict=False)
    ]
    batch = backbone.encode(screens, n_soft=n_soft)
    with torch.no_grad():
        ours = backbone.run(batch, filler_prompt(backbone, n_soft)).logits[:, 0]
    for i, screen in enumerate(screens):
        alone = backbone.encode([screen], n_soft=n_soft)
        reference = plain_logits(backbone, alone)[0, -2]  # the position predicting the answer
        torch.testing.assert_close(ours[i].float(), reference.float(), **tolerance(device))
    if backbone.kind == "qwen3vl":  # 1-D positions (the reference's bug) are detectably wrong
        flat = batch.position_ids[0]
        with torch.no_grad():
            wrong = backbone.forward(
                dataclasses.replace(batch, position_ids=flat),
                backbone.embed(batch, filler_prompt(backbone, n_soft)),
                backbone.image_features(batch),
            ).logits[:, 0]
        # ~0.1 on the tiny model, against ~1e-6 (fp32) or ~1e-2 (bf16) between equal paths
        assert (wrong - ours).abs().max() > 0.05


def test_soft_prompt_is_inserted_and_cast(backbone):
    batch = backbone.encode([make_screen(), make_screen(lit=5)], n_soft=2)
    soft = torch.randn(2, 2, backbone.hidden_size, device=backbone.device)  # fp32, per sample
    embeds = backbone.embed(batch, soft)
    assert embeds.dtype == backbone.dtype
    torch.testing.assert_close(
        embeds[batch.soft_mask].float(), soft.reshape(4, -1).to(backbone.dtype).float()
    )
    with pytest.raises(ValueError, match="soft prompt"):
        backbone.embed(batch)
    with pytest.raises(ValueError, match="n_soft=0"):
        backbone.embed(backbone.encode([make_screen()]), soft[0])


def test_window_runs_eager_only_where_asked(backbone, device):
    batch = backbone.encode([make_screen(), make_screen(profile="longer profile text here")])
    features = backbone.image_features(batch)
    embeds = backbone.embed(batch)
    with torch.no_grad():
        fast = backbone.forward(batch, embeds, features)
        slow = backbone.forward(batch, embeds, features, window=backbone.num_layers)
        two = backbone.forward(batch, embeds, features, window=2, attention=eager_attention)
    assert fast.attentions == () and len(two.attentions) == 2
    assert len(slow.attentions) == backbone.num_layers
    torch.testing.assert_close(fast.logits.float(), slow.logits.float(), **tolerance(device))
    valid = batch.attention_mask.bool()
    row_sums = two.attentions[-1].float().sum(-1).transpose(1, 2)[valid]  # (valid rows, heads)
    torch.testing.assert_close(row_sums, torch.ones_like(row_sums), **tolerance(device))
    layers = backbone.language_model.layers
    assert not any(hasattr(layer.self_attn, "fixate_attention") for layer in layers)


def test_screen_from_sample_row(tmp_path):
    dataset = tmp_path / "recgaze"
    (dataset / "images").mkdir(parents=True)
    interface(4).save(dataset / "images" / "u1_T01_0.png")
    row = pd.Series(
        {
            "dataset_dir": str(dataset),
            "image_path": "images/u1_T01_0.png",
            "labelled_image_path": "images/u1_T01_0.png",
            "slot_boxes": [list(box) for box in slot_boxes()[:5]],
            "slot_names": list(LETTERS[:5]),
            "label": 4,
            "profile": "Top_genre: Action",
        }
    )
    screen = Screen.from_sample(row)
    assert screen.image.size == SMALL and screen.answer == "E" and screen.slot_boxes.shape == (5, 4)
    assert Screen.from_sample(row, teacher_forced=False).answer is None


def test_answer_gradient_on_a_padded_batch_is_finite(backbone):
    """Padding queries attend to nothing; the SDPA layers' backward must not make NaN of them
    (some CUDA kernels do), or the answer loss would poison the soft prompt."""
    screens = [make_screen(3, profile="Top_genre: Horror"), make_screen(11, n_slots=10)]
    batch = backbone.encode(screens, n_soft=2)
    assert not batch.attention_mask.bool().all()
    soft = torch.nn.Parameter(filler_prompt(backbone, 2) + 0.01)
    logits = backbone.forward(batch, backbone.embed(batch, soft), backbone.image_features(batch))
    answer = torch.nn.functional.cross_entropy(
        logits.logits.float().flatten(0, 1), batch.answer_ids.flatten(), ignore_index=-100
    )
    answer.backward()
    assert torch.isfinite(soft.grad).all() and soft.grad.abs().sum() > 0
