"""Teach a tiny backbone to see the synthetic screens, and measure what a backbone perceives.

Why: FixATE reads a frozen model's attention; it can only move that attention towards what a user
looks at if the model perceives what draws the user: which carousel shows which genre, and which
poster a letter names. A tiny randomly initialised model perceives neither (measured by
:func:`genre_probe_accuracy` and :func:`question_accuracy`), so a study on it tests the method and
a blind backbone at once. This module trains the real model class, all weights, on questions
about the synthetic RecGaze screens whose answer is one letter:

* "Which letter is the <genre> movie in column <c>?" (find the genre's carousel, then the poster);
* "Which letter is in row <r>, column <c>?" (where the letters sit on the screen).

Nothing of the users is used: no gaze, no clicks, no profiles; only what is on the screen. The
result is saved like any checkpoint (``save_pretrained``) and loads through ``load_backbone``.
Training runs a fixed number of steps (not a time budget), so the same settings give the same
model on any machine. Questions come from training-split screens only; the accuracies are
measured on the held-out split's screens.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from fixate.data.recgaze.pipeline import image_names
from fixate.data.tables import write_json
from fixate.models import load_backbone
from fixate.models.base import Backbone
from fixate.models.records import Screen
from fixate.probe.slots import pooling_matrix
from fixate.tempfiles import temp_folder

log = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJKLMNO"
COLUMNS = 5
ORDINALS = ("first", "second", "third")


@dataclass(frozen=True)
class ScreenFacts:
    """What is on one labelled screen: its image, slot boxes and the genre of each shown row."""

    image_path: Path
    slot_boxes: np.ndarray  # (S, 4) pixels
    row_genres: tuple[str, ...]  # genre of each fully visible row, top down

    @property
    def slot_genres(self) -> list[str]:
        return [genre for genre in self.row_genres for _ in range(COLUMNS)]


def screen_facts(
    screens: pd.DataFrame, items: pd.DataFrame, dataset_dir: Path
) -> list[ScreenFacts]:
    """Facts of every screen of the screens table (``fixate.data.recgaze.screens``), from
    ``item_features`` (the genre of each carousel of each task) and the rendered images."""
    genre = items.drop_duplicates(["TaskID", "Carousel_position"]).set_index(
        ["TaskID", "Carousel_position"]
    )["Carousel_genre"]
    facts = []
    for row in screens.itertuples(index=False):
        facts.append(
            ScreenFacts(
                image_path=dataset_dir / image_names(row.user_id, row.screen_id)[1],
                slot_boxes=np.asarray([list(b) for b in row.slot_boxes], dtype=np.float32),
                row_genres=tuple(genre[int(row.task_id), int(r)] for r in row.full_rows),
            )
        )
    return facts


QUESTION_KINDS = ("genre", "position")


def question(
    facts: ScreenFacts, rng: np.random.Generator, kind: str | None = None
) -> tuple[str, str]:
    """One question about the screen and its answer (a letter); ``kind`` one of
    ``QUESTION_KINDS``, or drawn at random. Only a genre question needs the image: the letter of
    a row and column follows from the text alone."""
    row = int(rng.integers(len(facts.row_genres)))
    column = int(rng.integers(COLUMNS))
    answer = LETTERS[row * COLUMNS + column]
    if (kind or QUESTION_KINDS[int(rng.integers(2))]) == "genre":
        return f"Which letter is the {facts.row_genres[row]} movie in column {column + 1}?", answer
    return f"Which letter is in the {ORDINALS[row]} row, column {column + 1}?", answer


def _screen(facts: ScreenFacts, answer: str | None) -> Screen:
    with Image.open(facts.image_path) as image:
        rgb = image.convert("RGB")
    names = tuple(LETTERS[: len(facts.slot_boxes)])
    return Screen(image=rgb, slot_boxes=facts.slot_boxes, slot_names=names, answer=answer)


def _batch_loss(
    backbone: Backbone,
    batch_facts: list[ScreenFacts],
    rng: np.random.Generator,
    grad: bool,
    kind: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the answers and whether the top letter was right, one question each."""
    encodings = []
    for facts in batch_facts:
        text, answer = question(facts, rng, kind)
        encodings.append(backbone.encode_screen(_screen(facts, answer), 0, text))
    batch = backbone.collate(encodings)
    with torch.set_grad_enabled(grad):
        features = backbone.image_features(batch, grad=grad)
        logits = backbone.forward(batch, backbone.embed(batch), features).logits
    target = batch.answer_ids[:, -1]
    scores = logits[:, -1].float()
    letters = torch.tensor([backbone.answer_ids(x)[0] for x in LETTERS], device=scores.device)
    right = scores[:, letters].argmax(-1) == (target[:, None] == letters).float().argmax(-1)
    return F.cross_entropy(scores, target), right


def question_accuracy(
    backbone: Backbone,
    facts: list[ScreenFacts],
    kind: str,
    seed: int = 0,
    batch_size: int = 8,
) -> float:
    """Share of questions of one ``kind`` about ``facts`` whose answer is the model's most
    likely letter (one question per screen)."""
    rng = np.random.default_rng(seed)
    right = []
    for start in range(0, len(facts), batch_size):
        chunk = facts[start : start + batch_size]
        right.append(_batch_loss(backbone, chunk, rng, False, kind)[1])
    return float(torch.cat(right).float().mean()) if right else float("nan")


