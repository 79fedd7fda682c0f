"""Write a checkpoint folder of a 4B backbone with random weights, for the workflow to train on.

Why: the real weights cannot be downloaded everywhere, but the workflow's own jobs at the real
shapes can still be rehearsed; `backbones: {qwen3vl: {model: FOLDER}}` then loads this folder
exactly as it would load the released checkpoint (real configuration and processor settings,
random bf16 weights from `bench.build_backbone`).

    python benchmarks/gpu/random_checkpoint.py --out results/models/qwen3vl-4b-random
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from bench import build_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen3vl", choices=["qwen3vl", "internvl"])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--smoke", action="store_true", help="CPU check with a shrunken model")
    args = parser.parse_args()
    start = time.monotonic()
    device = torch.device("cpu" if args.smoke else "cuda")
    backbone = build_backbone(args.model, device, smoke=args.smoke)
    backbone.model.save_pretrained(args.out)
    backbone.processor.save_pretrained(args.out)
    size = sum(f.stat().st_size for f in args.out.iterdir()) / 2**30
    print(f"{args.model}: {args.out} ({size:.2f} GiB) in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
