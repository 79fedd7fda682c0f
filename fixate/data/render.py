"""Interface images shared by every dataset: fonts, slot labels, atomic JPEG writing.

Fonts come from matplotlib's bundled DejaVu set (matplotlib is a dependency), so rendering gives
the same pixels on every machine without system font paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import matplotlib
from PIL import Image, ImageDraw, ImageFont

from fixate.data.tables import atomic_path

LABEL_COLOUR = (255, 255, 255)
LABEL_SIZE = 26
LABEL_GAP = 4
TAG_COLOUR = (214, 39, 40)
TAG_PAD = 3
TAG_OUTLINE = 2


@lru_cache(maxsize=16)
def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (bold by default) at ``size`` px."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def draw_slot_labels(
    image: Image.Image,
    boxes: Sequence[Sequence[float]],
    names: Sequence[str],
    size: int = LABEL_SIZE,
    style: Literal["below", "tag"] = "below",
) -> Image.Image:
    """A copy of ``image`` with each slot's name drawn where the model can read it.

    The model is asked for a slot by this name, so every candidate must carry a visible one.

    * ``below`` (poster grids on a dark page): the name centred just below the box; labels that
      would fall off the bottom edge are pulled back inside.
    * ``tag`` (text-heavy pages such as a results page): the box outlined, and the name on a small
      filled tag at its top-left corner, in the margin to the left of the box when there is room,
      so that it never covers the text inside.
    """
    out = image.copy()
    draw = ImageDraw.Draw(out)
    face = font(size)
    for (x0, y0, x1, y1), name in zip(boxes, names, strict=True):
        if style == "below":
            y = min(y1 + LABEL_GAP, image.height - size - 2)
            draw.text(((x0 + x1) / 2, y), name, font=face, fill=LABEL_COLOUR, anchor="ma")
            continue
        m = TAG_OUTLINE + 1  # the outline runs just outside the box, clear of its text
        draw.rectangle([x0 - m, y0 - m, x1 + m, y1 + m], outline=TAG_COLOUR, width=TAG_OUTLINE)
        left, top, right, bottom = face.getbbox(name, anchor="lt")
        w, h = right - left + 2 * TAG_PAD, bottom - top + 2 * TAG_PAD
        tx = x0 - m - w if x0 - m - w >= 0 else max(x0, 0)
        ty = min(max(y0 - m, 0), image.height - h)
        draw.rectangle([tx, ty, tx + w, ty + h], fill=TAG_COLOUR)
        draw.text((tx + TAG_PAD, ty + TAG_PAD), name, font=face, fill=LABEL_COLOUR, anchor="lt")
    return out


def save_jpeg(image: Image.Image, path: str | Path, quality: int = 90) -> None:
    """Write a JPEG atomically (a killed job never leaves a partial image)."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=quality)
