"""Training checkpoints that loading cannot turn into code.

A checkpoint is one safetensors file: the tensors (prompt, best prompt, optimiser moments and
step counts) as tensors, everything else (epoch, step, best score, train log, optimiser
hyper-parameters, the configuration digest) as JSON in the file's metadata. Reading it parses a
JSON header and copies raw tensor bytes; nothing in the file is ever executed, unlike a torch
pickle, whose loading can call any function the file names. One file also means one atomic
rename: the tensors and the numbers that go with them are always from the same save.

Run folders written by earlier versions hold `checkpoint-*.pt` pickles. They are refused, never
read: `restore_checkpoint` names the file and says to delete it (the run then starts afresh).

`RunProgress` is what a training run keeps in its checkpoint (epoch, step, best epoch and prompt,
early-stopping count, per-step log), and when it saves and resumes it.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from torch.optim import Optimizer

from fixate.data.tables import atomic_path

log = logging.getLogger(__name__)

FORMAT = "fixate-checkpoint/1"
_META_KEY = "fixate"  # the metadata entry holding the JSON part
_SEP = "/"  # tensor names: "<part>/<key>", optimiser state "optimizer/<param>/<key>"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from: an old pickle, a damaged or foreign file."""


def checkpoint_path(run_dir: str | Path, digest: str) -> Path:
    """The checkpoint of the configuration with this digest in a run folder."""
    return Path(run_dir) / f"checkpoint-{digest}.safetensors"


def _refuse_pickled(run_dir: str | Path) -> None:
    """Raise CheckpointError if the run folder holds a pickled checkpoint of an earlier version.

    Such a file is refused rather than skipped so that nobody mistakes a restart for a resume;
    it is never opened.
    """
    for old in sorted(Path(run_dir).glob("checkpoint-*.pt")):
        raise CheckpointError(
            f"{old}: checkpoint in the old pickle format, which is no longer loaded because "
            "unpickling a file can run any code placed in it; delete it to train this run "
            "from the start"
        )


def save_checkpoint(
    path: str | Path,
    digest: str,
    state: dict[str, Any],
    prompt: nn.Module,
    optimizer: Optimizer,
) -> None:
    """Write a run's ``state`` (JSON-able values, and dicts of tensors such as a best prompt),
    its prompt's and its optimiser's state to one safetensors file, atomically."""
    groups = {"prompt": prompt.state_dict()}
    groups.update((k, v) for k, v in state.items() if _is_tensor_group(v))
    flat = {f"{part}{_SEP}{k}": v for part, group in groups.items() for k, v in group.items()}
    saved = optimizer.state_dict()
    per_param: dict[str, dict[str, Any]] = {}
    for index, entries in saved["state"].items():
        per_param[str(index)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                flat[f"optimizer{_SEP}{index}{_SEP}{key}"] = value
            else:
                per_param[str(index)][key] = value
    meta = {
        "format": FORMAT,
        "digest": digest,
        "state": {k: v for k, v in state.items() if k not in groups},
        "parts": sorted(groups),
        "optimizer": {"param_groups": saved["param_groups"], "state": per_param},
    }
    text = json.dumps(meta, default=_plain)
    with atomic_path(path) as tmp:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in flat.items()},
            str(tmp),
            metadata={_META_KEY: text},
        )


def restore_checkpoint(
    path: str | Path, digest: str, prompt: nn.Module, optimizer: Optimizer
) -> dict[str, Any] | None:
    """Load a checkpoint written by `save_checkpoint` into ``prompt`` and ``optimizer`` and
    return the run's state; None if there is none yet.

    Raises CheckpointError naming the file if the run folder holds an old pickled checkpoint,
    or if this one is damaged, of another format, written for another configuration
    (``digest``) or does not fit the prompt.
    """
    path = Path(path)
    _refuse_pickled(path.parent)
    if not path.exists():
        return None
    state, groups, saved = _read(path, digest)
    try:
        prompt.load_state_dict(groups.pop("prompt"))
        optimizer.load_state_dict(saved)
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"{path}: does not fit this run ({err}); delete it to train this run from the start"
        ) from err
    return {**state, **groups}


class RunProgress:
    """How far a run has come, and the one checkpoint file that keeps it.

    The state: the last finished epoch and optimiser step, the best validation score so far,
    its epoch and its prompt, the validations since it (for early stopping) and the per-step
    log. It is saved after every validation, so a killed job resumes at the last validated
    epoch; only a process that ``saves`` (the main one of a data-parallel run) writes the file.
    """

    def __init__(
        self,
        run_dir: str | Path,
        digest: str,
        prompt: nn.Module,
        optimizer: Optimizer,
        saves: bool = True,
    ):
        self.path = checkpoint_path(run_dir, digest)
        self.digest = digest
        self.prompt = prompt
        self.optimizer = optimizer
        self.saves = saves
        self.state: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "best_score": -math.inf,
            "best_epoch": 0,
            "stale": 0,
            "best_prompt": None,
            "log": [],
        }

    def resume(self) -> None:
        """Continue from this configuration's checkpoint, if any: the prompt, the optimiser and
        the state as they were saved."""
        state = restore_checkpoint(self.path, self.digest, self.prompt, self.optimizer)
        if state is not None:
            self.state = state
            log.info("resumed from %s at epoch %d", self.path, self.state["epoch"])

    def validated(self, epoch: int, score: float) -> None:
        """Record an epoch's validation ``score`` (a better one than any before keeps the
        prompt as the best), then save."""
        if score > self.state["best_score"]:
            best_prompt = {k: v.detach().clone() for k, v in self.prompt.state_dict().items()}
            self.state.update(best_score=score, best_epoch=epoch, stale=0, best_prompt=best_prompt)
        else:
            self.state["stale"] += 1
        self.state["epoch"] = epoch
        self.save()

    def save(self) -> None:
        if self.saves:
            save_checkpoint(self.path, self.digest, self.state, self.prompt, self.optimizer)

    def restore_best(self) -> None:
        """Load the best validated prompt back into the prompt (if any epoch was validated)."""
        if self.state["best_prompt"] is not None:
            self.prompt.load_state_dict(self.state["best_prompt"])


def _read(
    path: Path, digest: str
) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """The state, tensor groups and optimiser `state_dict` of a checkpoint (on the CPU)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})[_META_KEY])
            flat = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        if not isinstance(meta, dict):
            raise ValueError(f"its {_META_KEY!r} metadata is not a JSON object")
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("digest") != digest:
            raise ValueError(f"written for configuration {meta.get('digest')}, not {digest}")
        groups: dict[str, dict[str, torch.Tensor]] = {part: {} for part in meta["parts"]}
        optimizer_state = {int(i): dict(v) for i, v in meta["optimizer"]["state"].items()}
        for name, value in flat.items():
            part, _, key = name.partition(_SEP)
            if part == "optimizer":
                index, _, key = key.partition(_SEP)
                optimizer_state[int(index)][key] = value
            else:
                groups[part][key] = value
        optimizer = {"state": optimizer_state, "param_groups": meta["optimizer"]["param_groups"]}
        return meta["state"], groups, optimizer
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({err}); delete it to train this run from the start"
        ) from err


def _is_tensor_group(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(map(torch.is_tensor, value.values()))


def _plain(value: object) -> object:
    """JSON for numpy scalars in the state (metric values)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint's metadata")
