"""Results tables: one row per method, one column per metric, mean +- std over seeds.

Rows: the three baselines without a language model, then for each operator and backbone the bare
backbone and FixATE, teacher-forced and by free generation. A FixATE row carries the per-user
Wilcoxon p-value of its difference to the backbone in the same mode.

On synthetic data the samples carry the planted truth: then the table also has KL to the truth
(``truth_kl``), the share of the gap closed (``truth_r``), the planted truth itself as a row (its
``kl`` is the noise ceiling), FixATE's p-value against the per-user prior on ``truth_kl``, and the
identity test (other users' weights minus own, on ``truth_kl``). Columns no row fills are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fixate.data.tables import atomic_path

TABLE_METRICS = (
    "kl",
    "js",
    "cosine",
    "csh@1",
    "csh@3",
    "tgo@1",
    "tgo@3",
    "log_loss",
    "auc",
    "answer_accuracy",
    "truth_kl",
    "truth_r",
)
TESTED_METRICS = ("js", "cosine", "csh@1", "tgo@3", "answer_accuracy", "truth_kl")
BASELINE_NAMES = {
    "uniform": "Uniform",
    "position_prior": "Position prior",
    "user_prior": "Per-user prior",
    "planted_truth": "Planted truth",
}
MODE_NAMES = {
    "backbone_tf": "Backbone TF",
    "backbone_fg": "Backbone FG",
    "fixate_tf": "FixATE TF",
    "fixate_fg": "FixATE FG",
}


def _cell(summary: dict | None) -> str:
    if not summary or summary.get("mean") is None:
        return ""
    text = f"{summary['mean']:.3f}"
    if summary.get("std") is not None:
        text += f" ± {summary['std']:.3f}"
    return text


def _row(
    method: str,
    operator: str,
    backbone: str,
    variant: str,
    stats: dict,
    tests: dict | None,
    prior_tests: dict | None = None,
) -> dict:
    row = {"method": method, "operator": operator, "backbone": backbone, "variant": variant}
    p_prior = (prior_tests or {}).get("truth_kl", {}).get("p_wilcoxon")
    if p_prior is not None:
        row["p_user_prior(truth_kl)"] = f"{p_prior:.3g}"
    for metric in TABLE_METRICS:
        row[metric] = _cell(stats.get(f"micro_{metric}"))
        if (
            metric in TESTED_METRICS
            and tests
            and tests.get(metric, {}).get("p_wilcoxon") is not None
        ):
            row[f"p({metric})"] = f"{tests[metric]['p_wilcoxon']:.3g}"
    return row


def results_table(
    aggregates: Sequence[dict], variants: Sequence[str] | None = None
) -> pd.DataFrame:
    """The table of one dataset from its ``results/<dataset>_<operator>.json`` files."""
    rows = []
    baselines_done = set()
    for agg in aggregates:
        for backbone, by_variant in agg["results"].items():
            for variant, res in by_variant.items():
                if variants is not None and variant not in variants:
                    continue
                if variant not in baselines_done:
                    for key, name in BASELINE_NAMES.items():
                        if key in res["baselines"]:
                            rows.append(_row(name, "", "", variant, res["baselines"][key], None))
                    baselines_done.add(variant)
                for mode, name in MODE_NAMES.items():
                    if mode in res["modes"]:
                        rows.append(_mode_row(res, mode, name, agg["operator"], backbone, variant))
    frame = pd.DataFrame(rows).fillna("")
    frame = frame.loc[:, (frame != "").any(axis=0) | frame.columns.isin(["operator", "backbone"])]
    p_cols = sorted(c for c in frame.columns if c.startswith(("p(", "p_")))
    return frame[[c for c in frame.columns if not c.startswith(("p(", "p_"))] + p_cols]


def _mode_row(res: dict, mode: str, name: str, operator: str, backbone: str, variant: str) -> dict:
    """A backbone or FixATE row; FixATE carries its tests and, in TF, the identity test."""
    fixate = mode.startswith("fixate")
    kind = mode[-2:]
    tests = res["wilcoxon"].get(kind) if fixate else None
    prior_tests = res["wilcoxon"].get(f"{kind}_vs_user_prior") if fixate else None
    row = _row(name, operator, backbone, variant, res["modes"][mode], tests, prior_tests)
    identity = res.get("identity")
    if mode == "fixate_tf" and identity and identity.get("mean_delta") is not None:
        p_value = identity.get("p_wilcoxon_greater")
        row["identity Δtruth_kl"] = f"{identity['mean_delta']:.4f}" + (
            f" (p={p_value:.3g})" if p_value is not None else ""
        )
    return row


def write_table(frame: pd.DataFrame, csv_path: str | Path, md_path: str | Path, title: str) -> None:
    """Write the table as CSV and as a Markdown page."""
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    lines = [
        f"# {title}",
        "",
        "Mean ± std over seeds (micro averages over test samples); "
        "p: per-user paired Wilcoxon against the backbone in the same mode.",
        "",
        header,
        rule,
    ]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def build_table(
    aggregate_files: Sequence[str | Path],
    variants: Sequence[str],
    csv_path: str | Path,
    md_path: str | Path,
    title: str,
    fixate_only: bool = False,
) -> pd.DataFrame:
    """One results table from aggregate files; ``fixate_only`` keeps the FixATE rows (ablations)."""
    aggregates = [json.loads(Path(f).read_text()) for f in aggregate_files]
    table = results_table(aggregates, variants)
    if fixate_only:
        table = table[table["method"].isin(["FixATE TF", "FixATE FG"])]
    write_table(table, csv_path, md_path, title)
    return table
