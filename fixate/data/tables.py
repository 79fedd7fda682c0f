"""Checked CSV reading and atomic table writing, shared by every dataset.

CSV files are parsed with pyarrow (single-threaded, so that a malformed row is reported with its
line number), every column as text first; then each declared column is converted and checked in
one vectorised pass. The first bad cell raises :class:`RawDataError` with file, line and column.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
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
from fixate.tempfiles import temp_file

NA_LITERALS = frozenset({"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "<NA>"})
Kind = Literal["key", "str", "text", "int", "float"]


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


def _read_text(path: Path, names: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Parse the CSV as text; return the wanted columns (those present) and the full header."""
    if not path.exists():
        raise RawDataError(path, None, None, "file not found")
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig").rstrip("\r\n")
    if not first:
        raise RawDataError(path, 1, None, "the file is empty (no header line)")
    header = next(csv.reader([first]))
    wanted = [n for n in names if n in header]
    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, encoding="utf8"),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={n: pa.string() for n in wanted},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        raise RawDataError(path, None, None, f"not a readable CSV file ({err})") from err
    if bad_rows:
        number, expected, actual = bad_rows[0]
        raise RawDataError(
            path,
            number,
            None,
            f"expected {expected} fields, found {actual} (a truncated or malformed row; "
            f"{len(bad_rows)} such row(s) in the file)",
        )
    frame = table.to_pandas()
    frame["line"] = np.arange(2, len(frame) + 2, dtype=np.int64)
    return frame, header


def read_csv_table(path: str | Path, schema: Sequence[Column]) -> pd.DataFrame:
    """Read ``path`` and return the schema's columns, converted and checked, plus ``line``.

    Numbers become float64 / nullable Int64, text columns keep ``""`` for empty cells except
    ``str`` columns, whose empty cells become missing (``None``).
    """
    path = Path(path)
    frame, header = _read_text(path, [c.name for c in schema])
    missing = [c.name for c in schema if c.required and c.name not in header]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, header, n=1, cutoff=0.75)
            hints.append(f"{name!r}" + (f" (found {close[0]!r}: renamed?)" if close else ""))
        raise RawDataError(path, 1, None, "missing column(s) " + ", ".join(hints))
    out = {"line": frame["line"].to_numpy()}
    for col in schema:
        if col.name not in frame:
            out[col.name] = pd.Series([pd.NA] * len(frame), dtype=_dtype(col.kind))
            continue
        text = frame[col.name]
        if col.keep_text:
            out[col.name + "_text"] = text.to_numpy()
        if col.kind == "text":
            out[col.name] = text.to_numpy()
            continue
        _na_check(path, frame, col.name)
        empty = (text == "").to_numpy()
        if (col.kind == "key" or col.nonempty) and empty.any():
            _fail(path, frame, empty, col.name, "empty, but every row needs a value")
        if col.kind == "key":
            out[col.name] = text.to_numpy()
        elif col.kind == "str":
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
            out[col.name] = text.where(~empty, None).to_numpy()
        else:
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
                out[col.name] = ints
            else:
                out[col.name] = values
    return pd.DataFrame(out)


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
