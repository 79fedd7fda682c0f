"""One result file per (dataset, operator): every run of it summarised over seeds.

Per backbone and variant: mean, standard deviation and n over seeds of each mode's and each
baseline's aggregate metrics; FixATE's margin over the per-user prior; and per-user paired Wilcoxon
tests of FixATE against the backbone, on per-user means pooled over the seeds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd

from fixate.data.tables import write_json
from fixate.metrics import METRICS, MODES
from fixate.stats import identity_test, seed_summary, wilcoxon_tests


def _margin(run: dict, baseline: str = "user_prior") -> dict[str, float]:
    fixate = run["modes"].get("fixate_tf", {})
    prior = run["baselines"].get(baseline, {})
    return {k: fixate[k] - prior[k] for k in fixate if k.startswith("micro_") and k in prior}


RunKey = tuple[str, str, str, str]  # dataset, backbone, operator, variant


def read_runs(metric_files: list[str | Path]) -> dict[RunKey, list[tuple[dict, Path]]]:
    """The runs of ``metrics.json`` files grouped by (dataset, backbone, operator, variant), each
    with its folder (where ``per_sample.parquet`` and ``train_log.csv`` lie)."""
    groups: dict[RunKey, list[tuple[dict, Path]]] = defaultdict(list)
    for file in map(Path, metric_files):
        run = json.loads(file.read_text())
        variant = file.parent.parent.name
        operator = file.parent.parent.parent.name
        groups[(run["dataset"], run["backbone"], operator, variant)].append((run, file.parent))
    return {
        key: sorted(runs, key=lambda run: run[0]["seed"]) for key, runs in sorted(groups.items())
    }


def summarise(runs: list[tuple[dict, Path]]) -> dict:
    """Seed statistics and per-user tests of the runs of one (dataset, backbone, operator,
    variant): per-user means pool the seeds' test samples."""
    per_sample = pd.concat(
        [pd.read_parquet(d / "per_sample.parquet") for _, d in runs], ignore_index=True
    )
    by_mode = dict(tuple(per_sample.groupby("mode")))
    summary = {
        "seeds": sorted(r["seed"] for r, _ in runs),
        "n_samples": runs[0][0]["n_samples"],
        "modes": {
            m: seed_summary([r["modes"][m] for r, _ in runs])
            for m in MODES
            if all(m in r["modes"] for r, _ in runs)
        },
        "baselines": {
            b: seed_summary([r["baselines"][b] for r, _ in runs]) for b in runs[0][0]["baselines"]
        },
        "margin_over_user_prior": seed_summary([_margin(r) for r, _ in runs]),
        "wilcoxon": wilcoxon_tests(by_mode, METRICS, ["answer_accuracy"]),
        "config": runs[0][0]["config"],
    }
    if "swap_tf" in by_mode:  # synthetic users: the identity test on all seeds' screens
        summary["identity"] = identity_test(by_mode["fixate_tf"], by_mode["swap_tf"])
    return summary


def aggregate_runs(metric_files: list[str | Path], out: str | Path, experiment: dict) -> dict:
    """Summarise the runs of one (dataset, operator) whose ``metrics.json`` files are given."""
    results: dict[str, dict] = defaultdict(dict)
    groups = read_runs(metric_files)
    for (_, backbone, _, variant), runs in groups.items():
        results[backbone][variant] = summarise(runs)
    dataset, _, operator, _ = next(iter(groups), (None, None, None, None))
    summary = {
        "dataset": dataset,
        "operator": operator,
        "experiment": experiment,
        "results": dict(results),
    }
    write_json(summary, out)
    return summary
