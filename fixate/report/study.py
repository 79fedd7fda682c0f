"""The known-truth study: how much of each synthetic user's planted gaze the simulators recover.

Synthetic users have a known expected gaze on every screen (``truth_ms``), so recovery can be
measured the way parameter-recovery studies validate a fitting method. The study trains every
operator over several seeds on both datasets, plus the ``shared_prompt`` control (one prompt for
everyone) for the main operator, and reports:

* ``truth_r``, the share of the position prior's gap to the truth a method closes (mean ± std over
  seeds), for every operator, mode and baseline;
* per-user paired Wilcoxon tests on KL(truth || model), FixATE TF against the backbone and against
  the per-user prior (seeds pooled into per-user means);
* the identity test (other users' weights against the user's own), for FixATE and the control;
* the checks the method must pass, each with the measurement that decides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fixate.aggregate import read_runs, summarise
from fixate.data.tables import atomic_path, write_json
from fixate.report.plots import METHODS

ALPHA = 0.01


def _stat(summary: dict, section: str, key: str, metric: str) -> dict:
    return summary[section].get(key, {}).get(f"micro_{metric}", {})


def _checks(dataset: str, main: dict, control: dict | None) -> dict[str, dict]:
    """The issue's pass/fail checks of one dataset, each with its measurement."""
    tf = main["wilcoxon"].get("tf", {}).get("truth_kl", {})
    prior = main["wilcoxon"].get("tf_vs_user_prior", {}).get("truth_kl", {})
    identity = main.get("identity", {})

    def below(test: dict, key: str) -> bool:
        return test.get(key) is not None and test[key] < ALPHA and (test.get("mean_delta") or 0) < 0

    checks = {
        "fixate_tf_beats_backbone_on_truth_kl": {
            "passed": below(tf, "p_wilcoxon"),
            "mean_delta": tf.get("mean_delta"),
            "p": tf.get("p_wilcoxon"),
        },
        "fixate_tf_beats_user_prior_on_truth_kl": {
            "passed": below(prior, "p_wilcoxon"),
            "mean_delta": prior.get("mean_delta"),
            "p": prior.get("p_wilcoxon"),
        },
        "identity_positive": {
            "passed": (identity.get("p_wilcoxon_greater") or 1.0) < ALPHA,
            "mean_delta": identity.get("mean_delta"),
            "p": identity.get("p_wilcoxon_greater"),
        },
    }
    if control is not None:
        checks["identity_of_shared_prompt"] = {
            "mean_delta": control.get("identity", {}).get("mean_delta"),
            "p": control.get("identity", {}).get("p_wilcoxon_greater"),
        }
    return {f"{dataset}: {k}": v for k, v in checks.items()}


def study_summary(metric_files: Sequence[str | Path], study: dict) -> dict:
    """Every run of the study summarised; the table rows; the checks."""
    groups = read_runs(list(metric_files))
    summaries = {key: summarise(runs) for key, runs in groups.items()}
    control = f"fixation-{study['control']}"
    rows, checks, curves = [], {}, {}
    for (dataset, backbone, operator, variant), summary in summaries.items():
        methods = METHODS
        if variant == control:  # only its FixATE rows: the rest repeats the main variant's
            methods = [
                (s, k, f"{n}, {study['control']}") for s, k, n in METHODS if k.startswith("fixate")
            ]
        elif variant != "fixation":
            continue
        for section, key, name in methods:
            r = _stat(summary, section, key, "truth_r")
            kl = _stat(summary, section, key, "truth_kl")
            rows.append(
                {
                    "dataset": dataset,
                    "operator": operator if section == "modes" else "",
                    "method": name,
                    "truth_r": r.get("mean"),
                    "truth_r_std": r.get("std"),
                    "truth_kl": kl.get("mean"),
                    "seeds": r.get("n"),
                }
            )
        if operator == study["main_operator"] and variant == "fixation":
            checks.update(
                _checks(dataset, summary, summaries.get((dataset, backbone, operator, control)))
            )
            curves[dataset] = [
                str(d / "train_log.csv") for _, d in groups[(dataset, backbone, operator, variant)]
            ]
    table = pd.DataFrame(rows).drop_duplicates(["dataset", "operator", "method"])
    return {
        "study": study,
        "runs": {"/".join(k): v for k, v in summaries.items()},
        "table": table.to_dict("records"),
        "checks": checks,
        "curves": curves,
    }


