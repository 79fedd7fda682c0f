"""Statistics over seeds and users: what a results table reports next to each mean.

The reference computed a multi-seed average and threw it away; here every aggregate is returned
as data so that the workflow writes it to disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

MIN_PAIRED_USERS = 10
# Per-user differences below this are float32 rounding: one prompt for everyone scored in batches
# of other compositions differs from itself by about 1e-8 in KL (the shared-prompt control).
ROUNDING = 1e-6


def seed_summary(per_seed: Sequence[dict[str, float]]) -> dict[str, dict[str, float | int | None]]:
    """Mean, sample standard deviation (None for a single seed) and n of every numeric key."""
    keys = sorted({k for run in per_seed for k, v in run.items() if isinstance(v, int | float)})
    out: dict[str, dict[str, float | int | None]] = {}
    for key in keys:
        values = np.array([run[key] for run in per_seed if key in run], dtype=float)
        values = values[np.isfinite(values)]
        out[key] = {
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std(ddof=1)) if len(values) > 1 else None,
            "n": len(values),
        }
    return out


def paired_wilcoxon(
    backbone: pd.DataFrame,
    fixate: pd.DataFrame,
    metrics: Sequence[str],
    min_users: int = MIN_PAIRED_USERS,
) -> dict[str, dict[str, float | int | None]]:
    """Per-user paired two-sided Wilcoxon signed-rank test of FixATE against the backbone.

    Each user contributes the mean of a metric over their test samples in each condition; users
    present in both tables are paired. With fewer than ``min_users`` pairs the p-value is None;
    when every difference is zero it is 1.
    """
    out: dict[str, dict[str, float | int | None]] = {}
    for metric in metrics:
        if metric not in backbone or metric not in fixate:
            continue  # e.g. truth metrics on real data
        a = backbone.groupby("user_id")[metric].mean()
        b = fixate.groupby("user_id")[metric].mean()
        users = a.index.intersection(b.index)
        a, b = a.loc[users].to_numpy(), b.loc[users].to_numpy()
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        p_value: float | None
        if len(a) < min_users:
            p_value = None
        elif np.allclose(a, b):
            p_value = 1.0
        else:
            p_value = float(wilcoxon(b, a).pvalue)
        out[metric] = {
            "n_users": len(a),
            "mean_backbone": float(a.mean()) if len(a) else None,
            "mean_fixate": float(b.mean()) if len(b) else None,
            "mean_delta": float((b - a).mean()) if len(a) else None,
            "p_wilcoxon": p_value,
        }
    return out


def wilcoxon_tests(
    by_mode: Mapping[str, pd.DataFrame], metrics: Sequence[str], fg_extra: Sequence[str] = ()
) -> dict[str, dict]:
    """FixATE against the backbone in the same mode, and against the per-user prior.

    ``by_mode`` maps a mode ("backbone_tf", "fixate_fg", "user_prior", ...) to its per-sample
    metrics; keys of the result: "tf", "fg", "tf_vs_user_prior", "fg_vs_user_prior".
    """
    tests: dict[str, dict] = {}
    for kind in ("tf", "fg"):
        fixate = by_mode.get(f"fixate_{kind}")
        if fixate is None:
            continue
        extra = list(fg_extra) if kind == "fg" else []
        tests[kind] = paired_wilcoxon(by_mode[f"backbone_{kind}"], fixate, [*metrics, *extra])
        if "user_prior" in by_mode:
            tests[f"{kind}_vs_user_prior"] = paired_wilcoxon(by_mode["user_prior"], fixate, metrics)
    return tests


def identity_test(
    own: pd.DataFrame,
    swapped: pd.DataFrame,
    metric: str = "truth_kl",
    min_users: int = MIN_PAIRED_USERS,
) -> dict[str, float | int | str | None]:
    """Do a user's own mixing weights fit that user better than other users' weights?

    For every user v: the mean ``metric`` of v's screens under other users' soft prompts minus
    under v's own (positive: the weights carry who the user is); a one-sided Wilcoxon signed-rank
    test over users that the difference is greater than zero. The p-value is None with fewer
    than ``min_users`` users and 1 when every difference is zero up to ``ROUNDING`` (one prompt
    for all users)."""
    a = own.groupby("user_id")[metric].mean()
    b = swapped.groupby("user_id")[metric].mean()
    users = a.index.intersection(b.index)
    delta = (b.loc[users] - a.loc[users]).to_numpy()
    delta = delta[np.isfinite(delta)]
    p_value: float | None
    if len(delta) < min_users:
        p_value = None
    elif np.allclose(delta, 0, atol=ROUNDING):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(delta, alternative="greater").pvalue)
    return {
        "metric": metric,
        "n_users": len(delta),
        "n_swapped_samples": len(swapped),
        "mean_delta": float(delta.mean()) if len(delta) else None,
        "p_wilcoxon_greater": p_value,
    }
