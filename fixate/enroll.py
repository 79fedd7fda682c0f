"""Enrolling new users into a trained simulator from a few recorded sessions.

The factorised prompt makes a user a weight vector over shared bases, so a new participant needs
no retraining of the bases: their mixing logits start at the population's mean weights and are
fitted, alone, on their first k sessions with the training loss of the run (click + attention
alignment + penalty), for a fixed number of optimiser steps. The bases, the trained users'
weights and the backbone are never handed to the optimiser, so they stay bit for bit as they were.
With k = 0 the user keeps the population's weights: the simulator of a user it knows nothing of.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
from accelerate import PartialState

from fixate.data.samples import user_profiles, with_signal
from fixate.data.tables import atomic_path
from fixate.evaluate import evaluate_model
from fixate.models import Backbone
from fixate.prompt import SoftPrompt
from fixate.simulate.simulator import TrainedRun, enrolled_profiles_path
from fixate.train import Trainer

log = logging.getLogger(__name__)

FIT_SPLITS = ("train", "val")  # a new user's sessions to learn from; "test" stays for scoring


@dataclass(frozen=True)
class EnrollConfig:
    """How a new user's weights are fitted (the loss and the probe are the run's own)."""

    steps: int = 200
    lr: float = 0.05
    batch_size: int = 4
    seed: int = 0


def first_sessions(samples: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each user's first ``k`` recorded sessions (screens in recording order, all their page
    visits) among the splits a new user is fitted on."""
    pool = samples[samples["split"].isin(FIT_SPLITS)]
    pool = pool.sort_values(["user_id", "screen_id", "visit_index"], kind="stable")
    keep = pool.groupby("user_id")["screen_id"].transform(
        lambda ids: ids.isin(list(dict.fromkeys(ids))[:k])
    )
    return pool[keep.astype(bool)]


def enroll(
    run: TrainedRun, backbone: Backbone, samples: pd.DataFrame, k: int, config: EnrollConfig
) -> SoftPrompt:
    """A prompt of the new users in ``samples`` (their weights fitted on their first ``k``
    sessions) with the run's bases."""
    users = sorted(samples["user_id"].unique())
    known = sorted(set(users) & set(run.users))
    if known:
        raise ValueError(f"users {known} were trained in {run.run_dir}; enroll only new users")
    prompt = run.prompt.with_new_users(users).to(backbone.device)
    fit = first_sessions(samples, k)
    if k == 0 or fit.empty:
        log.info("k = %d: the population's mean weights for %d users", k, len(users))
        return prompt
    rows = config.steps * config.batch_size
    fit = pd.concat([fit] * math.ceil(rows / len(fit)), ignore_index=True).iloc[:rows]
    train_config = replace(
        run.config,
        epochs=1,
        eval_every=1,
        batch_size=config.batch_size,
        grad_accum=1,
        user_lr=config.lr,
        holdout_users=0,
        free_generation=False,
    )
    log.info(
        "enrolling %d users on their first %d sessions (%d samples), %d steps",
        len(users),
        k,
        fit.drop_duplicates(["user_id", "screen_id", "visit_index"]).shape[0],
        config.steps,
    )
    with tempfile.TemporaryDirectory(prefix="fixate-enroll-") as scratch:
        trainer = Trainer(
            backbone,
            fit.assign(split="train"),
            train_config,
            config.seed,
            Path(scratch),
            PartialState(cpu=backbone.device.type == "cpu"),
            prompt=prompt,
        )
        trainer.fit()
    return prompt


def save_enrolled(
    prompt: SoftPrompt, samples: pd.DataFrame, k: int, config: EnrollConfig, path: str | Path
) -> None:
    """The enrolled users' prompt file and, beside it, their profiles and the sessions used."""
    prompt.save(path)
    used = first_sessions(samples, k)
    record = {
        "sessions": k,
        "config": asdict(config),
        "profiles": user_profiles(samples, prompt.user_ids),
        "fitted_on": {
            user: sorted(set(rows["screen_id"])) for user, rows in used.groupby("user_id")
        },
    }
    with atomic_path(enrolled_profiles_path(path)) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")


def score_enrolled(
    run: TrainedRun,
    backbone: Backbone,
    prompt: SoftPrompt,
    samples: pd.DataFrame,
    users: Sequence[str],
) -> pd.DataFrame:
    """Per-sample metrics of the enrolled users on their test screens (never fitted on)."""
    config = run.config
    test = with_signal(samples[samples["split"] == "test"], config.signal)
    test = test[test["user_id"].isin(users)]
    return evaluate_model(
        backbone, test, prompt, config.probe, signal=config.signal, name="fixate", progress=False
    )
