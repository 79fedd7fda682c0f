"""Training a tiny backbone to see screens, and the measurements of what a backbone perceives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import SMALL, slot_boxes
from PIL import Image, ImageDraw

from fixate.models import load_backbone
from fixate.models.pretrain import (
    LETTERS,
    ScreenFacts,
    genre_probe_accuracy,
    question,
    question_accuracy,
    train_to_see,
)
from fixate.models.tiny import TINY_KINDS

pytest_plugins = ["model_fixtures"]
COLOURS = {"Horror": (170, 20, 20), "Comedy": (240, 200, 40), "Sci-Fi": (30, 160, 230)}


def screens(folder: Path, n: int, seed: int = 0) -> list[ScreenFacts]:
    """Three rows of five posters, each row one genre painted in its colour (random order)."""
    rng = np.random.default_rng(seed)
    boxes = slot_boxes(SMALL)
    facts = []
    for i in range(n):
        genres = tuple(rng.permutation(sorted(COLOURS)))
        image = Image.new("RGB", SMALL, (15, 15, 15))
        draw = ImageDraw.Draw(image)
        for k, box in enumerate(boxes):
            shade = rng.integers(-25, 26, 3)
            colour = tuple(int(c) for c in np.clip(np.add(COLOURS[genres[k // 5]], shade), 0, 255))
            draw.rectangle(tuple(box), fill=colour)
        path = folder / f"screen{i}.png"
        image.save(path)
        facts.append(ScreenFacts(path, boxes, genres))
    return facts


def test_a_question_names_the_slot_its_answer_is(tmp_path):
    facts = screens(tmp_path, 1)[0]
    rng = np.random.default_rng(3)
    for _ in range(50):
        text, answer = question(facts, rng)
        slot = LETTERS.index(answer)
        row, column = divmod(slot, 5)
        assert f"column {column + 1}?" in text
        assert facts.row_genres[row] in text or ("first", "second", "third")[row] in text


@pytest.fixture(scope="module")
def qwen(tiny_models):
    return load_backbone(tiny_models["tiny-qwen3vl"], TINY_KINDS["tiny-qwen3vl"], device="cpu")


def test_a_linear_probe_reads_the_genre_colours_from_random_visual_tokens(qwen, tmp_path):
    """Colour survives a random vision tower: the probe tells the genres apart on new screens,
    far above the 1/3 of guessing."""
    train, test = screens(tmp_path, 12, seed=1), screens(tmp_path / "..", 6, seed=2)
    assert genre_probe_accuracy(qwen, train, test) > 0.8


def test_training_to_see_moves_the_weights_and_is_measured(tiny_models, tmp_path):
    backbone = load_backbone(tiny_models["tiny-qwen3vl"], "qwen3vl", device="cpu")
    before = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    facts = screens(tmp_path, 10)
    curve = train_to_see(backbone, facts, steps=6, batch_size=4, log_every=2)
    assert [point["step"] for point in curve] == [2, 4, 6] and np.isfinite(curve[-1]["loss"])
    after = backbone.model.state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("visual" in k for k in moved) and any("language_model" in k for k in moved)
    assert not any(p.requires_grad for p in backbone.model.parameters())  # frozen again
    assert 0.0 <= question_accuracy(backbone, facts, "genre") <= 1.0
