"""Enrollment's learning curve and `simulate`'s throughput at the 4B shapes (random weights).

Why: the CPU runs use the tiny backbone; this runs the workflow's own code at the real model's
shapes on one GPU. It makes the synthetic RecGaze data with the workflow's stage functions
(`known_truth.make_samples`, truth included), trains the `holdout` variant with `fixate.train.run`
(what the `train` rule calls; the train settings of `config.yaml` overlaid by
`studies/known_truth.yaml`), enrolls the held-out users from their first k sessions and scores them
on their test screens (`fixate.enroll`, what the `enroll` rule calls), and summarises the curve
with `fixate.report.enroll`. Then it times `fixate.simulate.simulate` on new carousel pages
(`fixate.simulate.new_screens`) for many users at several batch sizes, side by side.

    python benchmarks/gpu/enroll_simulate.py --users 24 --holdout 10 --out enroll_simulate.json

With ``--work DIR`` the data, the model, the trained run and each k's scores are kept there, and a
second call with the same arguments picks up where the first stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
from bench import build_backbone
from known_truth import make_samples, settings

from fixate.data.recgaze.raw import read_user_features
from fixate.data.recgaze.screens import profile_text
from fixate.data.samples import held_out_users, read_samples
from fixate.data.synthetic.recgaze import generate_recgaze
from fixate.data.synthetic.recgaze.design import recgaze_user_ids
from fixate.data.tables import write_parquet
from fixate.enroll import EnrollConfig, enroll, score_enrolled
from fixate.prompt import SoftPrompt
from fixate.report.enroll import curve_summary
from fixate.simulate.new_screens import new_carousel_screens
from fixate.simulate.screens import read_spec
from fixate.simulate.simulator import TrainedRun, simulate
from fixate.train import TrainConfig, run


def timed(device: torch.device, fn):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.monotonic()
    value = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return value, time.monotonic() - start


def learning_curve(args, trained: TrainedRun, backbone, shards, work: Path) -> dict:
    """Enroll the held-out users for every k and score them; the curve and the timings."""
    users = recgaze_user_ids(args.users)
    held = held_out_users(users, args.holdout)
    samples = read_samples([s for s in shards if s.stem in held])
    config = EnrollConfig(steps=args.steps, lr=args.lr, batch_size=4, seed=args.seed)
    files, timing = [], {}
    for k in args.sessions:
        path = work / f"k{k}_test.parquet"
        if path.exists():  # a resumed harness (--work): this k is done
            files.append(path)
            continue
        prompt, fit_s = timed(
            backbone.device, lambda k=k: enroll(trained, backbone, samples, k, config)
        )
        scores, score_s = timed(
            backbone.device, lambda p=prompt: score_enrolled(trained, backbone, p, samples, held)
        )
        write_parquet(scores.assign(sessions=k, seed=args.seed), path)
        files.append(path)
        timing[k] = {"enroll_s": round(fit_s, 1), "score_s": round(score_s, 1)}
        print("k", k, timing[k], flush=True)
    summary = curve_summary(files, {"sessions": args.sessions, "steps": args.steps, "lr": args.lr})
    return {**summary, "timing": timing}


def throughput(args, trained: TrainedRun, backbone, raw: Path, work: Path) -> dict:
    """Pairs (user, screen) per second of `simulate` for ``--sim-users`` users (random weights
    over the trained bases) on ``--sim-screens`` new pages, per batch size."""
    screens = read_spec(new_carousel_screens(raw, work / "screens", n=args.sim_screens, seed=1))
    users = [f"sim_{i:03d}" for i in range(args.sim_users)]
    prompt = SoftPrompt(
        trained.prompt.basis.shape[2],
        users,
        n_basis=trained.prompt.basis.shape[0],
        n_tokens=trained.prompt.n_tokens,
        device=backbone.device,
    )
    with torch.no_grad():
        prompt.basis.copy_(trained.prompt.basis)
        prompt.user_logits.normal_(generator=torch.Generator(backbone.device).manual_seed(0))
    profiles = list(trained.profiles.values())
    many = TrainedRun(
        trained.run_dir,
        trained.metrics,
        prompt,
        {user: profiles[i % len(profiles)] for i, user in enumerate(users)},
    )
    out = {}
    for batch in args.batch_sizes:
        simulate(many, backbone, screens[:1], users[: batch - 1], batch_size=batch, progress=False)
        if backbone.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        table, seconds = timed(
            backbone.device,
            lambda b=batch: simulate(many, backbone, screens, users, batch_size=b, progress=False),
        )
        pairs = len(table)
        out[batch] = {
            "pairs": pairs,
            "seconds": round(seconds, 1),
            "pairs_per_s": round(pairs / seconds, 2),
            "screens_per_s_all_users": round(len(screens) / seconds, 3),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if backbone.device.type == "cuda"
            else None,
        }
        print("batch", batch, out[batch], flush=True)
    return out


def untrained_throughput(args, train: dict, study: dict, device: torch.device) -> dict:
    """`throughput` without training first: the speed of `simulate` does not depend on the
    values of the weights, so an untrained prompt over the real shapes times the same work."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        generate_recgaze(work / "raw", n_users=2, seed=7, posters=True)
        backbone = build_backbone(args.model, device, smoke=args.smoke)
        config = TrainConfig.from_dict(
            {**train, "probe": {**train.get("probe", {}), "operator": study["main_operator"]}}
        )
        prompt = SoftPrompt(
            backbone.hidden_size, n_basis=config.n_basis, n_tokens=config.n_tokens, device=device
        )
        users, _ = read_user_features(work / "raw" / "user_features.csv")
        profiles = profile_text(users).to_dict()
        untrained = TrainedRun(work, {"config": asdict(config)}, prompt, profiles)
        return throughput(args, untrained, backbone, work / "raw", work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen3vl", choices=["qwen3vl", "internvl"])
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--holdout", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, help="training epochs (default: the study's)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[0, 1, 2, 5, 10, 20])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--sim-users", type=int, default=87)
    parser.add_argument("--sim-screens", type=int, default=10)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--skip-curve", action="store_true", help="time simulate only")
    parser.add_argument(
        "--throughput-only", action="store_true", help="time simulate with untrained weights"
    )
    parser.add_argument("--smoke", action="store_true", help="CPU check with a shrunken model")
    parser.add_argument("--out", default="enroll_simulate.json")
    parser.add_argument("--work", help="keep the data, model and run here and reuse them")
    args = parser.parse_args()
    train, synthetic, study = settings()
    synthetic["n_users"] = args.users
    train["epochs"] = args.epochs or train["epochs"]
    device = torch.device("cpu" if args.smoke else "cuda")
    result: dict = {"command": " ".join(sys.argv)}
    if args.throughput_only:
        result["simulate"] = untrained_throughput(args, train, study, device)
        Path(args.out).write_text(json.dumps(result, indent=1, default=str))
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(args.work or folder)
        shards = sorted((work / "recgaze" / "samples").glob("*.parquet"))
        if len(shards) != args.users:
            shards, data_s = timed(device, lambda: make_samples(work, synthetic))
            result["data_s"] = round(data_s, 1)
        model_dir = work / "model"
        if not (model_dir / "config.json").exists():
            backbone = build_backbone(args.model, device, smoke=args.smoke)
            backbone.model.save_pretrained(model_dir)
            backbone.processor.save_pretrained(model_dir)
            del backbone
        config = TrainConfig.from_dict(
            {
                **train,
                "holdout_users": args.holdout,
                "probe": {**train.get("probe", {}), "operator": study["main_operator"]},
            }
        )
        out = work / "run"
        if not (out / "profiles.json").exists():
            _, train_s = timed(
                device,
                lambda: run(shards, model_dir, args.model, config, args.seed, out, "recgaze"),
            )
            result["train_s"] = round(train_s, 1)
        print("data and training:", result, flush=True)
        trained = TrainedRun.load(out)
        backbone = trained.backbone(device=str(device))
        trained.prompt.to(backbone.device)
        if not args.skip_curve:
            result["curve"] = learning_curve(args, trained, backbone, shards, work)
        result["simulate"] = throughput(args, trained, backbone, work / "raw", work)
    result["device"] = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result.get("curve", {}).get("k_max_vs_k0", {}), indent=1), flush=True)


if __name__ == "__main__":
    main()
