"""The four-way evaluation: backbone and FixATE, each teacher-forced and by free generation.

Every mode goes through the one prompt template (`Backbone.encode`) and the one probe
(`fixate.probe.probe`), so the modes differ only in what they are meant to differ in:

* the model: the bare backbone (no soft prompt at all) or the backbone with the user's soft prompt;
* the probed answer: the user's actual click (teacher-forced, ``tf``) or the model's own answer,
  generated greedily among the candidate names (free generation, ``fg``).

The answer probabilities over the candidates come from one pass without an answer (a name of
several tokens is scored by its full token sequence), so log-loss and AUC are the same in both
modes of a model; answer accuracy exists only in ``fg``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm import tqdm

from fixate.data.samples import SIGNAL_COLUMNS, truth_of
from fixate.metrics import sample_metrics
from fixate.models import (
    DEFAULT_INSTRUCTION,
    Backbone,
    ModelBatch,
    ScreenEncoding,
    VisualFeatures,
    load_backbone,
)
from fixate.models.base import MAX_IMAGE_WIDTH
from fixate.prefetch import prefetched
from fixate.probe import check_options, probe
from fixate.probe.operators import get_operator
from fixate.prompt import SoftPrompt
from fixate.sample_encoder import SampleEncoder

log = logging.getLogger(__name__)

EVALUATION_AHEAD = 3
"""Blocks encoded in background threads while the device scores one (`evaluate_model`); each
holds the pixels of the screens the feature cache cannot serve until scored."""


@dataclass(frozen=True)
class ProbeSettings:
    """Which operator reads the model, over which layers, with which parameters, and how the
    model sees a screen (what it is asked, how wide, in how many tiles)."""

    operator: str = "attnlrp"
    window: int | None = None  # None: the backbone's default (Qwen3-VL 6, InternVL 5)
    options: dict = field(default_factory=dict)
    instruction: str = DEFAULT_INSTRUCTION
    max_image_width: int = MAX_IMAGE_WIDTH  # wider screens are downscaled to this width first
    max_tiles: int | None = None  # the most tiles a tiling backbone cuts a screen into (InternVL)

    def __post_init__(self) -> None:
        check_options(self.operator, self.options)  # before any model loads


COMPILE_CHOICES = ("auto", "always", "never")
"""When a run compiles the decoder layers below its probed window (`compiles`)."""


def check_compile_layers(choice: str, operator: str) -> None:
    """Refuse a ``compile_layers`` choice that is not one of `COMPILE_CHOICES`, and "always" for
    an operator that differentiates twice through every layer (`Operator.compilable`)."""
    if choice not in COMPILE_CHOICES:
        raise ValueError(f"compile_layers={choice!r}; choose one of {COMPILE_CHOICES}")
    if choice == "always" and not get_operator(operator).compilable:
        raise ValueError(
            f"compile_layers='always' with operator {operator!r}, which differentiates twice "
            "through every layer (compiled layers have no double backward); use 'auto'"
        )


def compiles(choice: str, operator: str, device: torch.device) -> bool:
    """Whether a run compiles the layers below its window (`Backbone.compile_below_window`).

    "auto": on a GPU, where fusing them made the 4B training step 23-36 % faster
    (benchmarks/README.md), and not on a CPU, where compiling costs more than it saves at the
    tiny models' size; "always" and "never" decide alone. An operator that differentiates twice
    through every layer is never compiled (`check_compile_layers`).
    """
    check_compile_layers(choice, operator)
    allowed = get_operator(operator).compilable
    return allowed and (choice == "always" or (choice == "auto" and device.type == "cuda"))


def load_probed_backbone(
    model_dir: str | Path,
    kind: str,
    settings: ProbeSettings,
    compile_layers: str = "never",
    **load_options,
) -> Backbone:
    """`load_backbone`, the model then seeing screens as ``settings`` say (width, tiles) and its
    layers below the window compiled if ``compile_layers`` says so (`compiles`): the one place a
    run's backbone is set up, in training and in every later use of the run."""
    backbone = load_backbone(model_dir, kind, **load_options)
    backbone.fit_screens(settings.max_image_width, settings.max_tiles)
    if compiles(compile_layers, settings.operator, backbone.device):
        window = backbone.default_window if settings.window is None else settings.window
        # dynamic shapes from the first call: batches differ in length and size
        backbone.compile_below_window(window, dynamic=True)
        log.info("compiled the %d decoder layers below the window", backbone.num_layers - window)
    return backbone


