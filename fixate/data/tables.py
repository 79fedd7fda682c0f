"""Checked CSV reading and atomic table writing, shared by every dataset.

CSV files are parsed with pyarrow (single-threaded, so that a malformed row is reported with its
line number), every column as text first; then each declared column is converted and checked in
one vectorised pass. The first bad cell raises :class:`RawDataError` with file, line and column.

Raw tables (:func:`read_raw_table`) are also checked as tables, by the reader's
:class:`RowRules`: a file with only a header is an error; rows repeating an earlier row in every
column are removed and counted, or fall to the key check; a repeated key is an error naming both
lines; rows that go back in time are sorted and counted, or refused; columns the dataset does not
document are listed. What was removed, reordered or set aside comes back as :class:`TableNotes`
for the preprocessing report, so that no input changes a result without a word.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fixate.data.errors import RawDataError
from fixate.data.files import read_bytes, regular_file, utf8_error
from fixate.tempfiles import temp_file

NA_LITERALS = frozenset({"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "<NA>"})
Kind = Literal["key", "str", "text", "int", "float"]
MAX_LINES_LISTED = 20  # repeated lines named per file in the report (the count is always full)


@dataclass(frozen=True)
class Column:
    """How one CSV column must look.

    kind: ``key`` (non-empty text in every row), ``str`` (text, empty = missing),
    ``text`` (free text, taken as is), ``int`` / ``float`` (numbers, empty = missing).
    ``required`` columns must be in the header; optional ones read as all-missing when absent.
    ``keep_text`` also keeps the cell text as ``<name>_text`` (time stamps are joined as text).
    ``nonempty`` numbers must be present in every row (keys such as a task id).
    """

    name: str
    kind: Kind
    required: bool = True
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    keep_text: bool = False
    nonempty: bool = False


@dataclass(frozen=True)
class RowRules:
    """What the rows of one raw table must satisfy beyond their cells, and what is done when they
    do not; each reader's docstring says why its table gets its rules.

    ``drop_duplicates``: a row repeating an earlier row in every column (not only those read) is
    removed and counted: in an event log it is the same event exported twice, and counting it
    twice would double its dwell. Without it, repeated rows fall to the ``keys`` check.
    ``keys``: column tuples that each identify a row; a repeated key (empty cells compare equal)
    is an error naming both lines.
    ``time`` and ``within``: rows must not go back in ``time`` within each ``within`` group, in
    file order. ``order="sort"`` puts such rows in time order (stable) and counts them;
    ``order="refuse"`` makes them an error, for a file whose row order itself carries meaning.
    ``known`` and ``known_pattern``: the columns the dataset documents for the file beyond those
    read (names, and a regular expression for families such as ``TaskID_<n>_Why_Selected``);
    any other column is listed in the notes as extra.
    """

    drop_duplicates: bool = False
    keys: tuple[tuple[str, ...], ...] = ()
    time: str | None = None
    within: tuple[str, ...] = ()
    order: Literal["sort", "refuse"] = "sort"
    known: tuple[str, ...] = ()
    known_pattern: str | None = None


@dataclass(frozen=True)
class TableNotes:
    """What reading one raw table removed, reordered or set aside (for the report).

    ``rows`` counts the data rows in the file, so ``rows - duplicate_rows_dropped`` rows were
    used; ``duplicate_lines`` names the first ``MAX_LINES_LISTED`` removed lines.
    """

    rows: int
    duplicate_rows_dropped: int = 0
    duplicate_lines: tuple[int, ...] = ()
    rows_out_of_order: int = 0
    extra_columns: tuple[str, ...] = ()

    def changes(self) -> str:
        """One line on what was changed or set aside ("" when nothing was), for the logs."""
        parts = []
        if self.duplicate_rows_dropped:
            lines = ", ".join(map(str, self.duplicate_lines))
            more = ", ..." if self.duplicate_rows_dropped > len(self.duplicate_lines) else ""
            parts.append(
                f"{self.duplicate_rows_dropped} repeated row(s) removed (lines {lines}{more})"
            )
        if self.rows_out_of_order:
            parts.append(f"{self.rows_out_of_order} row(s) out of time order sorted")
        if self.extra_columns:
            parts.append("undocumented column(s) not read: " + ", ".join(self.extra_columns))
        return "; ".join(parts)

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> TableNotes:
        """Notes read back from :meth:`as_dict` output (a parquet table returns arrays)."""
        return cls(
            rows=int(entry["rows"]),
            duplicate_rows_dropped=int(entry["duplicate_rows_dropped"]),
            duplicate_lines=tuple(int(n) for n in entry["duplicate_lines"]),
            rows_out_of_order=int(entry["rows_out_of_order"]),
            extra_columns=tuple(str(c) for c in entry["extra_columns"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON- and Arrow-ready (lists, plain ints)."""
        return {
            "rows": self.rows,
            "duplicate_rows_dropped": self.duplicate_rows_dropped,
            "duplicate_lines": list(self.duplicate_lines),
            "rows_out_of_order": self.rows_out_of_order,
            "extra_columns": list(self.extra_columns),
        }


