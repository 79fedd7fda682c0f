"""Training throughput of one run on 1 and N GPUs at the 4B scale, and whether N follows 1.

Why: the Snakemake rule trains a run data parallel when its job has several GPUs; this measures
what that buys with the code the rule runs. Every process builds the model from its public
configuration with the same random bf16 weights (`bench.build_backbone`), writes the same noise
screens (1100 x 619, 15 slots) as Sample rows, and runs the real `fixate.train.Trainer.fit` (step
plan, gradient all-reduce, clipping, AdamW) for a few epochs with no validation split. One process
runs as a plain Python process, several under `accelerate launch` (`fixate.launch`'s command).

The clock is read after every optimiser step's log values are read: one step late within an
epoch, and at the epoch's end for its last step, which waits for the device there. Throughput
is the samples trained after the end of epoch 1 divided by the time from the end of epoch 1 to the
last step: the steady state, leaving out the first epoch (it fills the vision-feature cache and
warms up the kernels) but keeping the epoch boundaries, where the prefetch of the next epoch's
first batch overlaps the last step; the per-epoch seconds (step end to step end) are reported too,
and `batch_wait_ms`: how long the loop waited for each next prepared batch, the mean after epoch 1
(near zero while reading and encoding keep ahead of the GPU).
The same seeds give the same batches on any number of GPUs, so the final soft prompts and the
train-log losses are compared with the first run; repeating the one-GPU run (`--gpus 1,1,2`, the
default) shows how far bf16 kernels alone move two identical runs apart.

    python benchmarks/gpu/data_parallel.py --gpus 1,1,2 --out data_parallel.json
    python benchmarks/gpu/data_parallel.py --smoke --gpus 1,2    # CPU (gloo), shrunken model
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import torch
from accelerate import PartialState
from bench import LETTERS, PROFILES, SCREEN, SMOKE_SCREEN, build_backbone, synthetic_screens
from safetensors.torch import load_file

from fixate.data.samples import read_samples, write_samples
from fixate.evaluate import ProbeSettings
from fixate.launch import accelerate_command
from fixate.train import TrainConfig, Trainer


def sample_rows(folder: Path, n: int, size: tuple[int, int], users: int) -> pd.DataFrame:
    """``n`` training samples of ``users`` users over the benchmark's noise screens."""
    rows = []
    screens = synthetic_screens(n, size)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, screen in enumerate(screens):
        name = f"images/{i}.png"
        screen.image.save(folder / name)
        dwell = [float((7 * i + 3 * k) % 11 + 1) for k in range(len(LETTERS))]
        rows.append(
            {
                "dataset": "bench",
                "user_id": f"user{i % users}",
                "screen_id": f"S{i}",
                "content_id": f"c{i}",
                "visit_index": 0,
                "image_path": name,
                "labelled_image_path": name,
                "image_width": size[0],
                "image_height": size[1],
                "slot_boxes": screen.slot_boxes.tolist(),
                "slot_names": list(LETTERS),
                "n_candidates": len(LETTERS),
                "label": LETTERS.index(screen.answer),
                "gaze_ms": dwell,
                "cursor_ms": dwell,
                "split": "train",
                "profile": PROFILES[i % len(PROFILES)],
            }
        )
    shard = folder / "samples" / "bench.parquet"  # images resolve against the shard's grandparent
    write_samples(pd.DataFrame(rows), shard)
    return read_samples([shard])


