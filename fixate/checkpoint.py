"""Training checkpoints that loading cannot turn into code.

A checkpoint is one safetensors file: the tensors (prompt, best prompt, optimiser moments and
step counts) as tensors, everything else (epoch, step, best score, train log, optimiser
hyper-parameters, the configuration digest) as JSON in the file's metadata. Reading it parses a
JSON header and copies raw tensor bytes; nothing in the file is ever executed, unlike a torch
pickle, whose loading can call any function the file names. One file also means one atomic
rename: the tensors and the numbers that go with them are always from the same save.

Run folders written by earlier versions hold `checkpoint-*.pt` pickles. They are refused, never
read: `refuse_pickled` names the file and says to delete it (the run then starts afresh).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from fixate.data.tables import atomic_path

FORMAT = "fixate-checkpoint/1"
_META_KEY = "fixate"  # the metadata entry holding the JSON part
_SEP = "/"  # tensor names: "<part>/<key>", optimiser state "optimizer/<param>/<key>"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from: an old pickle, a damaged or foreign file."""


def checkpoint_path(run_dir: str | Path, digest: str) -> Path:
    """The checkpoint of the configuration with this digest in a run folder."""
    return Path(run_dir) / f"checkpoint-{digest}.safetensors"


def refuse_pickled(run_dir: str | Path) -> None:
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
    tensors: dict[str, dict[str, torch.Tensor]],
    optimizer: dict[str, Any],
) -> None:
    """Write ``state`` (JSON-able), named groups of tensors and an optimiser's `state_dict` to
    one safetensors file, atomically."""
    flat = {f"{part}{_SEP}{k}": v for part, group in tensors.items() for k, v in group.items()}
    per_param: dict[str, dict[str, Any]] = {}
    for index, entries in optimizer["state"].items():
        per_param[str(index)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                flat[f"optimizer{_SEP}{index}{_SEP}{key}"] = value
            else:
                per_param[str(index)][key] = value
    meta = {
        "format": FORMAT,
        "digest": digest,
        "state": state,
        "parts": sorted(tensors),
        "optimizer": {"param_groups": optimizer["param_groups"], "state": per_param},
    }
    text = json.dumps(meta, default=_plain)
    with atomic_path(path) as tmp:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in flat.items()},
            str(tmp),
            metadata={_META_KEY: text},
        )


def load_checkpoint(
    path: str | Path, digest: str
) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read a file written by `save_checkpoint` (on the CPU): its state, tensor groups and
    optimiser `state_dict`. Raises CheckpointError naming the file if it is damaged, of another
    format, or written for another configuration (``digest``)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})[_META_KEY])
            flat = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("digest") != digest:
            raise ValueError(f"written for configuration {meta.get('digest')}, not {digest}")
        tensors: dict[str, dict[str, torch.Tensor]] = {part: {} for part in meta["parts"]}
        optimizer_state = {int(i): dict(v) for i, v in meta["optimizer"]["state"].items()}
        for name, value in flat.items():
            part, _, key = name.partition(_SEP)
            if part == "optimizer":
                index, _, key = key.partition(_SEP)
                optimizer_state[int(index)][key] = value
            else:
                tensors[part][key] = value
        optimizer = {"state": optimizer_state, "param_groups": meta["optimizer"]["param_groups"]}
        return meta["state"], tensors, optimizer
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({err}); delete it to train this run from the start"
        ) from err


def _plain(value: object) -> object:
    """JSON for numpy scalars in the state (metric values)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint's metadata")
