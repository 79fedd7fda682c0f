"""The enrollment learning curve: how well held-out users are simulated after k sessions.

Held-out users never shaped the bases. Each is enrolled from their first k sessions (k = 0: the
population's mean weights) and scored on their test screens, which no one was fitted on. Every
metric is first averaged over a user's test screens (and over seeds), so the error bars are over
users: the standard error of the mean. The paired test asks whether the most sessions beat none,
user by user, on each metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fixate.data.tables import atomic_path, write_json
from fixate.report.plots import save_figure
from fixate.stats import paired_wilcoxon

# metric: (mode it is read in, label, lower is better)
CURVE_METRICS = {
    "kl": ("fixate_tf", "KL(observed gaze || model)", True),
    "truth_kl": ("fixate_tf", "KL(planted truth || model)", True),
    "csh@1": ("fixate_tf", "CSH@1", False),
    "answer_accuracy": ("fixate_fg", "answer accuracy", False),
}


def per_user(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (sessions, user, metric): the user's mean over test screens and seeds."""
    rows = []
    for metric, (mode, _, _) in CURVE_METRICS.items():
        part = scores[scores["mode"] == mode]
        if metric not in part or part[metric].isna().all():
            continue  # truth exists for synthetic users only
        means = part.groupby(["sessions", "user_id"])[metric].mean().rename("value")
        rows.append(means.reset_index().assign(metric=metric))
    return pd.concat(rows, ignore_index=True)


def curve_summary(score_files: Sequence[str | Path], settings: dict) -> dict:
    """Mean ± standard error over users per (metric, k), and most-sessions-against-none tests."""
    scores = pd.concat([pd.read_parquet(path) for path in score_files], ignore_index=True)
    users = per_user(scores)
    curve = {}
    for metric, rows in users.groupby("metric"):
        stats = rows.groupby("sessions")["value"].agg(["mean", "std", "count"])
        curve[metric] = [
            {
                "sessions": int(k),
                "mean": float(row["mean"]),
                "sem": float(row["std"] / np.sqrt(row["count"])) if row["count"] > 1 else None,
                "n_users": int(row["count"]),
            }
            for k, row in stats.iterrows()
        ]
    most = max(settings["sessions"])
    tests = {}
    for metric, (mode, _, _) in CURVE_METRICS.items():
        if metric not in curve:
            continue
        none = scores[(scores["mode"] == mode) & (scores["sessions"] == 0)]
        fitted = scores[(scores["mode"] == mode) & (scores["sessions"] == most)]
        test = paired_wilcoxon(none, fitted, [metric], min_users=2)[metric]
        tests[metric] = {
            "sessions": most,
            "n_users": test["n_users"],
            "mean_k0": test["mean_backbone"],
            f"mean_k{most}": test["mean_fixate"],
            "mean_delta": test["mean_delta"],
            "p_wilcoxon": test["p_wilcoxon"],
        }
    return {
        "settings": settings,
        "users": sorted(scores["user_id"].unique()),
        "seeds": sorted(int(s) for s in scores["seed"].unique()),
        "curve": curve,
        "k_max_vs_k0": tests,
    }


def write_markdown(summary: dict, path: str | Path) -> None:
    """A table of the curve (mean ± s.e.m. over users) and the paired tests."""
    ks = sorted({point["sessions"] for points in summary["curve"].values() for point in points})
    lines = [
        f"Enrollment of {len(summary['users'])} held-out users "
        f"({', '.join(summary['users'])}), seeds {summary['seeds']}: mean ± s.e.m. over users.",
        "",
        "| metric | " + " | ".join(f"k = {k}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
    ]
    for metric, points in summary["curve"].items():
        by_k = {p["sessions"]: p for p in points}
        cells = [_cell(by_k.get(k)) for k in ks]
        lines.append(f"| {_label(metric)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| metric | k | mean k = 0 | mean k | Δ | users | Wilcoxon p |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric, test in summary["k_max_vs_k0"].items():
        k = test["sessions"]
        p = "n/a" if test["p_wilcoxon"] is None else f"{test['p_wilcoxon']:.3g}"
        lines.append(
            f"| {_label(metric)} | {k} | {test['mean_k0']:.4f} | "
            f"{test[f'mean_k{k}']:.4f} | {test['mean_delta']:+.4f} | {test['n_users']} | {p} |"
        )
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _label(metric: str) -> str:
    """The metric's label, its bars escaped for a Markdown table cell."""
    return CURVE_METRICS[metric][1].replace("|", "\\|")


def _cell(point: dict | None) -> str:
    if point is None:
        return ""
    sem = "" if point["sem"] is None else f" ± {point['sem']:.3f}"
    return f"{point['mean']:.3f}{sem}"


def plot_curve(summary: dict, path: str | Path) -> None:
    """One panel per metric: mean over users against k, with s.e.m. error bars."""
    metrics = list(summary["curve"])
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        points = summary["curve"][metric]
        ks = [p["sessions"] for p in points]
        means = [p["mean"] for p in points]
        sems = [p["sem"] or 0.0 for p in points]
        ax.errorbar(ks, means, yerr=sems, marker="o", capsize=3)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("sessions enrolled on (k)")
        label, lower = CURVE_METRICS[metric][1], CURVE_METRICS[metric][2]
        ax.set_title(f"{label}\n({'lower' if lower else 'higher'} is better)", fontsize=9)
    fig.suptitle(f"Enrolling {len(summary['users'])} held-out users", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def write_curve(
    score_files: Sequence[str | Path], settings: dict, json_out: str, md_out: str, png_out: str
) -> dict:
    """The curve's JSON summary, Markdown table and figure (rule enroll_curve)."""
    summary = curve_summary(score_files, settings)
    write_json(summary, json_out)
    write_markdown(summary, md_out)
    plot_curve(summary, png_out)
    return summary
