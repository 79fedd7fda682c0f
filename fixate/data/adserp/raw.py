"""Readers for the raw AdSERP files, with the layout of the released dataset's ``data/`` folder.

One trial (``p007-b3-t8``: participant, block, trial) has one file in each trial folder, named by
its id; ``participants.csv`` holds one row per participant. Every reader checks what the pipeline
relies on and raises :class:`~fixate.data.errors.RawDataError` naming the file and, where it
applies, the line and the column (CSV), the line (XML, JSON syntax) or the JSON path of a bad box
(``native_ad[2].size.height``), so that a user can open the file at the right place.

Coordinates: fixation and box files are in full-page screenshot pixels; the mouse log is in
document CSS pixels (screenshot px = CSS px x 1280/1422, see :mod:`.timeline`).

The CSV readers also check each file as a table (:class:`~fixate.data.tables.RowRules`) and return,
with the table, the :class:`~fixate.data.tables.TableNotes` of what they removed, reordered or set
aside, which go into the preprocessing report. The choice per file:

* Fixation and mouse logs: a row repeating an earlier row in every column is the same event
  logged twice and is removed and counted (a repeated ``click`` would otherwise hide the final
  click's ``mousedown``). Rows out of time order are put in time order (stable) and counted: both
  logs are time series whose row order carries nothing else.
* Two different fixations with the same onset ``timestamp`` are an error naming both lines (one
  eye cannot start two fixations at once); mouse events often share a millisecond and may.
* ``participants.csv`` is a lookup table: a repeated ``participant_id`` (an exact copy of a row
  included) is an error naming both lines.
* Every file must hold at least one data row, and columns the release does not document are
  listed in the report. In the JSON and XML files a repeated key or element is an error.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fixate.data.errors import RawDataError
from fixate.data.files import open_image, read_bytes, read_text, utf8_error
from fixate.data.tables import Column, RowRules, TableNotes, read_raw_table

# role -> (folder, file suffix) of the per-trial files the pipeline reads; pupil-data/ and serps/
# are part of the release but not needed here.
TRIAL_FOLDERS = {
    "fixations": ("fixation-data", ".csv"),
    "mouse": ("mouse-movement-data", ".csv"),
    "ads": ("ad-boundary-data", ".json"),
    "metadata": ("trial-metadata", ".xml"),
    "screenshot": ("full-page-screenshots", ".png"),
}
PUPIL_FOLDER = "pupil-data"
ORGANIC_FOLDER = "organic-aoi-data"  # user-supplied organic result boxes, not part of AdSERP
PARTICIPANTS_FILE = "participants.csv"
TRIAL_ID = re.compile(r"p\d+-b\d+-t\d+")

FIXATION_COLUMNS = ["timestamp", "FPOGX", "FPOGY", "FPOGD"]
PUPIL_COLUMNS = ["timestamp", "BPOGX", "BPOGY", "LPD", "LPV", "RPD", "RPV"]
MOUSE_COLUMNS = ["timestamp", "xpos", "ypos", "event", "xpath"]
PARTICIPANT_COLUMNS = [
    "participant_id",
    "gender",
    "age",
    "english",
    "education",
    "pref_device",
    "pref_website",
    "online_shopping_freq",
]
AD_KINDS = ("native_ad", "dd_top", "dd_right")
BOX_COLUMNS = ["kind", "rank", "x0", "y0", "x1", "y1"]

FIXATION_SCHEMA = [
    Column("timestamp", "int", nonempty=True),
    Column("FPOGX", "float", nonempty=True),
    Column("FPOGY", "float", nonempty=True),
    Column("FPOGD", "float", lo=0, nonempty=True),
]
MOUSE_SCHEMA = [
    Column("timestamp", "int", nonempty=True),
    Column("xpos", "float", nonempty=True),
    Column("ypos", "float", nonempty=True),
    Column("event", "key"),
    Column("xpath", "text"),
]
PARTICIPANT_SCHEMA = [
    Column("participant_id", "key"),
    *(Column(name, "text") for name in PARTICIPANT_COLUMNS[1:]),
]
FIXATION_RULES = RowRules(
    drop_duplicates=True, keys=(("timestamp",),), time="timestamp", known=tuple(FIXATION_COLUMNS)
)
MOUSE_RULES = RowRules(drop_duplicates=True, time="timestamp", known=tuple(MOUSE_COLUMNS))
PARTICIPANT_RULES = RowRules(keys=(("participant_id",),), known=tuple(PARTICIPANT_COLUMNS))


def participant_of(trial: str) -> str:
    """``p007`` for ``p007-b3-t8`` (the join key to participants.csv)."""
    return trial.split("-", 1)[0]


def trial_file(raw_dir: str | Path, trial: str, role: str) -> Path:
    """Path of one of a trial's files, by role (see ``TRIAL_FOLDERS``)."""
    folder, suffix = TRIAL_FOLDERS[role]
    return Path(raw_dir) / folder / f"{trial}{suffix}"


