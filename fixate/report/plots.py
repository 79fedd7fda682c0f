"""Figures: metric bars with seed error bars, training curves, and screens seen three ways.

The screen figure is the one a reader looks at first: for a test screen, the user's gaze, the bare
backbone's slot attention and FixATE's slot attention, each drawn as shaded slot boxes on the
interface image, side by side.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle
from PIL import Image

from fixate.data.samples import SIGNAL_COLUMNS, image_file, read_samples
from fixate.data.tables import atomic_path
from fixate.metrics import normalise

BAR_METRICS = ("cosine", "csh@1", "csh@3", "tgo@3", "js", "auc", "truth_kl", "truth_r")
METHODS = (
    ("baselines", "uniform", "Uniform"),
    ("baselines", "position_prior", "Position prior"),
    ("baselines", "user_prior", "Per-user prior"),
    ("baselines", "planted_truth", "Planted truth"),
    ("modes", "backbone_tf", "Backbone TF"),
    ("modes", "fixate_tf", "FixATE TF"),
    ("modes", "backbone_fg", "Backbone FG"),
    ("modes", "fixate_fg", "FixATE FG"),
)


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _has_metric(aggregates: Sequence[dict], variant: str, metric: str) -> bool:
    return any(
        f"micro_{metric}" in stats
        for agg in aggregates
        for by_variant in agg["results"].values()
        for section in ("modes", "baselines")
        for stats in by_variant.get(variant, {}).get(section, {}).values()
    )


def metric_bars(aggregate_files: Sequence[str | Path], variant: str, out: str | Path) -> None:
    """One panel per metric; bars per method, per operator and backbone; error bars = seed std.

    The truth panels (KL to the planted truth, share of the gap closed) appear when the data is
    synthetic and carries the truth."""
    aggregates = [json.loads(Path(f).read_text()) for f in aggregate_files]
    metrics = [m for m in BAR_METRICS if _has_metric(aggregates, variant, m)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        labels, means, stds = [], [], []
        for agg in aggregates:
            for backbone, by_variant in agg["results"].items():
                res = by_variant.get(variant)
                if res is None:
                    continue
                for section, key, name in METHODS:
                    if section == "baselines" and any(name == lab for lab in labels):
                        continue
                    stats = res[section].get(key, {}).get(f"micro_{metric}")
                    if not stats or stats.get("mean") is None:
                        continue
                    suffix = "" if section == "baselines" else f"\n{agg['operator']}/{backbone}"
                    labels.append(name + suffix)
                    means.append(stats["mean"])
                    stds.append(stats.get("std") or 0.0)
        x = np.arange(len(labels))
        ax.bar(x, means, yerr=stds, capsize=3, color=plt.cm.tab10(np.arange(len(labels)) % 10))
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(metric)
    fig.suptitle(f"{aggregates[0]['dataset']} test metrics ({variant}; mean ± std over seeds)")
    save_figure(fig, out)


CURVES = (
    ("loss", "training loss"),
    ("lambda", "alignment weight λ"),
    ("val_score", "validation score"),
    ("val_truth_kl", "validation KL(truth || model)"),
)


def training_curves(log_files: Sequence[str | Path], out: str | Path) -> None:
    """Loss, lambda, validation score and (synthetic users) the validation KL to the planted
    truth per optimiser step, one line per run (seed); a curve no run has is left out."""
    logs = {Path(f).parent.name: pd.read_csv(f) for f in log_files}
    curves = [
        (column, title)
        for column, title in CURVES
        if any(column in log and log[column].notna().any() for log in logs.values())
    ]
    fig, axes = plt.subplots(1, len(curves), figsize=(4.3 * len(curves), 3.6), squeeze=False)
    for ax, (column, title) in zip(axes[0], curves, strict=True):
        for label, log in logs.items():
            if column in log and log[column].notna().any():
                points = log[log[column].notna()]
                ax.plot(
                    points["step"],
                    points[column],
                    marker="o" if column.startswith("val_") else "",
                    label=label,
                )
        ax.set_title(title)
        ax.set_xlabel("optimiser step")
    axes[0][0].legend(fontsize=7)
    save_figure(fig, out)


def _shade(
    ax: plt.Axes, image: Image.Image, boxes: np.ndarray, mass: np.ndarray, title: str, clicked: int
) -> None:
    ax.imshow(np.asarray(image) // 2)  # dimmed, so the shading reads on any poster
    weights = normalise(mass)
    top = weights.max() if weights.max() > 0 else 1.0
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ax.add_patch(
            Rectangle(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                facecolor="yellow",
                alpha=0.8 * weights[i] / top,
                edgecolor="none",
            )
        )
        if i == clicked:
            ax.add_patch(
                Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="lime", linewidth=2)
            )
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def screen_panels(
    shards: Sequence[str | Path],
    per_sample_file: str | Path,
    signal: str,
    out: str | Path,
    n_screens: int = 3,
) -> None:
    """A few test screens: gaze, backbone attention and FixATE attention (yellow: more mass,
    green frame: the click)."""
    samples = read_samples(shards)
    per_sample = pd.read_parquet(per_sample_file)
    tf = per_sample[per_sample["mode"].isin(["backbone_tf", "fixate_tf"])]
    keyed = tf.set_index(["mode", "user_id", "screen_id"])["slots"]
    test = samples[samples["split"] == "test"]
    test = test[
        test.set_index(["user_id", "screen_id"]).index.isin(keyed.loc["fixate_tf"].index)
    ].head(n_screens)
    fig, axes = plt.subplots(
        max(len(test), 1), 3, figsize=(15, 3.2 * max(len(test), 1)), squeeze=False
    )
    for row_axes, (_, sample) in zip(axes, test.iterrows(), strict=False):
        with Image.open(image_file(sample)) as image:
            picture = image.convert("RGB")
        boxes = np.asarray([list(b) for b in sample["slot_boxes"]])
        key = (sample["user_id"], sample["screen_id"])
        panels = (
            ("gaze of " + sample["user_id"], sample[SIGNAL_COLUMNS[signal]]),
            ("backbone", keyed.loc[("backbone_tf", *key)]),
            ("FixATE", keyed.loc[("fixate_tf", *key)]),
        )
        for ax, (title, mass) in zip(row_axes, panels, strict=True):
            _shade(ax, picture, boxes, np.asarray(mass, dtype=float), title, int(sample["label"]))
    save_figure(fig, out)