def batches(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Consecutive row blocks of ``frame``."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def soft_inputs(prompt: SoftPrompt | None, users: Sequence[str]) -> Tensor | None:
    """The composed soft prompts of ``users`` (none for the bare backbone)."""
    return None if prompt is None else prompt(list(users))


def answer_scores(
    backbone: Backbone,
    names: Sequence[Sequence[str]],
    encodings: Sequence[ScreenEncoding],
    open_batch: ModelBatch,
    soft: Tensor | None,
    features: VisualFeatures,
) -> list[np.ndarray]:
    """Log-probability of every candidate name of every screen, as the model would answer.

    ``names`` are each screen's slot names, ``encodings`` the screens encoded without answers,
    ``open_batch`` their collated batch and ``features`` its visual features. Names of one token
    (RecGaze letters) are read from a single pass of that batch; names of several tokens (AdSERP
    box 12) are scored by passes with each such name appended, batched as wide as the screens and
    reusing the screens' encodings and features, so neither the image processor nor the vision
    tower runs again.
    """
    with torch.no_grad():
        last = backbone.forward(open_batch, backbone.embed(open_batch, soft), features, window=0)
        log_probs = torch.log_softmax(last.logits[:, -1].float(), dim=-1).cpu()
    ids = [[backbone.answer_ids(name) for name in slot_names] for slot_names in names]
    scores = [
        np.array([float(log_probs[i, t[0]]) if len(t) == 1 else np.nan for t in names])
        for i, names in enumerate(ids)
    ]
    longer = [(i, j) for i, names in enumerate(ids) for j, t in enumerate(names) if len(t) > 1]
    if longer:
        rows = features.per_screen([len(cells) for cells in open_batch.token_cells])
    for start in range(0, len(longer), len(names)):
        chunk = longer[start : start + len(names)]
        screen_rows = [i for i, _ in chunk]
        values = _sequence_log_probs(
            backbone,
            [encodings[i].answered(ids[i][j]) for i, j in chunk],
            None if soft is None else soft[screen_rows],
            VisualFeatures.from_screens([rows[i] for i in screen_rows]),
        )
        for (i, j), value in zip(chunk, values, strict=True):
            scores[i][j] = value
    return scores


def _sequence_log_probs(
    backbone: Backbone,
    encodings: Sequence[ScreenEncoding],
    soft: Tensor | None,
    features: VisualFeatures,
) -> list[float]:
    """Summed log-probability of each encoding's answer tokens, teacher-forced."""
    batch = backbone.collate(encodings)
    with torch.no_grad():
        out = backbone.forward(batch, backbone.embed(batch, soft), features, window=0)
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)
    ids = batch.answer_ids
    picked = log_probs.gather(-1, ids.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (ids != -100)).sum(dim=1).tolist()


def probe_slots(
    backbone: Backbone,
    batch: ModelBatch,
    soft: Tensor | None,
    settings: ProbeSettings,
    features: VisualFeatures,
) -> list[np.ndarray]:
    """Detached slot distribution of each screen of ``batch``."""
    result = probe(
        backbone,
        batch,
        soft,
        operator=settings.operator,
        window=settings.window,
        differentiable=False,
        features=features,
        **settings.options,
    )
    slots = result.slots.float().cpu().numpy()
    mask = result.slot_mask.cpu().numpy()
    return [s[m] for s, m in zip(slots, mask, strict=True)]


@dataclass(frozen=True)
class _EncodedBlock:
    """One block of sample rows, encoded without answers (CPU work done ahead)."""

    rows: list[dict]
    names: list[tuple[str, ...]]  # each screen's slot names
    keys: list[str | None]  # `screen_key` of each screen, when a feature cache serves them
    encodings: list[ScreenEncoding]
    open_batch: ModelBatch


def _encode_block(encoder: SampleEncoder, n_soft: int, block: pd.DataFrame) -> _EncodedBlock:
    rows = block.to_dict("records")
    # the image processor runs at most once per screen: the answered batches append answer tokens
    keys, encodings = encoder.encode_rows(rows, n_soft, teacher_forced=False)
    names = [tuple(str(name) for name in row["slot_names"]) for row in rows]
    return _EncodedBlock(rows, names, keys, encodings, encoder.backbone.collate(encodings))