NOTES_TYPE = pa.struct(
    [
        pa.field("rows", pa.int64()),
        pa.field("duplicate_rows_dropped", pa.int64()),
        pa.field("duplicate_lines", pa.list_(pa.int64())),
        pa.field("rows_out_of_order", pa.int64()),
        pa.field("extra_columns", pa.list_(pa.string())),
    ]
)


def _fail(path: Path, frame: pd.DataFrame, mask: np.ndarray, column: str, problem: str) -> None:
    first = int(np.flatnonzero(mask)[0])
    value = frame[column].iloc[first]
    raise RawDataError(path, int(frame["line"].iloc[first]), column, problem.format(value=value))


def _na_check(path: Path, frame: pd.DataFrame, name: str) -> None:
    mask = frame[name].isin(NA_LITERALS).to_numpy()
    if mask.any():
        _fail(
            path,
            frame,
            mask,
            name,
            "found {value!r}; missing values must be empty fields, not a placeholder string",
        )


def _header(path: Path) -> list[str]:
    """The column names of the first line, checked readable, UTF-8 and unique."""
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as err:
        raise RawDataError(path, None, None, f"cannot be read ({err.strerror})") from err
    problem = utf8_error(path, first)
    if problem is not None:
        raise problem
    text = first.decode("utf-8-sig").rstrip("\r\n")
    if not text:
        raise RawDataError(path, 1, None, "the file is empty (no header line)")
    header = next(csv.reader([text]))
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise RawDataError(path, 1, repeated[0], "appears more than once in the header")
    return header


def _parse(path: Path, header: list[str], wanted: list[str], every_column: bool) -> pa.Table:
    """The rows as Arrow text: the wanted columns as UTF-8 strings, the others (read only when
    ``every_column``, to compare whole rows) as raw bytes, which are never decoded."""
    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    include = header if every_column else wanted
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, encoding="utf8"),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=include,
                column_types={n: pa.string() if n in wanted else pa.binary() for n in include},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        problem = utf8_error(path, read_bytes(path), header) if "UTF8" in str(err) else None
        raise problem or RawDataError(path, None, None, f"not a readable CSV file ({err})") from err
    if bad_rows:
        number, expected, actual = bad_rows[0]
        raise RawDataError(
            path,
            number,
            None,
            f"expected {expected} fields, found {actual} (a truncated or malformed row; "
            f"{len(bad_rows)} such row(s) in the file)",
        )
    return table


def _repeats(table: pa.Table) -> np.ndarray:
    """Mask of the rows that repeat an earlier row in every column."""
    rows = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = rows.group_by(table.column_names, use_threads=False).aggregate([("__row", "min")])
    repeated = np.ones(table.num_rows, dtype=bool)
    repeated[first["__row_min"].to_numpy()] = False
    return repeated


