"""The 4B training step with the decoder layers below the probed window compiled, against the
same step uncompiled, side by side in one process (`Backbone.compile_below_window`).

Why: the H200 profile of the step (`bench.py --profile`, benchmarks/README.md) has elementwise
work on the decoder's activations as its largest share, which `torch.compile` can fuse in the
layers that need only a first-order backward. Per model: the uncompiled training step (and the
evaluation probe) of each operator at one batch size, then the layers compiled (the first calls,
which compile, are timed apart as `compile_s`), then the same cases again on the same inputs.
Each compiled case also reports how far its slots and soft-prompt gradient are from the
uncompiled ones (bf16 kernels round differently once fused).

Then, the layers compiled, each operator that compiles its combine (GLIMPSE,
`AttentionOperator.compile_combine`) with the combine compiled and not, in interleaved rounds
(the order alternating), so that drift over the run falls on both sides; the ratio is the median
of the rounds' paired ratios.

    python benchmarks/gpu/compile_layers.py --out compile.json
    python benchmarks/gpu/compile_layers.py --smoke --backend aot_eager   # CPU: the code paths
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from bench import Bench, _fmt, environment, measure, release

from fixate.probe import OPERATORS

SAFE_OPERATORS = ("rollout", "glimpse", "attnlrp")
"""The operators whose second-order graph ends at the window (`compile_below_window`)."""


def step_and_gradient(bench: Bench, operator: str, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training step's slots and the gradient it leaves on the soft prompt."""
    slots = bench.train_step(operator, b, reference=False)
    grads = [p.grad.flatten() for p in bench.prompt.parameters() if p.grad is not None]
    return slots.detach().float(), torch.cat(grads).float()


def timed_cases(bench: Bench, args: argparse.Namespace, b: int) -> dict:
    """ms per step of the training step and the evaluation probe, for every operator."""
    cases = {}
    for operator in args.operators:
        for what, fn in (
            ("train", lambda o=operator: bench.train_step(o, b, reference=False)),
            ("eval", lambda o=operator: bench.eval_probe(o, b)),
        ):
            result = measure(fn, bench.device, args.steps, args.warmup)
            cases[f"{what}/{operator}"] = {
                "ms": result["ms"],
                "ms_per_sample": result["ms"] / b,
                "peak_gib": result["peak_gib"],
            }
            print(bench.kind, what, operator, round(result["ms"] / b, 1), "ms/sample", flush=True)
            release()
    return cases


def compare(bench: Bench, args: argparse.Namespace) -> dict:
    b = args.batch_size
    eager = timed_cases(bench, args, b)
    before = {o: step_and_gradient(bench, o, b) for o in args.operators}
    started = time.monotonic()
    bench.backbone.compile_below_window(bench.backbone.default_window, backend=args.backend)
    after = {o: step_and_gradient(bench, o, b) for o in args.operators}  # compiles
    for operator in args.operators:
        bench.eval_probe(operator, b)
    if bench.device.type == "cuda":
        torch.cuda.synchronize()
    compile_s = time.monotonic() - started
    compiled = timed_cases(bench, args, b)
    agreement = {}
    for operator in args.operators:
        (slots, grad), (slots_c, grad_c) = before[operator], after[operator]
        agreement[operator] = {
            "max_abs_slot_diff": (slots - slots_c).abs().max().item(),
            "relative_grad_diff": ((grad - grad_c).norm() / grad.norm()).item(),
        }
    combine = {o: combine_rounds(bench, args, o) for o in args.operators if compiles_combine(o)}
    return {
        "compile_s": compile_s,
        "eager": eager,
        "compiled": compiled,
        "agreement": agreement,
        "combine": combine,
    }


def compiles_combine(operator: str) -> bool:
    return getattr(OPERATORS[operator], "compile_combine", False)


def combine_rounds(bench: Bench, args: argparse.Namespace, operator: str) -> dict:
    """The compiled-layers step of ``operator`` with its combine compiled and not, in
    ``args.rounds`` interleaved rounds: ms a sample per round and the paired ratios."""
    b, switch = args.batch_size, OPERATORS[operator]
    kept = switch.compile_combine
    ms: dict[str, list[float]] = {"compiled": [], "uncompiled": []}
    try:
        for index in range(args.rounds):
            order = ("compiled", "uncompiled") if index % 2 == 0 else ("uncompiled", "compiled")
            for side in order:
                switch.compile_combine = side == "compiled"
                result = measure(
                    lambda: bench.train_step(operator, b, reference=False),
                    bench.device,
                    args.steps,
                    args.warmup,
                )
                ms[side].append(result["ms"] / b)
                release()
    finally:
        switch.compile_combine = kept
    ratios = [c / u for c, u in zip(ms["compiled"], ms["uncompiled"], strict=True)]
    print(bench.kind, operator, "combine compiled / uncompiled", ratios, flush=True)
    return {
        "ms_per_sample": ms,
        "median_ms_per_sample": {side: statistics.median(v) for side, v in ms.items()},
        "ratio": statistics.median(ratios),
    }


def table(results: dict) -> str:
    lines = [
        "| model | what | operator | uncompiled ms/sample | compiled ms/sample | ratio "
        "| peak GiB (uncompiled / compiled) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, model in results["models"].items():
        for case, eager in model["eager"].items():
            compiled = model["compiled"][case]
            what, operator = case.split("/")
            lines.append(
                f"| {kind} | {what} | {operator} | {eager['ms_per_sample']:.1f} "
                f"| {compiled['ms_per_sample']:.1f} "
                f"| {compiled['ms'] / eager['ms']:.3f} "
                f"| {_fmt(eager['peak_gib'])} / {_fmt(compiled['peak_gib'])} |"
            )
    lines += [
        "",
        "| model | operator | combine uncompiled ms/sample | combine compiled ms/sample | ratio |",
        "|---|---|---|---|---|",
    ]
    for kind, model in results["models"].items():
        for operator, rounds in model["combine"].items():
            median = rounds["median_ms_per_sample"]
            lines.append(
                f"| {kind} | {operator} | {median['uncompiled']:.1f} "
                f"| {median['compiled']:.1f} | {rounds['ratio']:.3f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen3vl,internvl")
    parser.add_argument("--operators", default=",".join(SAFE_OPERATORS))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=7, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds of a combine's comparison"
    )
    parser.add_argument("--backend", default="inductor", help="torch.compile backend")
    parser.add_argument("--smoke", action="store_true", help="CPU, shrunken configs")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    args = parser.parse_args()
    args.operators = args.operators.split(",")
    unsafe = set(args.operators) - set(SAFE_OPERATORS)
    if unsafe:
        parser.error(f"{sorted(unsafe)} differentiate twice below the window; not compilable")
    if not args.smoke and not torch.cuda.is_available():
        parser.error("needs a CUDA device (or --smoke for a CPU run of the code paths)")
    device = torch.device("cpu" if args.smoke else "cuda")
    results = {"env": environment(device, args), "models": {}}
    for kind in args.models.split(","):
        bench = Bench(kind, device, [args.batch_size], args.smoke)
        results["models"][kind] = compare(bench, args)
        print(kind, results["models"][kind]["agreement"], flush=True)
        del bench
        torch._dynamo.reset()  # the next model compiles its own layers
        release()
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