def evaluate_model(
    backbone: Backbone,
    samples: pd.DataFrame,
    prompt: SoftPrompt | None,
    settings: ProbeSettings,
    signal: str = "fixation",
    batch_size: int = 4,
    name: str = "fixate",
    free_generation: bool = True,
    progress: bool = True,
    encoder: SampleEncoder | None = None,
) -> pd.DataFrame:
    """Per-sample metrics of one model (``name``: "backbone" or "fixate") in its tf/fg modes.

    A ``prompt_user`` column in ``samples`` gives each screen another user's soft prompt (the
    identity test); by default every screen gets its own user's. Blocks are read and encoded
    `EVALUATION_AHEAD` ahead in background threads while the device scores the current one.
    With an ``encoder`` that has a feature cache (the training run's), a screen's visual
    features and its encodings are made once for all the evaluations that share them."""
    dwell_column = SIGNAL_COLUMNS[signal]
    n_soft = 0 if prompt is None else prompt.n_tokens
    encoder = encoder or SampleEncoder(backbone, settings.instruction)
    if encoder.backbone is not backbone or encoder.instruction != settings.instruction:
        raise ValueError("the encoder must be for this backbone and the settings' instruction")
    feature_cache = encoder.feature_cache
    encode = partial(_encode_block, encoder, n_soft)
    blocks = list(batches(samples, batch_size))
    records = []
    for block in tqdm(
        prefetched(encode, blocks, EVALUATION_AHEAD),
        total=len(blocks),
        desc=f"evaluate {name}",
        disable=not progress,
        mininterval=5.0,
    ):
        rows, names, encodings = block.rows, block.names, block.encodings
        soft = soft_inputs(prompt, [row.get("prompt_user", row["user_id"]) for row in rows])
        with torch.no_grad():
            features = (
                backbone.image_features(block.open_batch)
                if feature_cache is None
                else feature_cache.features(block.open_batch, block.keys)
            )
        scores = answer_scores(backbone, names, encodings, block.open_batch, soft, features)
        clicked = [n[int(row["label"])] for n, row in zip(names, rows, strict=True)]
        generated = [n[int(np.argmax(v))] for n, v in zip(names, scores, strict=True)]
        answers = {"tf": clicked, "fg": generated} if free_generation else {"tf": clicked}
        for mode, names in answers.items():
            batch = backbone.collate(
                [e.answered(backbone.answer_ids(n)) for e, n in zip(encodings, names, strict=True)]
            )
            slots = probe_slots(backbone, batch, soft, settings, features)
            for row, p, score, answer in zip(rows, slots, scores, generated, strict=True):
                record = _record(f"{name}_{mode}", row, p, score, dwell_column)
                if mode == "fg":
                    record["answer"] = answer
                    record["answer_accuracy"] = float(answer == row["slot_names"][row["label"]])
                records.append(record)
    return pd.DataFrame(records)


def _record(mode: str, row: dict, slots: np.ndarray, score: np.ndarray, dwell: str) -> dict:
    """One sample's metrics in one mode (``dwell``: the column the model is compared with)."""
    option_probs = np.exp(score - score.max())
    return {
        "mode": mode,
        "user_id": row["user_id"],
        "screen_id": row["screen_id"],
        "n_candidates": int(row["n_candidates"]),
        "label": int(row["label"]),
        "slots": slots.astype(float).tolist(),
        "prompt_user": row.get("prompt_user", row["user_id"]),
        **sample_metrics(
            slots, row[dwell], int(row["label"]), option_probs, truth=truth_of(row.get("truth_ms"))
        ),
    }


def swapped_prompts(samples: pd.DataFrame, shifts: int = 3) -> pd.DataFrame:
    """Each screen again with the soft prompt of ``shifts`` other users (``prompt_user``).

    Donors are the next users in sorted order, cyclically, so every user lends and borrows equally
    often and the pairs do not depend on the seed."""
    users = sorted(samples["user_id"].unique())
    frames = []
    for shift in range(1, min(shifts, len(users) - 1) + 1):
        donor = dict(zip(users, users[shift:] + users[:shift], strict=True))
        frames.append(samples.assign(prompt_user=samples["user_id"].map(donor)))
    return pd.concat(frames, ignore_index=True) if frames else samples.iloc[:0]
