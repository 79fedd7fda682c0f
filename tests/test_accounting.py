"""The split and the report are written only when the report accounts for every raw unit."""

from __future__ import annotations

import json

import pytest

from fixate.data.accounting import write_split_and_report


def report(raw: int = 5, kept: int = 3, dropped: dict | None = None, per_user=None) -> dict:
    dropped = {"no_click": 2, "unknown_user": 0} if dropped is None else dropped
    return {
        "trials": {"raw": raw, "kept": kept, "dropped": raw - kept},
        "dropped_by_reason": dropped,
        "kept_by_split": {"train": 2, "val": 1, "test": 0},
        "per_user": per_user or {"u2": {"train": 1, "val": 1}, "u1": {"train": 1}},
    }


def test_a_reconciled_report_is_written_with_its_split(tmp_path, caplog):
    caplog.set_level("INFO")
    split_out, report_out = tmp_path / "split.json", tmp_path / "report.json"
    write_split_and_report({"train": ["q1"]}, report(), "trials", split_out, report_out)
    assert json.loads(split_out.read_text()) == {
        "train": ["q1"],
        "counts": {"train": 2, "val": 1, "test": 0},
        "users": ["u1", "u2"],
    }
    assert json.loads(report_out.read_text()) == report()
    assert "kept 3 of 5 trials; dropped {'no_click': 2}" in caplog.text


@pytest.mark.parametrize(
    ("unreconciled", "message"),
    [
        (report(dropped={"no_click": 1}), r"trials accounting does not reconcile"),
        (report(per_user={"u1": {"train": 2}}), r"3 kept, 3 in the splits, 2 over the users"),
        (report(raw=4, kept=2, dropped={"no_click": 2}), r"2 kept, 3 in the splits"),
    ],
)
def test_a_unit_lost_on_the_way_writes_nothing(tmp_path, unreconciled, message):
    split_out, report_out = tmp_path / "split.json", tmp_path / "report.json"
    with pytest.raises(AssertionError, match=message):
        write_split_and_report({}, unreconciled, "trials", split_out, report_out)
    assert not split_out.exists() and not report_out.exists()
