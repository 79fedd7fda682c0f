"""The FixATE training step, evaluation probe and free generation at the real 4B scale, timed.

Why: a reproduction is about 12 (operator x backbone x dataset) cells x 5 seeds x 30 epochs of
second-order training through a 4B model, so the step time decides what is feasible. No weights
can be downloaded, but cost depends on shapes, not values: each model is built from its public
configuration (`configs/`) with random bf16 weights on the GPU, and fed through the project's own
pipeline (`Backbone.encode`, `probe`, `SoftPrompt`, `AlignmentLoss`): the tiny models' tokenizers
and chat templates, with the real image-processor settings, so a 1100 x 619 screen gives Qwen3-VL
646 visual tokens and InternVL 768 (two tiles and a thumbnail).

Each training step is the GPU work of `Trainer.loss` plus the backward pass: the soft prompt, the
differentiable probe, the alignment KL against a dwell distribution, the cross-entropy on the
answer, the mixing penalty. It runs in two modes:

- optimised: features from `FeatureCache` (filled during warm-up, as from the second epoch on),
  SDPA except for eager attention in the probed window, the batch left-padded;
- reference-style: the vision tower run inside every step, transformers' eager attention (fp32
  softmax output) in every layer of the vision tower and the language model, at batch 1 for the
  ratio (same operator, same window, same values).

Also timed: the evaluation probe (no second-order graph), constrained free generation (one
forward without an answer whose last logits score the candidates) and a plain forward (vision
tower inside, SDPA). Times are CUDA-event medians after warm-up; peak memory is
`torch.cuda.max_memory_allocated` over the timed steps and includes the weights.

    python benchmarks/gpu/bench.py --out results.json
    python benchmarks/gpu/bench.py --smoke        # CPU, shrunken configs: checks the code paths
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from transformers import (
    InternVLConfig,
    InternVLForConditionalGeneration,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from fixate.losses import AlignmentLoss, dwell_distribution
from fixate.models import (
    Backbone,
    InternVLBackbone,
    ModelBatch,
    Qwen3VLBackbone,
    Screen,
    VisualFeatures,
    base,
)
from fixate.models import attention as attention_functions
from fixate.models.attention import eager_attention, lean_attention
from fixate.models.cache import FeatureCache, screen_key
from fixate.models.processors import ImageOnlyInternVLProcessor, load_processor
from fixate.models.tiny import TINY_TEXT, materialise
from fixate.probe import OPERATORS, attnlrp_rules, probe
from fixate.prompt import SoftPrompt

CONFIGS = Path(__file__).parent / "configs"
SCREEN = (1100, 619)  # a 1920 x 1080 RecGaze screen after the reference's downscale
SMOKE_SCREEN = (550, 310)
N_SOFT, N_BASIS = 16, 8
LAMBDA, CHOICE_WEIGHT, BETA = 0.5, 0.5, 1e-3  # TrainConfig's weights once lambda has warmed up
LETTERS = tuple("ABCDEFGHIJKLMNO")
PROFILES = (  # different lengths, so a batch is left-padded as in training
    "Top_genre: Action, Preferred_genres: Comedy|Drama",
    "Top_genre: Horror",
    "Top_genre: Romance, Preferred_genres: Comedy|Drama|Horror|Action",
    "Top_genre: Drama, Preferred_genres: Romance",
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    config_file: str
    config_class: type
    model_class: type
    backbone_class: type[Backbone]
    tiny: str


MODELS = {
    "qwen3vl": ModelSpec(
        "qwen3vl_4b.json",
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLBackbone,
        "tiny-qwen3vl",
    ),
    "internvl": ModelSpec(
        "internvl3_5_4b.json",
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLBackbone,
        "tiny-internvl",
    ),
}

# the CPU smoke test keeps every code path (DeepStack, M-RoPE, tiling) at a few layers
SMOKE_TEXT = {**TINY_TEXT, "num_hidden_layers": 8}
SMOKE_VISION = {
    "qwen3vl": dict(
        depth=3,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        out_hidden_size=64,
        deepstack_visual_indexes=[0, 1, 2],
    ),
    "internvl": dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2
    ),
}


# ------------------------------------------------------------------------------- building
def load_config(kind: str, tokenizer, smoke: bool) -> dict:
    """The public configuration, its special-token ids moved onto the benchmark tokenizer."""
    config = json.loads((CONFIGS / MODELS[kind].config_file).read_text())
    if kind == "qwen3vl":
        tokens = {
            "image_token_id": "<|image_pad|>",
            "video_token_id": "<|video_pad|>",
            "vision_start_token_id": "<|vision_start|>",
            "vision_end_token_id": "<|vision_end|>",
        }
        config.update({key: tokenizer.convert_tokens_to_ids(t) for key, t in tokens.items()})
    else:
        config["image_token_id"] = tokenizer.context_image_token_id
    if smoke:
        config["text_config"].update(SMOKE_TEXT)
        config["vision_config"].update(SMOKE_VISION[kind])
        if kind == "qwen3vl":  # sum(mrope_section) must be head_dim / 2
            config["text_config"]["rope_parameters"]["mrope_section"] = [4, 2, 2]
    return config


def real_processor(kind: str, processor):
    """The tiny processor (tokenizer, chat template) with the real model's image settings."""
    if kind == "qwen3vl":
        processor.image_processor = Qwen2VLImageProcessorPil(
            size={"shortest_edge": 65536, "longest_edge": 16777216},
            patch_size=16,
            temporal_patch_size=2,
            merge_size=2,
            image_mean=[0.5] * 3,
            image_std=[0.5] * 3,
        )
        return processor
    image_processor = GotOcr2ImageProcessorPil(
        size={"height": 448, "width": 448},
        crop_to_patches=True,
        min_patches=1,
        max_patches=12,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    return ImageOnlyInternVLProcessor(
        image_processor=image_processor,
        tokenizer=processor.tokenizer,
        image_seq_length=256,
        chat_template=processor.chat_template,
    )


def build_backbone(kind: str, device: torch.device, smoke: bool) -> Backbone:
    """Random weights from the real configuration, initialised directly on the device."""
    spec = MODELS[kind]
    with tempfile.TemporaryDirectory() as folder:
        tiny = materialise(spec.tiny, Path(folder) / spec.tiny)
        processor = real_processor(kind, load_processor(tiny, kind))
    config = spec.config_class.from_dict(load_config(kind, processor.tokenizer, smoke))
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    torch.manual_seed(0)
    with torch.device(device):
        model = spec.model_class._from_config(config, dtype=dtype, attn_implementation="sdpa")
    return spec.backbone_class(model, processor)


def vision_tower(backbone: Backbone) -> torch.nn.Module:
    inner = backbone.model.model
    return inner.visual if backbone.kind == "qwen3vl" else inner.vision_tower


def synthetic_screens(n: int, size: tuple[int, int]) -> list[Screen]:
    """Noise screens with a 3 x 5 grid of slots (different images, profiles and answers)."""
    rng = np.random.default_rng(0)
    width, height = size
    cell_w, cell_h = width / 5, height / 3
    boxes = np.asarray(
        [
            (c * cell_w + 4, r * cell_h + 4, (c + 1) * cell_w - 4, (r + 1) * cell_h - 24)
            for r in range(3)
            for c in range(5)
        ],
        dtype=np.float32,
    )
    return [
        Screen(
            image=Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)),
            slot_boxes=boxes,
            slot_names=LETTERS,
            profile=PROFILES[i % len(PROFILES)],
            answer=LETTERS[int(rng.integers(15))],
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------------------- the modes
STOCK_EAGER = functools.partial(eager_attention, softmax_dtype=torch.float32)
"""transformers' eager arithmetic: an fp32 softmax output (kept for the backward), then rounded."""


def _stock_eager_without_weights(module, query, key, value, attention_mask, **kwargs):
    """Stock eager attention that records no map, for the layers outside the probed window."""
    output, _ = STOCK_EAGER(module, query, key, value, attention_mask, **kwargs)
    return output, None


@contextmanager
def reference_style(backbone: Backbone) -> Iterator[None]:
    """transformers' eager attention in every vision and language layer, the probed window and
    the rule-based AttnLRP's layers included; the probe still reads its window.

    The language layers outside the window fall back to `fixate.models.attention`'s SDPA
    function, and the rule-based AttnLRP runs `lean_attention`, so those are what is swapped.
    """
    config = vision_tower(backbone).config
    vision_impl = config._attn_implementation
    config._attn_implementation = "eager"
    window_attention = backbone._window_attention

    def stock_window(window: int, attention: Callable):
        return window_attention(window, STOCK_EAGER if attention is eager_attention else attention)

    backbone._window_attention = stock_window
    attention_functions.sdpa_attention_forward = _stock_eager_without_weights
    attnlrp_rules.lean_attention = _stock_eager_without_weights
    try:
        yield
    finally:
        config._attn_implementation = vision_impl
        del backbone._window_attention
        attention_functions.sdpa_attention_forward = sdpa_attention_forward
        attnlrp_rules.lean_attention = lean_attention


class Bench:
    """One backbone, its inputs and the step functions, for each batch size."""

    def __init__(
        self,
        kind: str,
        device: torch.device,
        batch_sizes: list[int],
        smoke: bool,
        options: dict | None = None,
    ):
        self.kind = kind
        self.options = options or {}  # the operators' options (`ProbeSettings.options`)
        self.device = device
        self.backbone = build_backbone(kind, device, smoke)
        self.screens = synthetic_screens(max(batch_sizes), SMOKE_SCREEN if smoke else SCREEN)
        self.users = [f"user{i}" for i in range(len(self.screens))]
        self.prompt = SoftPrompt(
            self.backbone.hidden_size, self.users, n_basis=N_BASIS, n_tokens=N_SOFT, device=device
        )
        self.cache = FeatureCache(self.backbone)
        self.alignment = AlignmentLoss()
        encode = self.backbone.encode
        self.batches = {b: encode(self.screens[:b], N_SOFT) for b in batch_sizes}
        open_screens = [dataclasses.replace(s, answer=None) for s in self.screens]
        self.open_batches = {b: encode(open_screens[:b], N_SOFT) for b in batch_sizes}
        dwell = torch.distributions.Dirichlet(torch.ones(15)).sample((len(self.screens),))
        self.dwell = dwell.to(device)

    def info(self) -> dict:
        batch = self.batches[min(self.batches)]
        model = self.backbone.model
        return {
            "parameters_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
            "vision_parameters_b": round(
                sum(p.numel() for p in vision_tower(self.backbone).parameters()) / 1e9, 3
            ),
            "sequence_length": batch.input_ids.shape[1],
            "visual_tokens": int(batch.image_mask.sum()),
            "soft_tokens": N_SOFT,
            "window": self.backbone.default_window,
            "screen": list(self.screens[0].image.size),
        }

    def features(self, batch: ModelBatch) -> VisualFeatures:
        """Through the cache; `batch` holds the first screens."""
        screens = self.screens[: len(batch.token_cells)]
        return self.cache.features(batch, [screen_key(s) for s in screens])

    def train_step(self, operator: str, b: int, reference: bool) -> torch.Tensor:
        """`Trainer.loss` at full lambda, then the backward pass; returns the slots (the soft
        prompt keeps this step's gradient)."""
        self.prompt.zero_grad(set_to_none=True)
        backbone, batch = self.backbone, self.batches[b]
        window = backbone.default_window
        with reference_style(backbone) if reference else nullcontext():
            features = backbone.image_features(batch) if reference else self.features(batch)
            users = self.users[:b]
            soft = self.prompt(users)
            result = probe(
                backbone,
                batch,
                soft,
                operator=operator,
                window=window,
                differentiable=True,
                features=features,
                **self.options,
            )
            target = dwell_distribution(self.dwell[:b], result.slot_mask)
            align = self.alignment(target, result.slots.float(), result.slot_mask)
            choice = F.cross_entropy(
                result.logits.float().flatten(0, 1), batch.answer_ids.flatten(), ignore_index=-100
            )
            loss = LAMBDA * align + CHOICE_WEIGHT * choice + BETA * self.prompt.penalty(users)
            loss.backward()
        return result.slots.detach()

    def eval_probe(self, operator: str, b: int) -> torch.Tensor:
        """The evaluation probe: detached, no second-order graph."""
        with torch.no_grad():
            soft = self.prompt(self.users[:b])
        batch = self.batches[b]
        features = self.features(batch)
        return probe(
            self.backbone, batch, soft, operator=operator, features=features, **self.options
        ).slots

    def reference_alone(self, operator: str, index: int) -> torch.Tensor:
        """The evaluation probe of screen `index` encoded alone, reference style."""
        batch = self.backbone.encode([self.screens[index]], N_SOFT)
        with torch.no_grad():
            soft = self.prompt([self.users[index]])
        with reference_style(self.backbone):
            features = self.backbone.image_features(batch)
            return probe(
                self.backbone, batch, soft, operator=operator, features=features, **self.options
            ).slots

    def generation(self, b: int) -> torch.Tensor:
        """Constrained free generation: one forward without an answer, candidates' log-probs."""
        batch = self.open_batches[b]
        with torch.no_grad():
            features = self.features(batch)
            soft = self.prompt(self.users[:b])
            out = self.backbone.forward(batch, self.backbone.embed(batch, soft), features)
            return torch.log_softmax(out.logits[:, -1].float(), dim=-1)

    def forward(self, b: int) -> torch.Tensor:
        """A plain forward: vision tower inside, SDPA everywhere, no probe."""
        with torch.no_grad():
            soft = self.prompt(self.users[:b])
            return self.backbone.run(self.batches[b], soft).logits


# ------------------------------------------------------------------------------- measuring
def measure(fn: Callable[[], object], device: torch.device, steps: int, warmup: int) -> dict:
    """Median time of `fn` after warm-up, and the peak memory over the timed calls.

    On CUDA every call is bracketed by events and the host synchronises once, after the last.
    """
    warmup_ms = []
    for _ in range(warmup):  # the first call includes one-time work (kernel choice, caches)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        warmup_ms.append((time.perf_counter() - start) * 1e3)
    if device.type != "cuda":
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return {
            "ms": statistics.median(times),
            "ms_all": times,
            "peak_gib": None,
            "warmup_ms": warmup_ms,
        }
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    events = []
    for _ in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        events.append((start, end))
    torch.cuda.synchronize()
    times = [start.elapsed_time(end) for start, end in events]
    peak = torch.cuda.max_memory_allocated() / 2**30
    return {
        "ms": statistics.median(times),
        "ms_all": times,
        "peak_gib": peak,
        "warmup_ms": warmup_ms,
    }


def count_syncs(fn: Callable[[], object], sites: int = 8) -> dict:
    """Host-device synchronisations in one call of `fn`, as CUDA's sync debug mode reports them,
    and the source lines that caused the most of them (file:line of the calling Python frame)."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # (not the one-time notice that the debug mode is a prototype)
    syncs = [w for w in caught if "called a synchronizing" in str(w.message)]
    where = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)
    return {"syncs": len(syncs), "sync_sites": where.most_common(sites)}


def profile(fn: Callable[[], object], rows: int = 15) -> dict:
    """One call under the profiler: the GPU kernels by total time, and their sum against the
    call's wall time (where the remainder goes to launches and host work); and the operators
    that launched them, by input shapes (which call of the step a kernel belongs to)."""
    fn()
    torch.cuda.synchronize()
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities, record_shapes=True) as profiler:
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        wall_ms = (time.perf_counter() - start) * 1e3
    kernels = [
        e
        for e in profiler.key_averages()
        if e.device_type == torch.autograd.DeviceType.CUDA and e.self_device_time_total > 0
    ]
    kernels.sort(key=lambda e: e.self_device_time_total, reverse=True)
    operators = [
        e
        for e in profiler.key_averages(group_by_input_shape=True)
        if e.device_type == torch.autograd.DeviceType.CPU and e.self_device_time_total > 0
    ]
    operators.sort(key=lambda e: e.self_device_time_total, reverse=True)
    return {
        "wall_ms_profiled": wall_ms,
        "kernel_ms": sum(e.self_device_time_total for e in kernels) / 1e3,
        "kernel_launches": sum(e.count for e in kernels),
        "top_kernels": [
            [e.key[:90], round(e.self_device_time_total / 1e3, 2), e.count] for e in kernels[:rows]
        ],
        "top_operators": [
            [e.key, str(e.input_shapes)[:120], round(e.self_device_time_total / 1e3, 2), e.count]
            for e in operators[: 3 * rows]
        ],
    }


def release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class Runner:
    """Runs the cases in order, records each (errors and out-of-memory included), keeps time."""

    def __init__(self, args: argparse.Namespace, device: torch.device):
        self.args = args
        self.device = device
        self.deadline = time.monotonic() + args.budget_s
        self.results: dict = {"env": environment(device, args), "models": {}, "cases": []}

    def save(self) -> None:
        if self.args.out:
            Path(self.args.out).write_text(json.dumps(self.results, indent=1))

    def case(self, fn: Callable[[], dict], **labels) -> None:
        row = dict(labels)
        if time.monotonic() > self.deadline:
            row["error"] = "skipped: time budget"
        else:
            try:
                row.update(fn())
            except torch.cuda.OutOfMemoryError as error:
                row["error"] = f"out of memory: {str(error).splitlines()[0]}"
            except Exception as error:  # keep every other case's figures
                row["error"] = f"{type(error).__name__}: {error}"[:500]
        release()
        self.results["cases"].append(row)
        self.save()
        shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
        print({k: v for k, v in shown.items() if k != "ms_all"}, flush=True)

    def timed(self, fn: Callable[[], object], batch: int, **labels) -> None:
        def run() -> dict:
            r = measure(fn, self.device, self.args.steps, self.args.warmup)
            return {**r, "ms_per_sample": r["ms"] / batch}

        self.case(run, batch=batch, **labels)


def bench_model(runner: Runner, kind: str) -> None:
    args, device = runner.args, runner.device
    started = time.monotonic()
    bench = Bench(kind, device, args.batch_sizes, args.smoke, json.loads(args.probe_options))
    info = {**bench.info(), "setup_s": round(time.monotonic() - started, 1)}
    if device.type == "cuda":
        info["weights_gib"] = torch.cuda.memory_allocated() / 2**30
    runner.results["models"][kind] = info
    print(kind, info, flush=True)
    largest = max(args.batch_sizes)
    for operator in args.operators:
        for b in args.batch_sizes:
            for reference in (False, True):
                runner.timed(
                    lambda o=operator, b=b, r=reference: bench.train_step(o, b, r),
                    b,
                    model=kind,
                    what="train",
                    operator=operator,
                    mode="reference" if reference else "optimised",
                )
        runner.timed(
            lambda o=operator: bench.eval_probe(o, largest),
            largest,
            model=kind,
            what="eval",
            operator=operator,
            mode="optimised",
        )
    for b in args.batch_sizes:
        runner.timed(lambda b=b: bench.generation(b), b, model=kind, what="generation")
        runner.timed(lambda b=b: bench.forward(b), b, model=kind, what="forward")
    for operator in args.operators:
        runner.case(
            lambda o=operator: agreement(bench, o, largest),
            model=kind,
            what="agreement",
            operator=operator,
            batch=largest,
        )
        if device.type == "cuda" and args.profile:
            runner.case(
                lambda o=operator: profile(lambda: bench.train_step(o, largest, False)),
                model=kind,
                what="profile",
                operator=operator,
                batch=largest,
            )
        if device.type == "cuda":
            runner.case(
                lambda o=operator: count_syncs(lambda: bench.train_step(o, largest, False)),
                model=kind,
                what="syncs",
                operator=operator,
                batch=largest,
            )


def agreement(bench: Bench, operator: str, b: int) -> dict:
    """Slots of the optimised path at batch b against the reference style, one screen at a time
    (bf16 rounding differs between SDPA and eager kernels and between batch shapes)."""
    optimised = bench.eval_probe(operator, b).float()
    reference = torch.cat([bench.reference_alone(operator, i) for i in range(b)]).float()
    difference = (optimised - reference).abs().max().item()
    return {
        "max_abs_slot_diff": difference,
        "relative_to_max_slot": difference / reference.max().item(),
        "argmax_equal": bool((optimised.argmax(-1) == reference.argmax(-1)).all()),
    }


# ------------------------------------------------------------------------------- reporting
def environment(device: torch.device, args: argparse.Namespace) -> dict:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(device),
        "argv": sys.argv[1:],
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(results: dict) -> str:
    """One Markdown table: a row per (model, what, operator, batch)."""
    cases = results["cases"]
    found = {
        (c["model"], c["what"], c.get("operator", ""), c.get("batch"), c.get("mode", "")): c
        for c in cases
    }
    header = (
        "| model | what | operator | B | optimised ms/step | ms/sample | peak GiB "
        "| reference ms/step | ms/sample | peak GiB | optimised / reference B=1 "
        "| max abs slot diff | syncs/step |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    rows = sorted({k[:4] for k in found}, key=lambda k: (k[0], _ORDER.index(k[1]), k[2], k[3]))
    for model, what, operator, b in rows:
        if what in ("agreement", "syncs", "profile"):
            continue
        opt = found.get((model, what, operator, b, "optimised")) or found.get(
            (model, what, operator, b, "")
        )
        ref = found.get((model, what, operator, b, "reference"))
        ref1 = found.get((model, what, operator, 1, "reference"))
        cells = [model, what, operator or "—", str(b)]
        for case in (opt, ref):
            if case is None:
                cells += ["—"] * 3
            elif "error" in case:
                oom = case["error"].startswith("out of memory")
                cells += ["out of memory" if oom else case["error"][:40], "—", "—"]
            else:
                cells += [_fmt(case["ms"]), _fmt(case["ms_per_sample"]), _fmt(case["peak_gib"])]
        ratio = None
        if opt and ref1 and "error" not in opt and "error" not in ref1:
            ratio = opt["ms_per_sample"] / ref1["ms_per_sample"]
        cells.append("—" if ratio is None else f"{100 * ratio:.1f} %")
        agree = found.get((model, "agreement", operator, b, ""))
        cells.append(_fmt(agree.get("max_abs_slot_diff"), 5) if agree and what == "train" else "—")
        syncs = found.get((model, "syncs", operator, b, ""))
        cells.append(str(syncs["syncs"]) if syncs and "syncs" in syncs and what == "train" else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_ORDER = ["train", "eval", "generation", "forward", "agreement", "syncs", "profile"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen3vl,internvl")
    parser.add_argument("--operators", default=",".join(sorted(OPERATORS)))
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--steps", type=int, default=7, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--budget-s", type=float, default=math.inf, help="skip cases after this")
    parser.add_argument("--smoke", action="store_true", help="CPU, shrunken configs")
    parser.add_argument(
        "--pad-multiple",
        type=int,
        default=base.PAD_MULTIPLE,
        help="pad batches to a multiple of this many positions",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one optimised step per operator"
    )
    parser.add_argument(
        "--probe-options", default="{}", help="operator options as JSON, e.g. '{\"upcast\": true}'"
    )
    args = parser.parse_args()
    args.models = args.models.split(",")
    args.operators = args.operators.split(",")
    args.batch_sizes = sorted(int(b) for b in args.batch_sizes.split(","))
    unknown = set(args.models) - set(MODELS) | set(args.operators) - set(OPERATORS)
    if unknown:
        parser.error(f"unknown models or operators: {sorted(unknown)}")
    if not args.smoke and not torch.cuda.is_available():
        parser.error("needs a CUDA device (or --smoke for a CPU run of the code paths)")
    base.PAD_MULTIPLE = args.pad_multiple
    device = torch.device("cpu" if args.smoke else "cuda")
    runner = Runner(args, device)
    for kind in args.models:
        bench_model(runner, kind)
        release()  # the next model's peak memory must not include this one's weights
    print(table(runner.results))


if __name__ == "__main__":
    main()
