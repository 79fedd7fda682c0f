"""A trained simulator answering "where would this user look on this page, and what would they
click?" for pages nobody has recorded.

A trained run folder holds everything a simulator is: the backbone it was trained against and the
probe settings (``metrics.json``), the bases and per-user weights (``prompt.safetensors``) and each
user's profile text (``profiles.json``); enrolled users (`fixate.enroll`) join from their own
prompt files. For every (user, screen) the simulator answers as the four-way test's free
generation does: the click distribution over the candidates from one pass, the most likely click,
and the slot attention of the model answering that click, read by the run's operator. The
``population`` row of each screen uses the trained users' mean weights and no profile: the
typical user, to compare each user with.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from fixate.evaluate import ProbeSettings, answer_scores, load_probed_backbone, probe_slots
from fixate.models import Backbone, Screen
from fixate.models.cache import FeatureCache, screen_key
from fixate.prompt import SoftPrompt
from fixate.simulate.screens import NewScreen, check_users
from fixate.train import TrainConfig

log = logging.getLogger(__name__)

POPULATION = "population"

ENCODERS = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
"""Threads that run the image processor for the users of a batch at once: each (user, screen)
pair is encoded on the CPU (its profile changes the tokens), and one thread of that work per pair
would leave the GPU waiting (PIL, numpy and the tokenisers release the GIL)."""


@dataclass
class TrainedRun:
    """What a run folder (plus any enrolled users) gives a simulator."""

    run_dir: Path
    metrics: dict
    prompt: SoftPrompt
    profiles: dict[str, str]

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.metrics["config"])

    @property
    def users(self) -> list[str]:
        return list(self.prompt.user_ids)

    @classmethod
    def load(cls, run_dir: str | Path, enrolled: Sequence[str | Path] = ()) -> TrainedRun:
        """The run in ``run_dir``, with the users of each ``enrolled`` prompt file added."""
        run_dir = Path(run_dir)
        needed = [
            run_dir / name for name in ("metrics.json", "prompt.safetensors", "profiles.json")
        ]
        missing = [str(path) for path in needed if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"{run_dir} is not a finished training run: no {missing}")
        prompt = SoftPrompt.load(needed[1])
        profiles = read_json(needed[2])
        for path in map(Path, enrolled):
            prompt = prompt.merged(SoftPrompt.load(path))
            profiles.update(read_enrolled_profiles(path))
        return cls(run_dir, read_json(needed[0]), prompt, profiles)

    def backbone(self, model_dir: str | Path | None = None, device: str | None = None) -> Backbone:
        """The frozen backbone the run was trained against (``model_dir`` if it has moved),
        seeing screens as it did in training (`ProbeSettings`: width and tiles) and compiled as
        it was (`TrainConfig.compile_layers`)."""
        return load_probed_backbone(
            model_dir or self.metrics["model_dir"],
            self.metrics["backbone"],
            self.config.probe,
            self.config.compile_layers,
            device=device,
        )


def read_json(path: Path) -> dict:
    """A run folder's JSON file; a damaged one is a ValueError naming it (the JSON error alone
    names a line and column but not the file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from err


def enrolled_profiles_path(prompt_path: str | Path) -> Path:
    """The profiles file written beside an enrolled users' prompt file."""
    return Path(prompt_path).with_suffix(".json")


def read_enrolled_profiles(prompt_path: str | Path) -> dict[str, str]:
    path = enrolled_profiles_path(prompt_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the profiles of the users in {prompt_path} are missing")
    return read_json(path)["profiles"]


def simulate(
    run: TrainedRun,
    backbone: Backbone,
    screens: Sequence[NewScreen],
    users: Sequence[str],
    operator: str | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (user, screen), plus the ``population`` row of each screen: the slot attention,
    the click distribution and the most likely click.

    The pairs run screen by screen, each batch holding several users of one screen, so the vision
    tower sees every screen once (`FeatureCache`).
    """
    check_users(users, run.users, f"simulate {run.run_dir}")
    settings = run.config.probe
    if operator:
        settings = replace(settings, operator=operator)
    cache = FeatureCache(backbone)
    everyone = [*users, POPULATION]
    blocks = [
        (screen, everyone[start : start + batch_size])
        for screen in screens
        for start in range(0, len(everyone), batch_size)
    ]
    records = []
    for screen, block in tqdm(blocks, desc="simulate", disable=not progress, mininterval=5.0):
        records.extend(_simulate_block(run, backbone, cache, screen, block, settings))
    log.info(
        "%d screens x %d users (+ population); the vision tower ran on %d screens",
        len(screens),
        len(users),
        cache.misses,
    )
    return pd.DataFrame(records)


def _soft_prompts(prompt: SoftPrompt, users: Sequence[str]) -> torch.Tensor:
    """The users' composed prompts, the population's mean weights for ``POPULATION``."""
    mixture = prompt.mixture(users).detach().clone()
    population = torch.tensor([user == POPULATION for user in users], device=mixture.device)
    mixture[population] = prompt.population_mixture().to(mixture.dtype)
    with torch.no_grad():
        return prompt.compose(mixture)


def _simulate_block(
    run: TrainedRun,
    backbone: Backbone,
    cache: FeatureCache,
    screen: NewScreen,
    users: Sequence[str],
    settings: ProbeSettings,
) -> Iterator[dict]:
    """The records of ``users`` (some of them, one batch) on one screen."""
    instruction = screen.instruction or settings.instruction
    open_screens = [
        Screen(
            image=screen.image,
            slot_boxes=screen.slot_boxes,
            slot_names=screen.slot_names,
            profile=run.profiles.get(user, ""),
        )
        for user in users
    ]
    soft, n_soft = _soft_prompts(run.prompt, users), run.prompt.n_tokens
    key = screen_key(open_screens[0])
    encodings = list(
        ENCODERS.map(lambda s: backbone.encode_screen(s, n_soft, instruction), open_screens)
    )
    with torch.no_grad():
        open_batch = backbone.collate(encodings)
        features = cache.features(open_batch, [key] * len(users))
    scores = answer_scores(
        backbone, [s.slot_names for s in open_screens], encodings, open_batch, soft, features
    )
    clicks = [screen.slot_names[int(np.argmax(score))] for score in scores]
    answered_batch = backbone.collate(
        [e.answered(backbone.answer_ids(c)) for e, c in zip(encodings, clicks, strict=True)]
    )
    slots = probe_slots(backbone, answered_batch, soft, settings, features)
    for user, attention, score, click in zip(users, slots, scores, clicks, strict=True):
        probs = np.exp(score - score.max())
        probs /= probs.sum()
        yield {
            "user_id": user,
            "screen_id": screen.screen_id,
            "slot_names": list(screen.slot_names),
            "attention": attention.astype(float).tolist(),
            "click_probs": probs.tolist(),
            "click": click,
            "click_prob": float(probs.max()),
            "operator": settings.operator,
        }
