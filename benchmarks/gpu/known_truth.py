"""The known-truth study's main operator at the 4B shapes (random weights) on one GPU.

Why: the study's CPU runs use the tiny backbone; this runs the same measurement through the same
code at the real model's shapes. It makes the synthetic RecGaze data with the workflow's stage
functions (generator with its planted truth, events, screens, renders, shards), writes a
Qwen3-VL-4B of random bf16 weights (`bench.build_backbone`, the real configuration and processor)
as a checkpoint folder, trains each seed with `fixate.train.run` (what the `train` rule calls),
with the train settings of `config.yaml` overlaid by `studies/known_truth.yaml`, and summarises the
runs with the study's own summary (`fixate.report.study`), adding wall times and peak memory.

    python benchmarks/gpu/known_truth.py --seeds 42 123 --out known_truth_gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from bench import build_backbone

from fixate.data.recgaze import pipeline as recgaze
from fixate.data.synthetic.recgaze import generate_recgaze
from fixate.data.synthetic.recgaze.design import recgaze_user_ids
from fixate.report.study import study_summary
from fixate.train import TrainConfig, run

ROOT = Path(__file__).resolve().parents[2]


def settings() -> tuple[dict, dict, dict]:
    """The train, RecGaze-synthetic and study sections as the study's workflow run sees them."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    study = yaml.safe_load((ROOT / "studies" / "known_truth.yaml").read_text())
    return (
        {**config["train"], **study.get("train", {})},
        {**config["recgaze"]["synthetic"], **study["recgaze"]["synthetic"]},
        config["study"],
    )


def make_samples(work: Path, synthetic: dict) -> list[Path]:
    """The synthetic RecGaze samples with their truth, through the workflow's stage functions."""
    raw, data = work / "raw", work / "recgaze"
    generate_recgaze(raw, n_users=synthetic["n_users"], seed=synthetic["seed"], posters=True)
    files = recgaze.raw_files(raw)
    tables = data / "tables"
    recgaze.run_events(
        files["summary"], files["non_public"], files["aoi"], tables / "events.parquet",
        tables / "event_counts.json",
    )  # fmt: skip
    recgaze.run_screens(
        tables / "events.parquet", tables / "event_counts.json", files["aoi"], files["items"],
        files["users"], tables / "screens.parquet", data / "split.json", data / "report.json",
    )  # fmt: skip
    shards = []
    for user in recgaze_user_ids(synthetic["n_users"]):
        done = data / "images" / f"{user}.json"
        recgaze.run_render(
            tables / "screens.parquet", files["aoi"], files["items"], files["posters"], user,
            data, done,
        )  # fmt: skip
        shard = data / "samples" / f"{user}.parquet"
        recgaze.run_shard(
            tables / "screens.parquet", done, user, shard, raw / "truth" / "gaze_truth.csv"
        )
        shards.append(shard)
    return shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen3vl", choices=["qwen3vl", "internvl"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 123])
    parser.add_argument("--control", action="store_true", help="also the shared-prompt control")
    parser.add_argument("--out", default="known_truth_gpu.json")
    parser.add_argument("--users", type=int, help="synthetic users (default: the study's)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the study's)")
    parser.add_argument("--smoke", action="store_true", help="CPU check with a shrunken model")
    args = parser.parse_args()
    train, synthetic, study = settings()
    synthetic["n_users"] = args.users or synthetic["n_users"]
    train["epochs"] = args.epochs or train["epochs"]
    device = torch.device("cpu" if args.smoke else "cuda")
    operator = study["main_operator"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        start = time.monotonic()
        shards = make_samples(work, synthetic)
        data_s = time.monotonic() - start
        backbone = build_backbone(args.model, device, smoke=args.smoke)
        model_dir = work / "model"
        backbone.model.save_pretrained(model_dir)
        backbone.processor.save_pretrained(model_dir)
        del backbone
        variants = {"fixation": {}}
        if args.control:
            variants[f"fixation-{study['control']}"] = {"prompt_mode": "shared"}
        metric_files, timings = [], {}
        for variant, override in variants.items():
            for seed in args.seeds:
                out = work / "runs" / "recgaze" / args.model / operator / variant / f"seed{seed}"
                config = TrainConfig.from_dict(
                    {**train, **override, "probe": {**train.get("probe", {}), "operator": operator}}
                )
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                begin = time.monotonic()
                run(shards, model_dir, args.model, config, seed, out, "recgaze")
                timings[f"{variant}/seed{seed}"] = {
                    "seconds": round(time.monotonic() - begin, 1),
                    "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                    if device.type == "cuda"
                    else None,
                }
                print(variant, seed, timings[f"{variant}/seed{seed}"], flush=True)
                metric_files.append(out / "metrics.json")
        summary = study_summary(metric_files, {**study, "datasets": ["recgaze"]})
        summary.pop("curves")
        summary.update(
            command=" ".join(sys.argv), data_seconds=round(data_s, 1), runs_timing=timings,
            device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        )  # fmt: skip
        Path(args.out).write_text(json.dumps(summary, indent=1, default=str))
        for name, check in summary["checks"].items():
            print(name, check, flush=True)
        for row in summary["table"]:
            print(row, flush=True)


if __name__ == "__main__":
    main()
