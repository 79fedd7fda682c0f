"""The per-step training log: each optimiser step's mean loss parts, read from the device one
step late, and the run's `train_log.csv`.

Kept apart from the loop (`fixate.train`) because its one difficulty is timing, not training:
reading a step's numbers as soon as it is launched would stall the host until the device had
finished it, so the numbers travel in a `StepRecord` that is read once the next step has been
launched, and a run of skipped (non-finite) steps is noticed there.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from fixate.data.tables import atomic_path

log = logging.getLogger(__name__)

# loss parts written to the train log, in the order of the per-step totals tensor
LOG_PARTS = ("loss", "choice", "alignment", "penalty", "lambda")

# the columns of train_log.csv: the steps' rows, and the validation written into an epoch's last
LOG_COLUMNS = ("epoch", "step", *LOG_PARTS, "val_score", "val_truth_kl")


class NonFiniteLoss(RuntimeError):
    """Raised when the loss or its gradient stays NaN or infinite for too many steps in a row."""


@dataclass(frozen=True)
class StepRecord:
    """An optimiser step's loss-part sums and counts and whether it was applied, copied to the
    host behind the step without waiting for it.

    `read` is called once the next step has been launched; the host is never far ahead of the
    device, so by then the copy has landed and reading it does not stall the launches.
    """

    step: int
    values: torch.Tensor  # sums, counts (LOG_PARTS each), then 1.0 if the step was applied
    copied: torch.cuda.Event | None  # recorded after the copy on a GPU

    @classmethod
    def queue(cls, step: int, totals: torch.Tensor, applied: torch.Tensor) -> StepRecord:
        values = torch.cat([totals.flatten(), applied.float().reshape(1)])
        if values.device.type != "cuda":
            return cls(step, values, None)
        host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
        host.copy_(values, non_blocking=True)
        copied = torch.cuda.Event()
        copied.record()
        return cls(step, host, copied)

    def read(self) -> dict[str, float] | None:
        """The step's mean loss parts, or None if the step was skipped."""
        if self.copied is not None:
            self.copied.synchronize()
        *flat, applied = self.values.tolist()
        if not applied:
            return None
        sums, counts = flat[: len(LOG_PARTS)], flat[len(LOG_PARTS) :]
        return {k: s / n for k, s, n in zip(LOG_PARTS, sums, counts, strict=True) if n > 0}


class StepLog:
    """Sums a step's loss parts on ``device`` and turns finished steps into log rows, stopping
    the run after ``max_nan_steps`` skipped steps in a row."""

    def __init__(self, device: torch.device, max_nan_steps: int):
        self.device = device
        self.max_nan_steps = max_nan_steps
        self.nan_streak = 0  # skipped steps in a row

    def new_totals(self) -> torch.Tensor:
        """Sums (row 0) and counts (row 1) of the LOG_PARTS over one optimiser step."""
        return torch.zeros(2, len(LOG_PARTS), device=self.device)

    @staticmethod
    def add_parts(totals: torch.Tensor, parts: dict[str, object]) -> None:
        for j, key in enumerate(LOG_PARTS):
            if key in parts:
                value = parts[key]  # a tensor on the device, or a float (no copy to it)
                totals[0, j] += value.detach() if torch.is_tensor(value) else value
                totals[1, j] += 1

    def row(self, record: StepRecord, epoch: int) -> dict[str, float] | None:
        """A finished step's log row (its mean loss parts), or None if it was skipped; raises
        NonFiniteLoss at the `max_nan_steps`-th skipped step in a row (read one step late, so the
        step after the last skipped one has been launched, and applied if it was finite)."""
        means = record.read()
        if means is None:
            self.nan_streak += 1
            log.warning("epoch %d: non-finite loss or gradient, step skipped", epoch)
            if self.nan_streak >= self.max_nan_steps:
                raise NonFiniteLoss(
                    f"{self.nan_streak} non-finite losses in a row; lower the learning rates or "
                    "check the samples"
                )
            return None
        self.nan_streak = 0
        return {"epoch": epoch, "step": record.step, **means}


def write_train_log(rows: Sequence[dict], path: Path) -> None:
    """The log rows as `train_log.csv` (a step without some part leaves its cell empty)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(LOG_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
