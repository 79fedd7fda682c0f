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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm import tqdm

from fixate.data.samples import SIGNAL_COLUMNS, truth_of
from fixate.metrics import sample_metrics
from fixate.models import DEFAULT_INSTRUCTION, Backbone, ModelBatch, Screen, VisualFeatures
from fixate.probe import check_options, probe
from fixate.prompt import SoftPrompt


@dataclass(frozen=True)
class ProbeSettings:
    """Which operator reads the model, over which layers, with which parameters."""

    operator: str = "attnlrp"
    window: int | None = None  # None: the backbone's default (Qwen3-VL 6, InternVL 5)
    options: dict = field(default_factory=dict)
    instruction: str = DEFAULT_INSTRUCTION

    def __post_init__(self) -> None:
        check_options(self.operator, self.options)  # before any model loads


def batches(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Consecutive row blocks of ``frame``."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def soft_inputs(prompt: SoftPrompt | None, users: Sequence[str]) -> tuple[Tensor | None, int]:
    """The composed soft prompts of ``users`` and their length (none for the bare backbone)."""
    if prompt is None:
        return None, 0
    return prompt(list(users)), prompt.n_tokens


def answer_scores(
    backbone: Backbone,
    screens: Sequence[Screen],
    soft: Tensor | None,
    n_soft: int,
    features: VisualFeatures,
    instruction: str,
    open_batch: ModelBatch | None = None,
) -> list[np.ndarray]:
    """Log-probability of every candidate name of every screen, as the model would answer.

    Names of one token (RecGaze letters) are read from a single pass without an answer
    (``open_batch``: the screens encoded without answers, when the caller has it); a name of
    several tokens (AdSERP box 12) is scored by a teacher-forced pass with that name.
    """
    if open_batch is None:
        open_screens = [replace(s, answer=None) for s in screens]
        open_batch = backbone.encode(open_screens, n_soft, instruction)
    with torch.no_grad():
        last = backbone.forward(open_batch, backbone.embed(open_batch, soft), features, window=0)
        log_probs = torch.log_softmax(last.logits[:, -1].float(), dim=-1).cpu()
    scores = []
    for i, screen in enumerate(screens):
        ids = [backbone.answer_ids(name) for name in screen.slot_names]
        values = np.array([float(log_probs[i, t[0]]) if len(t) == 1 else np.nan for t in ids])
        for j in np.flatnonzero(np.isnan(values)):
            values[j] = _sequence_log_prob(
                backbone, screen, screen.slot_names[j], soft, i, n_soft, instruction
            )
        scores.append(values)
    return scores


def _sequence_log_prob(
    backbone: Backbone,
    screen: Screen,
    name: str,
    soft: Tensor | None,
    row: int,
    n_soft: int,
    instruction: str,
) -> float:
    batch = backbone.encode([replace(screen, answer=name)], n_soft, instruction)
    own_soft = None if soft is None else soft[row : row + 1]
    with torch.no_grad():
        out = backbone.run(batch, own_soft)
        log_probs = torch.log_softmax(out.logits[0].float(), dim=-1)
        ids = batch.answer_ids[0]
        return float(log_probs[torch.arange(len(ids)), ids].sum())


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
) -> pd.DataFrame:
    """Per-sample metrics of one model (``name``: "backbone" or "fixate") in its tf/fg modes.

    A ``prompt_user`` column in ``samples`` gives each screen another user's soft prompt (the
    identity test); by default every screen gets its own user's."""
    dwell_column = SIGNAL_COLUMNS[signal]
    records = []
    blocks = list(batches(samples, batch_size))
    for block in tqdm(blocks, desc=f"evaluate {name}", disable=not progress, mininterval=5.0):
        rows = block.to_dict("records")
        screens = [Screen.from_sample(row, teacher_forced=False) for row in rows]
        soft, n_soft = soft_inputs(prompt, [row.get("prompt_user", row["user_id"]) for row in rows])
        # the image processor runs once per screen: the answered batches append answer tokens
        encodings = [backbone.encode_screen(s, n_soft, settings.instruction) for s in screens]
        with torch.no_grad():
            open_batch = backbone.collate(encodings)
            features = backbone.image_features(open_batch)
        scores = answer_scores(
            backbone, screens, soft, n_soft, features, settings.instruction, open_batch
        )
        clicked = [s.slot_names[int(row["label"])] for s, row in zip(screens, rows, strict=True)]
        generated = [s.slot_names[int(np.argmax(v))] for s, v in zip(screens, scores, strict=True)]
        answers = {"tf": clicked, "fg": generated} if free_generation else {"tf": clicked}
        for mode, names in answers.items():
            batch = backbone.collate(
                [e.answered(backbone.answer_ids(n)) for e, n in zip(encodings, names, strict=True)]
            )
            slots = probe_slots(backbone, batch, soft, settings, features)
            for row, p, score, answer in zip(rows, slots, scores, generated, strict=True):
                option_probs = np.exp(score - score.max())
                record = {
                    "mode": f"{name}_{mode}",
                    "user_id": row["user_id"],
                    "screen_id": row["screen_id"],
                    "n_candidates": int(row["n_candidates"]),
                    "label": int(row["label"]),
                    "slots": p.astype(float).tolist(),
                    "prompt_user": row.get("prompt_user", row["user_id"]),
                    **sample_metrics(
                        p,
                        row[dwell_column],
                        int(row["label"]),
                        option_probs,
                        truth=truth_of(row.get("truth_ms")),
                    ),
                }
                if mode == "fg":
                    record["answer"] = answer
                    record["answer_accuracy"] = float(answer == row["slot_names"][row["label"]])
                records.append(record)
    return pd.DataFrame(records)


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