def _read_text(
    path: Path, names: Sequence[str], every_column: bool = False
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Parse the CSV as text: the wanted columns (those present) with ``line``, the full header,
    and the mask of rows repeating an earlier one (computed only with ``every_column``)."""
    regular_file(path)
    header = _header(path)
    wanted = [n for n in names if n in header]
    table = _parse(path, header, wanted, every_column)
    repeated = _repeats(table) if every_column else np.zeros(table.num_rows, dtype=bool)
    frame = table.select(wanted).to_pandas()
    frame["line"] = np.arange(2, len(frame) + 2, dtype=np.int64)
    return frame, header, repeated


def _require(path: Path, header: list[str], schema: Sequence[Column]) -> None:
    missing = [c.name for c in schema if c.required and c.name not in header]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, header, n=1, cutoff=0.75)
            hints.append(f"{name!r}" + (f" (found {close[0]!r}: renamed?)" if close else ""))
        raise RawDataError(path, 1, None, "missing column(s) " + ", ".join(hints))


def _numbers(path: Path, frame: pd.DataFrame, col: Column, empty: np.ndarray) -> Any:
    text = frame[col.name]
    values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & np.isnan(values)
    if bad.any():
        _fail(path, frame, bad, col.name, "expected a number, found {value!r}")
    if col.kind == "int":
        bad = ~empty & (values != np.round(values))
        if bad.any():
            _fail(path, frame, bad, col.name, "expected a whole number, found {value!r}")
    for bound, outside in (
        (col.lo, values < (col.lo or 0)),
        (col.hi, values > (col.hi or 0)),
    ):
        if bound is not None:
            bad = ~empty & outside
            if bad.any():
                _fail(
                    path,
                    frame,
                    bad,
                    col.name,
                    f"value {{value!r}} outside the allowed range [{col.lo}, {col.hi}]",
                )
    if col.kind == "int":
        ints = pd.array(np.where(empty, 0, values).astype(np.int64), dtype="Int64")
        ints[empty] = pd.NA
        return ints
    return values


def _column(path: Path, frame: pd.DataFrame, col: Column) -> dict[str, Any]:
    """The converted column (and its ``_text`` copy), checked against ``col``."""
    if col.name not in frame:
        return {col.name: pd.Series([pd.NA] * len(frame), dtype=_dtype(col.kind))}
    text = frame[col.name]
    out = {col.name + "_text": text.to_numpy()} if col.keep_text else {}
    if col.kind == "text":
        return {**out, col.name: text.to_numpy()}
    _na_check(path, frame, col.name)
    empty = (text == "").to_numpy()
    if (col.kind == "key" or col.nonempty) and empty.any():
        _fail(path, frame, empty, col.name, "empty, but every row needs a value")
    if col.kind == "key":
        return {**out, col.name: text.to_numpy()}
    if col.kind == "str":
        if col.choices is not None:
            bad = ~empty & ~text.isin(col.choices).to_numpy()
            if bad.any():
                _fail(
                    path,
                    frame,
                    bad,
                    col.name,
                    f"unknown value {{value!r}}; expected one of {list(col.choices)}",
                )
        return {**out, col.name: text.where(~empty, None).to_numpy()}
    return {**out, col.name: _numbers(path, frame, col, empty)}


def _typed(
    path: Path, frame: pd.DataFrame, header: list[str], schema: Sequence[Column]
) -> pd.DataFrame:
    _require(path, header, schema)
    out: dict[str, Any] = {"line": frame["line"].to_numpy()}
    for col in schema:
        out.update(_column(path, frame, col))
    return pd.DataFrame(out)


def read_csv_table(path: str | Path, schema: Sequence[Column]) -> pd.DataFrame:
    """Read ``path`` and return the schema's columns, converted and checked, plus ``line``.

    Numbers become float64 / nullable Int64, text columns keep ``""`` for empty cells except
    ``str`` columns, whose empty cells become missing (``None``).
    """
    path = Path(path)
    frame, header, _ = _read_text(path, [c.name for c in schema])
    return _typed(path, frame, header, schema)


def _check_key(path: Path, table: pd.DataFrame, key: tuple[str, ...]) -> None:
    """A repeated key is an error naming the repeating line and the first one."""
    repeated = table.duplicated(list(key), keep="first").to_numpy()
    if not repeated.any():
        return
    i = int(np.flatnonzero(repeated)[0])
    first = table.groupby(list(key), sort=False, dropna=False)["line"].transform("min")
    cells = (table[name].iloc[i] for name in key)
    values = ", ".join(
        f"{name}={cell.item() if isinstance(cell, np.generic) else cell!r}"
        for name, cell in zip(key, cells, strict=True)
    )
    raise RawDataError(
        path,
        int(table["line"].iloc[i]),
        key[0] if len(key) == 1 else None,
        f"{values} repeats line {int(first.iloc[i])}; each must appear once "
        f"({int(repeated.sum())} repeated row(s) in the file)",
    )


def _time_order(path: Path, table: pd.DataFrame, rules: RowRules) -> tuple[pd.DataFrame, int]:
    """The table in time order within its groups, and the number of rows that were not."""
    if rules.time is None:
        return table, 0
    time = table[rules.time].to_numpy(dtype=float)
    group = (
        table.groupby(list(rules.within), sort=False, dropna=False).ngroup().to_numpy()
        if rules.within
        else np.zeros(len(table), dtype=np.int64)
    )
    latest = pd.Series(time).groupby(group).cummax().groupby(group).shift().to_numpy()
    behind = time < latest
    count = int(behind.sum())
    if not count:
        return table, 0
    if rules.order == "refuse":
        i = int(np.flatnonzero(behind)[0])
        scope = f" of the same {', '.join(rules.within)}" if rules.within else ""
        raise RawDataError(
            path,
            int(table["line"].iloc[i]),
            rules.time,
            f"time goes back to {time[i]:g} after {latest[i]:g} on an earlier line{scope} "
            f"({count} row(s) out of time order); this file's row order carries meaning, so "
            "it is not re-sorted",
        )
    order = np.lexsort((table["line"].to_numpy(), time, group))
    return table.iloc[order].reset_index(drop=True), count


def read_raw_table(
    path: str | Path, schema: Sequence[Column], rules: RowRules
) -> tuple[pd.DataFrame, TableNotes]:
    """:func:`read_csv_table` for a raw file of a dataset, also checked as a table (``rules``).

    Returns the table (repeated rows removed, in time order where ``rules`` sort) and the notes
    of what was removed, reordered or set aside. A file with no data row is an error: every raw
    table the pipeline reads is required, and an empty one would silently drop everything.
    """
    path = Path(path)
    names = [c.name for c in schema]
    frame, header, repeated = _read_text(path, names, every_column=rules.drop_duplicates)
    if frame.empty:
        raise RawDataError(path, None, None, "no data rows: the file holds only its header")
    table = _typed(path, frame, header, schema)
    lines = table["line"].to_numpy()[repeated]
    table = table[~repeated].reset_index(drop=True)
    for key in rules.keys:
        _check_key(path, table, key)
    table, behind = _time_order(path, table, rules)
    pattern = re.compile(rules.known_pattern) if rules.known_pattern else None
    extra = [
        c
        for c in header
        if c not in names and c not in rules.known and not (pattern and pattern.fullmatch(c))
    ]
    notes = TableNotes(
        rows=len(frame),
        duplicate_rows_dropped=len(lines),
        duplicate_lines=tuple(int(n) for n in lines[:MAX_LINES_LISTED]),
        rows_out_of_order=behind,
        extra_columns=tuple(extra),
    )
    return table, notes


def _dtype(kind: Kind) -> str:
    return {"int": "Int64", "float": "float64"}.get(kind, "object")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    A killed job therefore never leaves a half-written file that looks finished, and the
    temporary it leaves is removed when the output is written again (`fixate.tempfiles`).
    """
    tmp = temp_file(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(frame: pd.DataFrame, path: str | Path, schema: pa.Schema | None = None) -> None:
    """Write a table atomically (temp file, then rename)."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _finite(obj: Any) -> Any:
    """NaN and infinities become null, so the file is valid JSON for every reader."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def write_json(obj: Any, path: str | Path) -> None:
    """Write JSON atomically, indented for people to read (NaN written as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_finite(obj), indent=2, allow_nan=False) + "\n")


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV atomically with empty fields for missing values (the datasets' convention)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, na_rep="", lineterminator="\n")