def worker(args: argparse.Namespace) -> None:
    """One process of the run: train, time the epochs, and (rank 0) write the result."""
    processes = PartialState(cpu=not torch.cuda.is_available())
    backbone = build_backbone(args.model, processes.device, args.smoke)
    work = Path(args.work)
    samples = sample_rows(
        work / f"rank{processes.process_index}",
        args.samples,
        SMOKE_SCREEN if args.smoke else SCREEN,
        args.users,
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lambda_warmup=0,
        eval_every=args.epochs,
        free_generation=False,
        probe=ProbeSettings(operator=args.operator),
    )
    run_dir = work / f"run{args.tag}"
    trainer = Trainer(
        backbone,
        samples,
        config,
        seed=11,
        run_dir=run_dir,
        processes=processes,
        prefetch=not args.no_prefetch,
    )
    marks: list[float] = []  # the clock after each step's log values are read
    log_step = trainer.log_step

    def timed_log_step(record, epoch: int) -> None:
        log_step(record, epoch)  # an epoch's last step is read at its end, waiting for the device
        marks.append(time.perf_counter())

    trainer.log_step = timed_log_step
    waits: list[float] = []  # seconds the loop waited for each prepared batch
    encoded = trainer.inputs.encoded

    def timed_batches(blocks):
        stream = encoded(blocks)
        with closing(stream):
            while True:
                started = time.perf_counter()
                prepared = next(stream, None)
                if prepared is None:
                    return
                waits.append(time.perf_counter() - started)
                yield prepared

    trainer.inputs.encoded = timed_batches
    if backbone.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.fit()
    steps = len(trainer.step_plan(1))  # every epoch has the same number of steps
    ends = [start, *marks[steps - 1 :: steps]]
    epoch_s = [b - a for a, b in itertools.pairwise(ends)]
    first = 1 if len(epoch_s) > 1 else 0  # steady state from the end of epoch 1
    samples_per_s = args.samples * (len(epoch_s) - first) / (ends[-1] - ends[first])
    steady = waits[len(waits) * first // len(epoch_s) :]  # the batches after epoch 1
    if processes.is_main_process:
        trainer.prompt.save(work / f"prompt{args.tag}.safetensors")
        result = {
            "gpus": processes.num_processes,
            "epoch_s": epoch_s,
            "samples_per_s": samples_per_s,
            "batch_wait_ms": 1000 * sum(steady) / max(1, len(steady)),
            "peak_gib_rank0": torch.cuda.max_memory_allocated() / 2**30
            if backbone.device.type == "cuda"
            else None,
            "log": trainer.state["log"],
        }
        (work / f"result{args.tag}.json").write_text(json.dumps(result))
    processes.destroy_process_group()


def compare(work: Path, runs: int) -> list[dict]:
    """Each run's throughput, speed-up and distance from the first run's trajectory."""
    results = [json.loads((work / f"result{i}.json").read_text()) for i in range(runs)]
    prompts = [load_file(work / f"prompt{i}.safetensors") for i in range(runs)]
    rows = []
    for n, r in enumerate(results):
        losses = [row["loss"] for row in r["log"]]
        base_losses = [row["loss"] for row in results[0]["log"]]
        rows.append(
            {
                "gpus": r["gpus"],
                "samples_per_s": round(r["samples_per_s"], 2),
                "batch_wait_ms": round(r["batch_wait_ms"], 1),
                "speedup": round(r["samples_per_s"] / results[0]["samples_per_s"], 3),
                "epoch_s": [round(t, 2) for t in r["epoch_s"]],
                "peak_gib_rank0": r["peak_gib_rank0"] and round(r["peak_gib_rank0"], 1),
                "steps": len(losses),
                "final_loss": round(losses[-1], 5),
                "max_loss_diff": max(abs(a - b) for a, b in zip(losses, base_losses, strict=True)),
                "max_prompt_diff": max(
                    float((prompts[n][k] - prompts[0][k]).abs().max()) for k in prompts[n]
                ),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gpus", default="1,1,2", help="process counts, run in turn; the first is the baseline"
    )
    parser.add_argument("--model", default="qwen3vl", choices=["qwen3vl", "internvl"])
    parser.add_argument("--operator", default="attnlrp")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="CPU, shrunken configs")
    parser.add_argument(
        "--no-prefetch", action="store_true", help="encode each batch in the training loop"
    )
    parser.add_argument("--out", default="", help="write the comparison as JSON here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tag", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    counts = [int(n) for n in args.gpus.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        for tag, n in enumerate(counts):
            target = [__file__, "--worker", "--work", folder, f"--tag={tag}", *_forwarded(args)]
            command = accelerate_command(n, target) if n > 1 else [sys.executable, *target]
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // n))}
            subprocess.run(command, env=env, check=True)
        rows = compare(Path(folder), len(counts))
    for row in rows:
        print(json.dumps(row))
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


def _forwarded(args: argparse.Namespace) -> list[str]:
    """The worker's copy of the benchmark's settings."""
    forwarded = [
        f"--model={args.model}",
        f"--operator={args.operator}",
        f"--samples={args.samples}",
        f"--users={args.users}",
        f"--epochs={args.epochs}",
        f"--batch-size={args.batch_size}",
        f"--grad-accum={args.grad_accum}",
    ]
    flags = {"--smoke": args.smoke, "--no-prefetch": args.no_prefetch}
    return [*forwarded, *(flag for flag, on in flags.items() if on)]


if __name__ == "__main__":
    main()
