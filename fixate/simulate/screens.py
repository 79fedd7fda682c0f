"""New screens to simulate users on: the screen spec format, its checks, and sample shards.

A researcher designing a page has an image and knows where its candidates are. The spec is one
YAML (or JSON) file beside the images::

    instruction: null            # optional: the question; {candidates} becomes the slot labels
    screens:
      - id: carousel-01          # unique; names the outputs
        image: carousel-01.png   # relative to this file
        labelled: false          # false: draw each label below its box; true: already drawn
        label_style: below       # below (poster grids) | tag (text-heavy pages)
        instruction: null        # optional, this screen only
        slots:
          - {label: A, box: [76, 200, 418, 393], content_id: "892589", text: "The Wicked Island"}

Boxes are (x0, y0, x1, y1) in pixels of the image. The model is asked for a slot by its label, so
a label must be unique on its screen and visible on the image the model sees. Every problem is
reported with the file and the entry (``screens[2] 'carousel-03' slots[1]``), before anything is
written. Sample shards of the datasets (``results/<dataset>/samples/*.parquet``) are screens too:
every distinct labelled image once, with its recorded slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from fixate.data.files import utf8_error
from fixate.data.render import draw_slot_labels
from fixate.data.samples import image_file, read_samples

MIN_SLOTS = 2

SPEC_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["screens"],
    "properties": {
        "instruction": {"type": ["string", "null"]},
        "screens": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "image", "slots"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9._-]+$"},
                    "image": {"type": "string", "minLength": 1},
                    "labelled": {"type": "boolean"},
                    "label_style": {"enum": ["below", "tag"]},
                    "instruction": {"type": ["string", "null"]},
                    "slots": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["label", "box"],
                            "properties": {
                                "label": {"type": "string", "minLength": 1},
                                "box": {
                                    "type": "array",
                                    "items": {"type": "number"},
                                    "minItems": 4,
                                    "maxItems": 4,
                                },
                                "content_id": {"type": ["string", "null"]},
                                "text": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
            },
        },
    },
}


class ScreenSpecError(ValueError):
    """A screen spec that cannot be simulated; the message names the file and the entry."""


@dataclass(frozen=True)
class NewScreen:
    """One screen to simulate: the image the model sees (labels drawn) and its candidate slots."""

    screen_id: str
    image: Image.Image
    slot_boxes: np.ndarray  # (S, 4) x0, y0, x1, y1 in pixels of `image`
    slot_names: tuple[str, ...]
    content_ids: tuple[str | None, ...]
    texts: tuple[str | None, ...]
    instruction: str | None = None  # None: the trained run's


def read_screens(path: str | Path) -> list[NewScreen]:
    """The screens of a spec file, or of a sample shard (``.parquet``) or a folder of shards."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".parquet":
        shards = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if not shards:
            raise ScreenSpecError(f"{path}: no sample shards (*.parquet) in this folder")
        return screens_from_samples(shards)
    return read_spec(path)


def read_spec(path: str | Path) -> list[NewScreen]:
    """Read and check a screen spec file (the module docstring gives the format)."""
    path = Path(path)
    if not path.is_file():
        raise ScreenSpecError(f"{path}: no such screen spec file")
    data = path.read_bytes()
    not_utf8 = utf8_error(path, data)
    if not_utf8 is not None:
        raise ScreenSpecError(str(not_utf8))
    try:
        spec = yaml.safe_load(data.decode("utf-8"))
    except yaml.YAMLError as err:
        raise ScreenSpecError(f"{path}: not a readable YAML/JSON file: {err}") from err
    try:
        jsonschema.validate(spec, SPEC_SCHEMA)
    except jsonschema.ValidationError as err:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        raise ScreenSpecError(f"{path}: {where.lstrip('.') or 'top level'}: {err.message}") from err
    seen: set[str] = set()
    screens = []
    for index, entry in enumerate(spec["screens"]):
        where = f"{path}: screens[{index}] {entry['id']!r}"
        if entry["id"] in seen:
            raise ScreenSpecError(f"{where}: the id is used by an earlier screen")
        seen.add(entry["id"])
        screens.append(_screen(entry, path.parent, where, spec.get("instruction")))
    return screens


def _screen(entry: dict, folder: Path, where: str, instruction: str | None) -> NewScreen:
    slots = entry["slots"]
    if len(slots) < MIN_SLOTS:
        raise ScreenSpecError(f"{where}: {len(slots)} slot(s); a choice needs at least {MIN_SLOTS}")
    image = _open_image(folder / entry["image"], where)
    labels = [slot["label"] for slot in slots]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ScreenSpecError(f"{where}: labels {repeated} name more than one slot")
    for j, slot in enumerate(slots):
        _check_box(slot["box"], image.size, f"{where} slots[{j}] {slot['label']!r}")
    boxes = np.asarray([slot["box"] for slot in slots], dtype=np.float32)
    if not entry.get("labelled", False):
        image = draw_slot_labels(image, boxes, labels, style=entry.get("label_style", "below"))
    return NewScreen(
        screen_id=entry["id"],
        image=image,
        slot_boxes=boxes,
        slot_names=tuple(labels),
        content_ids=tuple(slot.get("content_id") for slot in slots),
        texts=tuple(slot.get("text") for slot in slots),
        instruction=entry.get("instruction") or instruction,
    )


def _open_image(path: Path, where: str) -> Image.Image:
    if not path.is_file():
        raise ScreenSpecError(f"{where}: image {path} does not exist")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise ScreenSpecError(f"{where}: image {path} cannot be read: {err}") from err


def _check_box(box: Sequence[float], size: tuple[int, int], where: str) -> None:
    x0, y0, x1, y1 = box
    width, height = size
    if not (x1 > x0 and y1 > y0):
        raise ScreenSpecError(f"{where}: box {list(box)} has no area (x1 > x0 and y1 > y0)")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise ScreenSpecError(f"{where}: box {list(box)} lies outside the {width} x {height} image")


def screens_from_samples(shards: Sequence[str | Path]) -> list[NewScreen]:
    """Every distinct labelled image of sample shards once, with its recorded slots."""
    samples = read_samples(shards).drop_duplicates("labelled_image_path")
    screens = []
    for row in samples.to_dict("records"):
        with Image.open(image_file(row)) as image:
            rgb = image.convert("RGB")
        names = tuple(str(name) for name in row["slot_names"])
        screens.append(
            NewScreen(
                screen_id=f"{row['user_id']}-{row['screen_id']}-{row['visit_index']}",
                image=rgb,
                slot_boxes=np.asarray([list(box) for box in row["slot_boxes"]], np.float32),
                slot_names=names,
                content_ids=(None,) * len(names),
                texts=(None,) * len(names),
            )
        )
    return screens


def check_users(users: Sequence[str], known: Sequence[str], where: str) -> None:
    """Stop on a user the simulator does not know (neither trained nor enrolled)."""
    unknown = sorted(set(users) - set(known))
    if unknown:
        raise ScreenSpecError(
            f"{where}: unknown users {unknown}; this simulator knows {sorted(known)}"
        )
