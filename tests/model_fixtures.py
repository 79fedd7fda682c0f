"""Shared fixtures and helpers for the model-core tests (tiny models, synthetic screens).

A test module uses them with `pytest_plugins = ["model_fixtures"]` (tests/conftest.py belongs to
the rest of the suite); each tiny model is materialised once per session and loaded once per
module. The tests run on CUDA in bf16 when a GPU is present (with looser tolerances), on the CPU
in fp32 otherwise. PYTEST_DONT_REWRITE: this module holds no assertions, and test modules import
its helpers before pytest loads it as a plugin.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fixate.data.samples import write_samples
from fixate.models import Backbone, ModelBatch, Screen, VisualFeatures, load_backbone
from fixate.models.tiny import TINY_KINDS, materialise
from fixate.probe import ProbeResult, probe

LETTERS = tuple("ABCDEFGHIJKLMNO")
SMALL = (550, 300)  # Qwen: a 9x17 token grid; InternVL: 2 x 1 tiles + thumbnail
WIDE = (1100, 600)  # InternVL: 4 x 2 tiles + thumbnail (the tiny model's tiles are 224 px)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both tiny models, materialised once per test session."""
    root = tmp_path_factory.mktemp("models")
    return {name: materialise(name, root / name) for name in TINY_KINDS}


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture(scope="module", params=sorted(TINY_KINDS))
def backbone(
    request: pytest.FixtureRequest, tiny_models: dict[str, Path], device: torch.device
) -> Backbone:
    name = request.param
    return load_backbone(tiny_models[name], TINY_KINDS[name], device=device)


def tolerance(device: torch.device) -> dict[str, float]:
    """allclose tolerances: fp32 on the CPU, bf16 on CUDA."""
    if device.type == "cuda":
        return {"atol": 5e-2, "rtol": 5e-2}
    return {"atol": 1e-4, "rtol": 1e-4}


def slot_boxes(size: tuple[int, int] = SMALL, rows: int = 3, cols: int = 5) -> np.ndarray:
    """A rows x cols grid of poster boxes with gutters, row-major, in pixels."""
    width, height = size
    cell_w, cell_h = width / cols, height / rows
    boxes = [
        (
            c * cell_w + 0.06 * cell_w,
            r * cell_h + 0.1 * cell_h,
            (c + 0.94) * cell_w,
            (r + 0.9) * cell_h,
        )
        for r in range(rows)
        for c in range(cols)
    ]
    return np.asarray(boxes, dtype=np.float32)


def interface(lit: int | None = None, size: tuple[int, int] = SMALL) -> Image.Image:
    """A black 3 x 5 interface; slot `lit` painted white."""
    image = Image.new("RGB", size, (0, 0, 0))
    if lit is not None:
        ImageDraw.Draw(image).rectangle(tuple(slot_boxes(size)[lit]), fill=(255, 255, 255))
    return image


def make_screen(
    lit: int | None = 3,
    *,
    size: tuple[int, int] = SMALL,
    profile: str = "Top_genre: Action, Preferred_genres: Comedy",
    answer: str | None = "B",
    n_slots: int = 15,
) -> Screen:
    return Screen(
        image=interface(lit, size),
        slot_boxes=slot_boxes(size)[:n_slots],
        slot_names=LETTERS[:n_slots],
        profile=profile,
        answer=answer,
    )


def filler_prompt(backbone: Backbone, n_soft: int) -> torch.Tensor:
    """(N, D) soft prompt equal to the filler token's embedding, fp32."""
    ids = torch.full((n_soft,), backbone.filler_id, device=backbone.device)
    return backbone.model.get_input_embeddings()(ids).float()


def rules_training_probe(
    backbone: Backbone, batch: ModelBatch, features: VisualFeatures
) -> tuple[torch.nn.Parameter, ProbeResult]:
    """A trainable soft prompt near the filler embedding and the rule-based AttnLRP's
    differentiable probe of `batch` with it."""
    soft = torch.nn.Parameter(filler_prompt(backbone, batch.n_soft) + 0.01)
    result = probe(
        backbone, batch, soft, operator="attnlrp-rules", differentiable=True, features=features
    )
    return soft, result


def make_samples(folder: Path, users=("u1", "u2"), per_split=(4, 2, 2)) -> list[Path]:
    """Small screens (10 slots) whose gaze favours one slot per user, written as shards."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    boxes = slot_boxes(SMALL, rows=2, cols=5)
    rng = np.random.default_rng(0)
    shards = []
    for u, user in enumerate(users):
        rows = []
        k = 0
        for split, count in zip(("train", "val", "test"), per_split, strict=True):
            for _ in range(count):
                name = f"images/{user}_{k}.png"
                interface(lit=int(rng.integers(10)), size=SMALL).save(folder / name)
                gaze = rng.uniform(0, 50, 10)
                gaze[u * 3] += 400
                rows.append(
                    {
                        "dataset": "toy",
                        "user_id": user,
                        "screen_id": f"S{k}",
                        "content_id": f"c{k}",
                        "visit_index": 0,
                        "image_path": name,
                        "labelled_image_path": name,
                        "image_width": SMALL[0],
                        "image_height": SMALL[1],
                        "slot_boxes": boxes.tolist(),
                        "slot_names": list(LETTERS[:10]),
                        "n_candidates": 10,
                        "label": u * 3,
                        "gaze_ms": gaze.tolist(),
                        "cursor_ms": [0.0] * 10,
                        "split": split,
                        "profile": f"Top_genre: {'Drama' if u else 'Comedy'}",
                    }
                )
                k += 1
        path = folder / "samples" / f"{user}.parquet"
        write_samples(pd.DataFrame(rows), path)
        shards.append(path)
    return shards
