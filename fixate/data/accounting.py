"""The last step of every dataset's preprocessing: the split and the report, written only once
the report accounts for every raw unit (a RecGaze session, an AdSERP trial).

One definition for both datasets, so that the check that nothing is silently lost, the split
document's shape and the log line cannot drift apart between them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fixate.data.tables import write_json

log = logging.getLogger(__name__)


def write_split_and_report(
    split: dict[str, Any],
    report: dict[str, Any],
    units: str,
    split_out: str | Path,
    report_out: str | Path,
) -> None:
    """Write ``split`` (the dataset's split, as its ``as_dict``) with the kept counts per split
    and the users with samples to ``split_out``, and ``report`` to ``report_out``; log what was
    kept and dropped.

    ``units`` names the report's count section (``{"raw", "kept", "dropped"}``, e.g.
    "sessions"). Nothing is written unless every raw unit is kept or dropped for a reason, and
    every kept one is counted in a split and under its user.
    """
    counts = report[units]
    dropped = report["dropped_by_reason"]
    in_splits = sum(report["kept_by_split"].values())
    per_user = sum(sum(by_split.values()) for by_split in report["per_user"].values())
    if counts["kept"] + sum(dropped.values()) != counts["raw"]:
        raise AssertionError(
            f"{units} accounting does not reconcile: {counts}, dropped by reason {dropped}"
        )
    if in_splits != counts["kept"] or per_user != counts["kept"]:
        raise AssertionError(
            f"kept {units} accounting does not reconcile: {counts['kept']} kept, {in_splits} "
            f"in the splits, {per_user} over the users"
        )
    split_doc = {**split, "counts": report["kept_by_split"], "users": sorted(report["per_user"])}
    write_json(split_doc, split_out)
    write_json(report, report_out)
    log.info(
        "kept %d of %d %s; dropped %s",
        counts["kept"],
        counts["raw"],
        units,
        {k: v for k, v in dropped.items() if v},
    )