@dataclass(frozen=True)
class Listing:
    """The trials found in a raw folder: the roles present for each, and files that name none."""

    roles: dict[str, frozenset[str]]
    unrecognised: tuple[str, ...]

    def missing(self, trial: str) -> list[str]:
        """The folders lacking this trial's file."""
        have = self.roles.get(trial, frozenset())
        return [TRIAL_FOLDERS[r][0] for r in TRIAL_FOLDERS if r not in have]


def list_trials(raw_dir: str | Path) -> Listing:
    """Every trial id that has a file in any trial folder (a trial lacking some is still listed,
    so that it is reported rather than silently skipped)."""
    raw_dir = Path(raw_dir)
    roles: dict[str, set[str]] = {}
    unrecognised = []
    for role, (folder, suffix) in TRIAL_FOLDERS.items():
        path = raw_dir / folder
        if not path.is_dir():
            raise RawDataError(
                path,
                None,
                None,
                "folder not found; the AdSERP data folder holds "
                + ", ".join(f"{f}/" for f, _ in TRIAL_FOLDERS.values())
                + f" and {PARTICIPANTS_FILE}",
            )
        for file in path.iterdir():
            stem = file.name[: -len(suffix)] if file.name.endswith(suffix) else ""
            if file.is_file() and TRIAL_ID.fullmatch(stem):
                roles.setdefault(stem, set()).add(role)
            else:
                unrecognised.append(f"{folder}/{file.name}")
    return Listing(
        roles={t: frozenset(r) for t, r in sorted(roles.items())},
        unrecognised=tuple(sorted(unrecognised)),
    )


def participants_with_trials(raw_dir: str | Path) -> list[str]:
    """Participants with at least one trial file, sorted (the per-user fan-out)."""
    return sorted({participant_of(t) for t in list_trials(raw_dir).roles})


