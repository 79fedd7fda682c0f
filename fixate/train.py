"""Training a personalised soft prompt against a frozen backbone, then the four-way test.

Loss = w_c * next-token loss on the clicked slot's name + lambda(t) * alignment loss between the
user's dwell distribution and the probe's slot distribution + beta * ||user mixing logits||^2.

The same loop trains on one CPU, one GPU or several processes started by `accelerate launch`
(`fixate.launch`). Data parallel is exact rather than approximate: an optimiser step takes
`grad_accum` consecutive batches of the seeded order, the processes share out those batches, and
the summed gradients (one all-reduce of the tiny trainable parameters per step) equal what one
process accumulates, so the run follows the same trajectory on any number of devices. No
DistributedDataParallel wrapper is needed for a few hundred thousand parameters, and a process
whose share of a step is empty simply contributes zeros. After their first epoch the processes
share their cached visual features, which one process would have all of by then.
The best epoch is chosen on the validation split by the composite score; every evaluation writes a
checkpoint (named by a digest of the run's configuration) that a killed job resumes from, giving
the same result as an uninterrupted run, because batch order depends only on (seed, epoch) (up to
the last bits of visual features that the resumed job computes in other batch shapes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from accelerate import PartialState
from accelerate.utils import gather_object, reduce
from tqdm import tqdm

from fixate.baselines import score_baselines
from fixate.checkpoint import RunProgress
from fixate.data.samples import has_truth, held_out_users, read_samples, user_profiles, with_signal
from fixate.data.tables import write_json, write_parquet
from fixate.evaluate import (
    ProbeSettings,
    batches,
    check_compile_layers,
    evaluate_model,
    load_probed_backbone,
    swapped_prompts,
)
from fixate.losses import AlignmentLoss, attention_weight, dwell_distribution
from fixate.metrics import METRICS, MODES, add_gap_closed, aggregate, composite_score
from fixate.models import Backbone
from fixate.probe import probe
from fixate.prompt import SoftPrompt
from fixate.stats import identity_test, wilcoxon_tests
from fixate.train_batches import PreparedBatch, TrainingBatches
from fixate.train_log import StepLog, StepRecord, write_train_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Every training hyperparameter (defaults: the reference's RecGaze settings)."""

    n_basis: int = 8
    n_tokens: int = 16
    prompt_mode: str = "personal"  # personal | shared (no per-user weights) | frozen (random)
    epochs: int = 30
    batch_size: int = 4
    grad_accum: int = 2
    basis_lr: float = 1e-3
    user_lr: float = 1e-3
    weight_decay: float = 1e-3
    basis_clip: float = 100.0
    user_clip: float = 5.0
    choice_weight: float = 0.5
    train_choice: bool = True
    lambda_target: float = 0.5
    lambda_warmup: int = 30
    beta: float = 1e-3
    alignment: str = "weighted_full_kl"
    gamma: float = 2.0
    top_k: int = 5
    eval_every: int = 2
    patience: int = 5
    signal: str = "fixation"  # fixation | cursor
    require_both_signals: bool = False
    holdout_users: int = 0  # the last users in id order, left out to be enrolled later
    max_nan_steps: int = 10
    free_generation: bool = True
    compile_layers: str = "auto"  # compile the layers below the window (`fixate.evaluate.compiles`)
    probe: ProbeSettings = field(default_factory=ProbeSettings)

    def __post_init__(self) -> None:
        check_compile_layers(self.compile_layers, self.probe.operator)  # before a model loads

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        probe_values = values.pop("probe", {}) or {}
        return cls(**values, probe=ProbeSettings(**probe_values))

    def digest(self, *extra: object) -> str:
        text = json.dumps([asdict(self), *map(str, extra)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def selected_samples(samples: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The samples a run uses: those with its signal (and the other one, if both are required),
    less the users held out to be enrolled later."""
    selected = with_signal(samples, config.signal, config.require_both_signals)
    held_out = held_out_users(selected["user_id"], config.holdout_users)
    if held_out:
        log.info("held out of training (to enroll): %s", ", ".join(held_out))
        selected = selected[~selected["user_id"].isin(held_out)]
    return selected


class Trainer:
    """One run: a soft prompt for one (dataset, backbone, operator, signal, seed).

    The loop is here; what feeds it (`fixate.train_batches`), what it logs per step
    (`fixate.train_log`) and what it resumes from (`fixate.checkpoint.RunProgress`) are units of
    their own.
    """

    def __init__(
        self,
        backbone: Backbone,
        samples: pd.DataFrame,
        config: TrainConfig,
        seed: int,
        run_dir: Path,
        processes: PartialState | None = None,
        prefetch: bool = True,
        prompt: SoftPrompt | None = None,
        cache_gib: dict[str, float] | None = None,
    ):
        """``prefetch``: read and encode the next batches while one trains. ``prompt``: train
        this prompt's trainable parts instead of a new prompt for the training users
        (enrollment: new users' weights beside frozen bases). ``cache_gib``: the visual-feature
        cache's budgets per tier (`TrainingBatches`); they change speed and memory, not results."""
        self.backbone = backbone
        self.config = config
        self.seed = seed
        self.run_dir = Path(run_dir)
        self.processes = processes or PartialState(cpu=backbone.device.type == "cpu")
        world = self.processes.num_processes
        if config.grad_accum % world:
            log.warning(
                "grad_accum %d is not a multiple of the %d processes: in every optimiser step "
                "some processes have no batch and wait; use grad_accum %d",
                config.grad_accum,
                world,
                -(-config.grad_accum // world) * world,
            )
        self.selected = selected_samples(samples, config)
        self.train_set, self.val_set, self.test_set = (
            self.selected[self.selected["split"] == split].reset_index(drop=True)
            for split in ("train", "val", "test")
        )
        torch.manual_seed(seed)
        self.prompt = prompt or SoftPrompt(
            backbone.hidden_size,
            sorted(set(self.train_set["user_id"])),
            n_basis=config.n_basis,
            n_tokens=config.n_tokens,
            mode=config.prompt_mode,
            seed=seed,
            device=backbone.device,
        )
        self.optimizer, self.trainable = self._optimizer()
        self.alignment = AlignmentLoss(config.alignment, config.gamma, config.top_k)
        self.inputs = TrainingBatches(
            backbone,
            config.signal,
            self.prompt.n_tokens,
            config.probe.instruction,
            prefetch,
            cache_gib,
        )
        self.step_log = StepLog(backbone.device, config.max_nan_steps)
        self.digest = config.digest(seed, len(self.selected))
        self.progress = RunProgress(
            self.run_dir, self.digest, self.prompt, self.optimizer, self.processes.is_main_process
        )

    def _optimizer(self) -> tuple[torch.optim.AdamW, list[torch.nn.Parameter]]:
        """AdamW over the prompt's trainable parts (bases and user weights at their own learning
        rates), and those parameters. A frozen prompt still runs the loop, on an idle parameter
        that nothing changes."""
        cfg = self.config
        groups = [
            {"params": [self.prompt.basis], "lr": cfg.basis_lr, "weight_decay": cfg.weight_decay},
            {
                "params": [self.prompt.user_logits],
                "lr": cfg.user_lr,
                "weight_decay": cfg.weight_decay,
            },
        ]
        trainable = [g for g in groups if g["params"][0].requires_grad]
        if not trainable:
            idle = torch.nn.Parameter(torch.zeros((), device=self.backbone.device))
            trainable = [{"params": [idle], "lr": 0.0}]
        optimizer = torch.optim.AdamW(trainable, fused=True)  # see optimiser_step
        return optimizer, [p for group in trainable for p in group["params"]]

    @property
    def state(self) -> dict:
        """How far the run has come (`RunProgress.state`): epoch, step, best epoch, the log."""
        return self.progress.state

    @property
    def checkpoint(self) -> Path:
        """This configuration's checkpoint file."""
        return self.progress.path

    # ----------------------------------------------------------------- training
    def step_plan(self, epoch: int) -> list[list[pd.DataFrame]]:
        """This process's batches for each optimiser step of an epoch.

        The shuffled order depends on (seed, epoch) only, so a resumed run agrees; each step's
        `grad_accum` batches are dealt out over the processes, so every process runs the same
        number of steps (possibly with no batch of its own in a step).
        """
        rng = np.random.default_rng([self.seed, epoch])
        order = self.train_set.iloc[rng.permutation(len(self.train_set))]
        all_batches = list(batches(order, self.config.batch_size))
        rank, world = self.processes.process_index, self.processes.num_processes
        accum = self.config.grad_accum
        return [all_batches[s : s + accum][rank::world] for s in range(0, len(all_batches), accum)]

    def loss(
        self, block: pd.DataFrame, step: int, prepared: PreparedBatch | None = None
    ) -> tuple[torch.Tensor, dict[str, object]]:
        """Loss of one batch and its parts (detached tensors: read at the step, not per batch)."""
        cfg = self.config
        prepared = prepared or self.inputs.prepare(block)
        rows, batch = prepared.rows, prepared.batch
        users = [row["user_id"] for row in rows]
        soft = self.prompt(users)
        lam = attention_weight(step, cfg.lambda_target, cfg.lambda_warmup, cfg.train_choice)
        features = self.inputs.features(prepared)
        parts: dict[str, object] = {"lambda": lam}
        total = torch.zeros((), device=self.backbone.device)
        logits = None
        if lam > 0:
            result = probe(
                self.backbone,
                batch,
                soft,
                operator=cfg.probe.operator,
                window=cfg.probe.window,
                differentiable=soft.requires_grad,
                features=features,
                **cfg.probe.options,
            )
            target = dwell_distribution(prepared.dwell, result.slot_mask)
            align = self.alignment(target, result.slots.float(), result.slot_mask)
            total = total + lam * align
            parts["alignment"] = align.detach()
            if result.logits.requires_grad:
                logits = result.logits
        if cfg.train_choice and cfg.choice_weight > 0:
            if logits is None:
                out = self.backbone.forward(batch, self.backbone.embed(batch, soft), features)
                logits = out.logits
            ce = F.cross_entropy(
                logits.float().flatten(0, 1), batch.answer_ids.flatten(), ignore_index=-100
            )
            total = total + cfg.choice_weight * ce
            parts["choice"] = ce.detach()
        penalty = self.prompt.penalty(users)
        total = total + cfg.beta * penalty
        parts["penalty"] = penalty.detach()
        return total, parts

    def fit(self) -> None:
        """Train with periodic validation, resuming from this configuration's checkpoint.

        One `TrainingBatches.encoded` stream covers all remaining epochs, so the first batch of
        an epoch is prepared while the last step of the one before trains (and while it
        validates): a prefetch restarted every epoch would stall each epoch for one batch's
        encoding, a fixed cost that does not shrink with more processes. `step_plan` is pure, so
        the stream calls it ahead and gets the very blocks this loop then trains on. The stream
        is closed on leaving, which stops its thread on an early stop or an error too.
        """
        self.progress.resume()
        self.step_log.nan_streak = 0
        epochs = range(self.state["epoch"] + 1, self.config.epochs + 1)
        stream = self.inputs.encoded(
            block for epoch in epochs for step in self.step_plan(epoch) for block in step
        )
        with closing(stream):
            for epoch in epochs:
                self.train_epoch(epoch, stream)
                if epoch == epochs[0] and self.processes.num_processes > 1:
                    received = self.inputs.feature_cache.share()
                    log.info("visual features of %d screens from the other processes", received)
                if self.end_epoch(epoch):
                    break
        self.progress.restore_best()

    def train_epoch(self, epoch: int, stream: Iterator[PreparedBatch]) -> None:
        """The optimiser steps of one epoch (`step_plan`), on their batches from ``stream``."""
        cfg = self.config
        self.optimizer.zero_grad(set_to_none=True)
        record = None  # the step before this one, read once this one is launched
        for step_blocks in tqdm(
            self.step_plan(epoch),
            desc=f"epoch {epoch}/{cfg.epochs}",
            disable=not self.processes.is_main_process,
            mininterval=5.0,
        ):
            totals = self.step_log.new_totals()
            for block in step_blocks:
                loss, parts = self.loss(block, self.state["step"], next(stream))
                if loss.requires_grad:  # a frozen prompt has nothing to differentiate
                    (loss / cfg.grad_accum).backward()
                self.step_log.add_parts(totals, {**parts, "loss": loss})
            previous, record = record, self.optimiser_step(totals)
            if previous is not None:
                self.log_step(previous, epoch)
        if record is not None:
            self.log_step(record, epoch)

    def end_epoch(self, epoch: int) -> bool:
        """Validate when due (the score goes into the epoch's last log row), keep the best
        prompt and save the checkpoint; whether to stop early."""
        cfg = self.config
        row = self.state["log"][-1] if self.state["log"] else {"epoch": epoch}
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            validation = self.validate()
            row["val_score"] = validation["score"]
            if "micro_truth_kl" in validation:  # synthetic users: the curve to the truth
                row["val_truth_kl"] = validation["micro_truth_kl"]
            self.progress.validated(epoch, validation["score"])
            if self.state["stale"] >= cfg.patience:
                log.info("early stop at epoch %d (best %d)", epoch, self.state["best_epoch"])
                return True
        else:
            self.state["epoch"] = epoch
        log.info("epoch %d: %s", epoch, row)
        return False

    def optimiser_step(self, totals: torch.Tensor) -> StepRecord:
        """Sum gradients and loss parts over processes, clip, and step unless anything is
        non-finite, without waiting for the device: the check and the skip happen there.

        Reading whether the step was applied would stall the host until the device finished the
        step, and with the GPU step about as long as the host's launching of it, every such stall
        leaves the GPU idle while the next batch's first kernels are launched. So the fused AdamW
        gets the verdict as its `found_inf` (the flag `torch.amp.GradScaler` hands it: the kernel
        leaves parameters, moments and step count untouched), and the step's loss parts and
        verdict come back as a `StepRecord` that `log_step` reads one step later. The step
        counter (the attention weight's warm-up) counts skipped steps too.
        """
        cfg = self.config
        if self.processes.num_processes > 1:
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.trainable]
            flat = reduce(torch.cat([totals.flatten(), *(g.flatten() for g in grads)]), "sum")
            totals = flat[: totals.numel()].view_as(totals)
            offset = totals.numel()
            for param in self.trainable:
                param.grad = flat[offset : offset + param.numel()].view_as(param).clone()
                offset += param.numel()
        norms = [totals[0].sum()]
        for param, limit in (
            (self.prompt.basis, cfg.basis_clip),
            (self.prompt.user_logits, cfg.user_clip),
        ):
            if param.grad is not None:
                norms.append(torch.nn.utils.clip_grad_norm_([param], limit))
        finite = torch.isfinite(torch.stack(norms)).all()
        self.optimizer.found_inf = (~finite).float()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state["step"] += 1
        return StepRecord.queue(self.state["step"], totals, finite)

    def log_step(self, record: StepRecord, epoch: int) -> None:
        """Add a finished step's row to the train log (`StepLog.row`; a skipped step adds none)."""
        row = self.step_log.row(record, epoch)
        if row is not None:
            self.state["log"].append(row)

    def validate(self) -> dict[str, float]:
        """Aggregate metrics of the soft prompt on the validation split (teacher-forced) and
        their composite score (``score``), which selects the epoch."""
        if self.val_set.empty:
            return {"score": -float(self.state["epoch"])}  # no validation data: keep the last
        per_sample = self.evaluate(self.val_set, self.prompt, "val", free_generation=False)
        metrics = aggregate(per_sample)
        return {**metrics, "score": composite_score(metrics, with_answer=False)}

    # ----------------------------------------------------------------- testing
    def test(self) -> tuple[dict, pd.DataFrame]:
        """The four modes and the baselines on the test split, with per-user Wilcoxon tests."""
        cfg = self.config
        evaluations = [
            self.evaluate(self.test_set, None, "backbone", cfg.free_generation),
            self.evaluate(self.test_set, self.prompt, "fixate", cfg.free_generation),
        ]
        baselines = score_baselines(self.selected, cfg.signal).rename(columns={"baseline": "mode"})
        per_sample = pd.concat([*evaluations, baselines], ignore_index=True)
        by_mode = {mode: g for mode, g in per_sample.groupby("mode")}
        metrics = {
            "modes": {m: aggregate(by_mode[m]) for m in MODES if m in by_mode},
            "baselines": {m: aggregate(g) for m, g in by_mode.items() if m not in MODES},
            "wilcoxon": wilcoxon_tests(by_mode, METRICS, ["answer_accuracy"]),
        }
        add_gap_closed({**metrics["modes"], **metrics["baselines"]})
        if has_truth(self.test_set) and self.test_set["user_id"].nunique() > 1:
            # the identity test: each screen under other users' weights (mode "swap_tf")
            swaps = self.evaluate(swapped_prompts(self.test_set), self.prompt, "swap", False)
            metrics["identity"] = identity_test(by_mode["fixate_tf"], swaps)
            per_sample = pd.concat([per_sample, swaps], ignore_index=True)
        return metrics, per_sample

    def evaluate(
        self, samples: pd.DataFrame, prompt: SoftPrompt | None, name: str, free_generation: bool
    ) -> pd.DataFrame:
        """Per-sample metrics of ``samples``; each process scores a contiguous share and every
        process gets the whole table, in sample order within each mode whatever the share-out."""
        world = self.processes.num_processes
        share = np.array_split(np.arange(len(samples)), world)[self.processes.process_index]
        part = evaluate_model(
            self.backbone,
            samples.iloc[share],
            prompt,
            self.config.probe,
            self.config.signal,
            self.config.batch_size,
            name=name,
            free_generation=free_generation,
            progress=name != "val" and self.processes.is_main_process,
            encoder=self.inputs.encoder,
        )
        parts = gather_object([part]) if world > 1 else [part]
        return pd.concat(parts, ignore_index=True).sort_values(
            "mode", kind="stable", ignore_index=True
        )


def run(
    shards: list[str | Path],
    model_dir: str | Path,
    backbone_kind: str,
    config: TrainConfig,
    seed: int,
    out_dir: str | Path,
    dataset: str,
    trust_remote_code: bool = False,
    cache_gib: dict[str, float] | None = None,
) -> dict:
    """Train and test one run; write metrics.json, per_sample.parquet, prompt.safetensors,
    profiles.json (what a simulator of each trained user puts in its prompt) and train_log.csv
    into ``out_dir``. ``cache_gib``: the visual-feature cache's budgets, {"device": GiB,
    "host": GiB} (`feature_cache:` in the configuration)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    np.random.seed(seed)
    samples = read_samples(shards)
    processes = PartialState(cpu=not torch.cuda.is_available())
    backbone = load_probed_backbone(
        model_dir,
        backbone_kind,
        config.probe,
        config.compile_layers,
        device=processes.device,
        trust_remote_code=trust_remote_code,
    )
    trainer = Trainer(backbone, samples, config, seed, out_dir, processes, cache_gib=cache_gib)
    log.info(
        "%d train / %d val / %d test samples (%s signal) from %d users on %d process(es), %s",
        len(trainer.train_set),
        len(trainer.val_set),
        len(trainer.test_set),
        config.signal,
        samples["user_id"].nunique(),
        processes.num_processes,
        processes.device,
    )
    started = time.monotonic()
    trainer.fit()
    fitted = time.monotonic()
    metrics, per_sample = trainer.test()
    metrics = {
        "dataset": dataset,
        "backbone": backbone_kind,
        "model_dir": str(model_dir),
        "seed": seed,
        "best_epoch": trainer.state["best_epoch"],
        "best_val_score": trainer.state["best_score"],
        "config": asdict(config),
        "n_samples": {s: len(getattr(trainer, f"{s}_set")) for s in ("train", "val", "test")},
        "resources": run_resources(trainer, fitted - started, time.monotonic() - fitted),
        **metrics,
    }
    if processes.is_main_process:
        write_parquet(per_sample, out_dir / "per_sample.parquet")
        trainer.prompt.save(out_dir / "prompt.safetensors")
        write_json(user_profiles(samples, trainer.prompt.user_ids), out_dir / "profiles.json")
        write_train_log(trainer.state["log"], out_dir / "train_log.csv")
        write_json(metrics, out_dir / "metrics.json")
    return metrics


def run_resources(trainer: Trainer, fit_s: float, test_s: float) -> dict:
    """What a run cost, for planning a grid: wall seconds of training (with validation) and of
    the test, the feature cache's use, and the device's peak memory (GPU only). All of it is this
    process's: a run resumed from a checkpoint counts only the epochs trained after resuming."""
    cache = trainer.inputs.feature_cache
    device = trainer.backbone.device
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "fit_seconds": round(fit_s, 1),
        "test_seconds": round(test_s, 1),
        "feature_cache": {
            "screens": len(cache),
            "hits": cache.hits,
            "misses": cache.misses,
            "gib": {tier: used / 2**30 for tier, used in cache.used_bytes.items()},
            "budget_gib": {tier: budget / 2**30 for tier, budget in cache.budgets.items()},
        },
        "peak_gpu_gib": None if peak is None else peak / 2**30,
    }