def train_to_see(
    backbone: Backbone,
    train: list[ScreenFacts],
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 8,
    seed: int = 0,
    log_every: int = 25,
) -> list[dict]:
    """Train every weight of ``backbone`` on ``steps`` batches of screen questions; return the
    loss curve (one entry per ``log_every`` steps)."""
    model = backbone.model
    model.requires_grad_(True)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    curve, losses, hits = [], [], []
    start = time.monotonic()
    for step in range(1, steps + 1):
        chosen = [train[i] for i in rng.choice(len(train), batch_size, replace=False)]
        loss, right = _batch_loss(backbone, chosen, rng, True)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        losses.append(float(loss.detach()))
        hits.append(float(right.float().mean()))
        if step % log_every == 0:
            curve.append(
                {
                    "step": step,
                    "seconds": round(time.monotonic() - start, 1),
                    "loss": float(np.mean(losses)),
                    "train_accuracy": float(np.mean(hits)),
                }
            )
            log.info("step %d: %s", step, curve[-1])
            losses, hits = [], []
    model.eval()
    model.requires_grad_(False)
    return curve


def slot_features(backbone: Backbone, facts: list[ScreenFacts]) -> tuple[np.ndarray, list[str]]:
    """Mean visual feature of each slot (tokens weighted by their overlap with the slot box)
    and the slot's genre: what a linear probe of perception reads."""
    rows, labels = [], []
    for item in facts:
        batch = backbone.encode([_screen(item, None)])
        with torch.no_grad():
            image = backbone.image_features(batch).image.float()
        pool = pooling_matrix(batch, 0).float()
        pooled = (pool.T @ image) / pool.sum(0).clamp(min=1e-6)[:, None]
        rows.append(pooled.cpu().numpy())
        labels += item.slot_genres
    return np.concatenate(rows), labels


def genre_probe_accuracy(
    backbone: Backbone, train: list[ScreenFacts], test: list[ScreenFacts], steps: int = 300
) -> float:
    """Held-out accuracy of a linear (softmax) probe of each slot's genre from its pooled visual
    features, fitted on ``train`` screens: can the vision tower tell the genres apart at all?"""
    x_train, y_train = slot_features(backbone, train)
    x_test, y_test = slot_features(backbone, test)
    genres = sorted(set(y_train) | set(y_test))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    xt = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    yt = torch.tensor([genres.index(g) for g in y_train])
    probe = torch.nn.Linear(xt.shape[1], len(genres))
    optimiser = torch.optim.Adam(probe.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        F.cross_entropy(probe(xt), yt).backward()
        optimiser.step()
    xs = torch.tensor((x_test - mean) / std, dtype=torch.float32)
    predicted = probe(xs).argmax(-1).numpy()
    return float(np.mean([genres[p] == y for p, y in zip(predicted, y_test, strict=True)]))


def _split(screens: pd.DataFrame, facts: list[ScreenFacts]) -> tuple[list, list]:
    train = screens["split"].to_numpy() == "train"
    return (
        [f for f, t in zip(facts, train, strict=True) if t],
        [f for f, t in zip(facts, train, strict=True) if not t],
    )


def perception(backbone: Backbone, train: list[ScreenFacts], held: list[ScreenFacts]) -> dict:
    """What the backbone perceives of held-out screens: the share of screen questions it answers
    and the accuracy of a linear probe of each slot's genre from its visual tokens."""
    return {
        **{
            f"{kind}_question_accuracy": question_accuracy(backbone, held, kind)
            for kind in QUESTION_KINDS
        },
        "chance": 1 / len(LETTERS),
        "genre_probe_accuracy": genre_probe_accuracy(backbone, train[:120], held[:60]),
    }


def run_seeing(
    base_dir: str | Path,
    kind: str,
    screens_path: str | Path,
    items_path: str | Path,
    dataset_dir: str | Path,
    out_dir: str | Path,
    report_out: str | Path,
    settings: dict,
) -> dict:
    """Train the ``base_dir`` model to see the RecGaze screens; save it to ``out_dir`` (written
    beside and renamed into place) and its perception before and after to ``report_out``."""
    torch.manual_seed(settings.get("seed", 0))
    screens = pd.read_parquet(screens_path)
    items = pd.read_csv(items_path, usecols=["TaskID", "Carousel_position", "Carousel_genre"])
    train, held = _split(screens, screen_facts(screens, items, Path(dataset_dir)))
    backbone = load_backbone(base_dir, kind, device="cpu")
    before = perception(backbone, train, held)
    log.info("before: %s", before)
    curve = train_to_see(
        backbone,
        train,
        settings["steps"],
        lr=settings["lr"],
        batch_size=settings["batch_size"],
        seed=settings.get("seed", 0),
    )
    after = perception(backbone, train, held)
    log.info("after: %s", after)
    out = Path(out_dir)
    tmp = temp_folder(out)  # (a killed earlier job's partial save is removed first)
    backbone.model.save_pretrained(tmp)
    backbone.processor.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    report = {"base": str(base_dir), "settings": settings, "before": before, "after": after}
    write_json({**report, "curve": curve, "n_train_screens": len(train)}, report_out)
    return report