def read_fixations(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """Fixations: onset (Unix ms), page position (screenshot px), duration (ms), in time order."""
    return read_raw_table(path, FIXATION_SCHEMA, FIXATION_RULES)


def read_mouse(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """The evtrack log (page CSS px; scroll rows carry the scroll offset in ``ypos``), in time
    order. Unknown event names are kept: they are counted, never mistaken for known ones."""
    return read_raw_table(path, MOUSE_SCHEMA, MOUSE_RULES)


def _unique_keys(path: Path) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that refuses a repeated key (``json`` would keep the last silently)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise RawDataError(path, None, repeated[0], "key appears twice in one JSON object")
        return dict(pairs)

    return hook


def _load_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys(path))
    except json.JSONDecodeError as err:
        raise RawDataError(
            path, err.lineno, None, f"not valid JSON: {err.msg} (character {err.colno})"
        ) from err


def _get(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, dict):
        raise RawDataError(path, None, where, f"expected an object, found {obj!r}")
    if key not in obj:
        raise RawDataError(path, None, where, f"missing key {key!r}")
    return obj[key]


def _number(value: Any, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RawDataError(path, None, where, f"expected a number, found {value!r}")
    return float(value)


def _boxes(rows: list[list], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=BOX_COLUMNS)
    return frame.astype({"kind": object, "rank": np.int64, **dict.fromkeys(BOX_COLUMNS[2:], float)})


def read_ad_boxes(path: str | Path) -> pd.DataFrame:
    """Ad boxes (screenshot px) of one trial: ``kind`` (native_ad, dd_top, dd_right), ``rank``
    (1-based order within the kind, as listed) and ``x0, y0, x1, y1``.

    Every category must be present (possibly empty) and no other may appear: a renamed key would
    otherwise lose its ads without a word. A negative size is refused; a zero-size box is kept
    (it is never visible, and is dropped when the viewport is cut).
    """
    path = Path(path)
    doc = _load_json(path)
    if not isinstance(doc, dict):
        raise RawDataError(path, None, None, "expected a JSON object with keys " + str(AD_KINDS))
    unknown = sorted(set(doc) - set(AD_KINDS))
    if unknown:
        raise RawDataError(path, None, unknown[0], f"unknown ad category; expected {AD_KINDS}")
    rows = []
    for kind in AD_KINDS:
        boxes = _get(doc, kind, path, kind)
        if not isinstance(boxes, list):
            raise RawDataError(path, None, kind, f"expected a list of boxes, found {boxes!r}")
        for i, box in enumerate(boxes):
            where = f"{kind}[{i}]"
            loc = _get(box, "location", path, where)
            size = _get(box, "size", path, where)
            x = _number(_get(loc, "x", path, where + ".location"), path, where + ".location.x")
            y = _number(_get(loc, "y", path, where + ".location"), path, where + ".location.y")
            w = _number(_get(size, "width", path, where + ".size"), path, where + ".size.width")
            h = _number(_get(size, "height", path, where + ".size"), path, where + ".size.height")
            for name, value in (("width", w), ("height", h)):
                if value < 0:
                    raise RawDataError(path, None, f"{where}.size.{name}", f"negative: {value}")
            rows.append([kind, i + 1, x, y, x + w, y + h])
    return _boxes(rows, path)


def read_organic_boxes(path: str | Path, trial: str | None = None) -> pd.DataFrame:
    """Organic result boxes (screenshot px) from a JSON file with key ``organic``: a list of
    ``{rank, title, site, x_left, y_top, x_right, y_bot}``; ``rank`` k is the result that the
    mouse log calls ``//*[@id='rso']/div[k]``. Returned as ``kind`` organic, ``rank``, ``x0 ...``.

    Both the user-supplied ``organic-aoi-data/<trial>.json`` and the rendered SERP files use this
    key; a file that names its ``trial`` must name this one.
    """
    path = Path(path)
    doc = _load_json(path)
    entries = _get(doc, "organic", path, None)
    if trial is not None and isinstance(doc.get("trial"), str) and doc["trial"] != trial:
        raise RawDataError(path, None, "trial", f"describes {doc['trial']!r}, not {trial!r}")
    if not isinstance(entries, list):
        raise RawDataError(path, None, "organic", f"expected a list of boxes, found {entries!r}")
    rows = []
    for i, entry in enumerate(entries):
        where = f"organic[{i}]"
        rank = _get(entry, "rank", path, where)
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise RawDataError(path, None, where + ".rank", f"expected a rank >= 1, found {rank!r}")
        x0, y0, x1, y1 = (
            _number(_get(entry, key, path, where), path, f"{where}.{key}")
            for key in ("x_left", "y_top", "x_right", "y_bot")
        )
        if x1 < x0 or y1 < y0:
            raise RawDataError(
                path,
                None,
                where,
                f"x_right/y_bot ({x1}, {y1}) lie before x_left/y_top ({x0}, {y0})",
            )
        rows.append(["organic", rank, x0, y0, x1, y1])
    return _boxes(rows, path)


@dataclass(frozen=True)
class TrialMeta:
    """What the pipeline uses from ``trial-metadata/<trial>.xml``."""

    slug: str
    task: str
    document_w: int
    document_h: int

    @property
    def query(self) -> str:
        """The search query as typed (the slug with dashes as spaces)."""
        return self.slug.replace("-", " ")


def _size(text: str | None, path: Path, element: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)x(\d+)\s*", text or "")
    if match is None:
        raise RawDataError(path, None, element, f"expected WIDTHxHEIGHT, found {text!r}")
    return int(match.group(1)), int(match.group(2))


def read_trial_metadata(path: str | Path) -> TrialMeta:
    """The query slug (from ``<task>batch_<n>_trial_<m> | <slug>``) and the document size."""
    path = Path(path)
    data = read_bytes(path)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:  # bytes that are not UTF-8 are named as such, not as syntax
        problem = utf8_error(path, data) or RawDataError(
            path, err.position[0], None, f"not valid XML: {err}"
        )
        raise problem from err
    fields = {}
    for element in ("task", "document"):
        nodes = root.findall(element)
        if len(nodes) > 1:
            raise RawDataError(path, None, element, f"element appears {len(nodes)} times")
        if not nodes or not (nodes[0].text or "").strip():
            raise RawDataError(path, None, element, "missing or empty element")
        fields[element] = nodes[0].text.strip()
    task, bar, slug = fields["task"].partition("|")
    if not bar or not slug.strip() or " " in slug.strip():
        raise RawDataError(
            path, None, "task", f"expected 'batch_<n>_trial_<m> | <slug>', found {fields['task']!r}"
        )
    width, height = _size(fields["document"], path, "document")
    return TrialMeta(slug=slug.strip(), task=task.strip(), document_w=width, document_h=height)


def screenshot_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a screenshot, read from its header only (a truncated image is found
    when it is rendered)."""
    with open_image(path) as image:
        return image.size


def read_participants(path: str | Path) -> tuple[pd.DataFrame, TableNotes]:
    """One row per participant, every column as text; ids checked unique."""
    return read_raw_table(path, PARTICIPANT_SCHEMA, PARTICIPANT_RULES)