def write_markdown(summary: dict, path: str | Path) -> None:
    """The study's table (R per method and operator) and its checks, as a Markdown page."""
    table = pd.DataFrame(summary["table"])
    lines = [
        "# Known-truth study",
        "",
        "R = 1 - KL(truth || method) / KL(truth || position prior): share of the position prior's "
        "gap to the planted truth that a method closes (mean ± std over seeds, micro average "
        "over test samples).",
        "",
    ]
    for dataset, part in table.groupby("dataset", sort=True):
        lines += [
            f"## {dataset}",
            "",
            "| method | operator | R | KL(truth || method) |",
            "|---|---|---|---|",
        ]
        for row in part.itertuples(index=False):
            r = "" if row.truth_r is None or pd.isna(row.truth_r) else f"{row.truth_r:.3f}"
            if r and row.truth_r_std is not None and not pd.isna(row.truth_r_std):
                r += f" ± {row.truth_r_std:.3f}"
            kl = "" if row.truth_kl is None or pd.isna(row.truth_kl) else f"{row.truth_kl:.3f}"
            lines.append(f"| {row.method} | {row.operator} | {r} | {kl} |")
        lines.append("")
    lines += [
        "## Checks (per-user Wilcoxon, alpha = 0.01)",
        "",
        "| check | passed | mean Δ | p |",
        "|---|---|---|---|",
    ]
    for name, check in summary["checks"].items():
        delta = check.get("mean_delta")
        p = check.get("p")
        lines.append(
            f"| {name} | {check.get('passed', '')} | "
            f"{'' if delta is None else f'{delta:.4f}'} | {'' if p is None else f'{p:.3g}'} |"
        )
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def plot_study(summary: dict, path: str | Path) -> None:
    """Per dataset: R of every method (bars, seed std), and the validation KL to the truth of the
    main operator's runs over training (the curve that shows convergence)."""
    table = pd.DataFrame(summary["table"])
    datasets = sorted(table["dataset"].unique())
    fig, axes = plt.subplots(
        2, len(datasets), figsize=(7 * len(datasets), 10), squeeze=False, layout="constrained"
    )
    for col, dataset in enumerate(datasets):
        part = table[table["dataset"] == dataset].reset_index(drop=True)
        labels = [
            f"{m}\n{o}" if o else m for m, o in zip(part["method"], part["operator"], strict=True)
        ]
        means = part["truth_r"].astype(float).fillna(0.0).to_numpy()
        stds = part["truth_r_std"].astype(float).fillna(0.0).to_numpy()
        ax = axes[0][col]
        ax.bar(
            np.arange(len(part)),
            means,
            yerr=stds,
            capsize=3,
            color=plt.cm.tab10(np.arange(len(part)) % 10),
        )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(part)), labels, rotation=70, ha="right", fontsize=6)
        ax.set_title(f"{dataset}: share of the gap to the truth closed (R)")
        ax = axes[1][col]
        for file in summary["curves"].get(dataset, []):
            log = pd.read_csv(file)
            if "val_truth_kl" in log and log["val_truth_kl"].notna().any():
                points = log[log["val_truth_kl"].notna()]
                ax.plot(
                    points["step"], points["val_truth_kl"], marker="o", label=Path(file).parent.name
                )
        ax.set_title(
            f"{dataset}: validation KL(truth || FixATE TF), {summary['study']['main_operator']}"
        )
        ax.set_xlabel("optimiser step")
        ax.legend(fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def run_study(
    metric_files: Sequence[str | Path],
    study: dict,
    json_out: str | Path,
    md_out: str | Path,
    png_out: str | Path,
) -> dict:
    """Summarise the study's runs into its JSON, Markdown table and figure."""
    summary = study_summary(metric_files, study)
    write_json(summary, json_out)
    write_markdown(summary, md_out)
    plot_study(summary, png_out)
    return summary
