"""The one error type for unusable raw input."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class RawDataError(ValueError):
    """A raw file that cannot be read as the dataset defines it.

    The message always names the file, and where known the 1-based line (the header is line 1)
    and the column, so that a user can open the file at the right place.
    """

    def __init__(self, path: str | Path, line: int | None, column: str | None, problem: str):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.column = column


def no_samples(path: str | Path, what: str, total: int, dropped: Mapping[str, int]) -> RawDataError:
    """The error of a run in which no ``what`` (a session, a trial) gave a sample.

    Such a run is stopped rather than finished with an empty output that only the report
    explains; the message carries the drop reasons, since the report is not written.
    """
    reasons = ", ".join(f"{reason} {n}" for reason, n in dropped.items() if n) or "none found"
    problem = f"no {what} gave a sample (all {total} dropped: {reasons})"
    return RawDataError(path, None, None, problem)
