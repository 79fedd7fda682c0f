"""Interface images shared by every dataset: fonts, slot labels, atomic JPEG writing.

Fonts come from matplotlib's bundled DejaVu set (matplotlib is a dependency), so rendering gives
the same pixels on every machine without system font paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

from fixate.data.tables import atomic_path

LABEL_COLOUR = (255, 255, 255)
LABEL_SIZE = 26
LABEL_GAP = 4


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
) -> Image.Image:
    """A copy of ``image`` with each slot's name centred just below its box.

    The model is asked for a slot by this name, so every candidate must carry a visible one;
    labels that would fall off the bottom edge are pulled back inside.
    """
    out = image.copy()
    draw = ImageDraw.Draw(out)
    face = font(size)
    for (x0, _y0, x1, y1), name in zip(boxes, names, strict=True):
        y = min(y1 + LABEL_GAP, image.height - size - 2)
        draw.text(((x0 + x1) / 2, y), name, font=face, fill=LABEL_COLOUR, anchor="ma")
    return out


def save_jpeg(image: Image.Image, path: str | Path, quality: int = 90) -> None:
    """Write a JPEG atomically (a killed job never leaves a partial image)."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="JPEG", quality=quality)
