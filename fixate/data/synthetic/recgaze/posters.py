"""Stand-in posters of synthetic RecGaze: one small JPEG per movie, since the real ones are
copyrighted TMDB images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import POSTER_H, POSTER_W
from fixate.data.synthetic.seeding import keyed_rng

_GENRE_COLORS = {
    "Action": ((90, 10, 10), (240, 120, 30)),
    "Animation": ((20, 90, 160), (250, 210, 60)),
    "Comedy": ((200, 110, 0), (255, 235, 110)),
    "Crime": ((10, 15, 35), (80, 100, 140)),
    "Drama": ((40, 10, 60), (160, 100, 170)),
    "Fantasy": ((10, 60, 60), (130, 210, 170)),
    "Horror": ((5, 5, 5), (130, 0, 0)),
    "Romance": ((120, 20, 60), (250, 165, 195)),
    "Sci-Fi": ((0, 20, 60), (0, 200, 230)),
    "Thriller": ((10, 30, 20), (100, 150, 90)),
}


def _wrap(title: str, width: int = 20) -> str:
    lines, line = [], ""
    for word in title.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:2])


def render_posters(items: pd.DataFrame, poster_dir: str | Path, seed: int) -> int:
    """Write one small JPEG per movie, named as the basename of its ``TMDB_poster_path``.

    Real posters are copyrighted TMDB images, so stand-ins must still look different per genre
    (a tinted gradient) and per title (a shape and the title text) for an image model to tell
    posters apart. Gradients are cached per (genre, direction, tint) to keep this fast. Returns
    the number of files written.
    """
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    title_font = ImageFont.truetype(str(font_path), 24)
    tag_font = ImageFont.truetype(str(font_path), 13)
    poster_dir = Path(poster_dir)
    poster_dir.mkdir(parents=True, exist_ok=True)
    rng = keyed_rng(seed, "posters")
    n = len(items)
    yy, xx = np.mgrid[0:POSTER_H, 0:POSTER_W].astype(np.float32)
    ramps = [
        xx / POSTER_W,
        yy / POSTER_H,
        (xx / POSTER_W + yy / POSTER_H) / 2,
        np.minimum(np.hypot(xx - POSTER_W / 2, yy - POSTER_H / 2) / 200, 1),
    ]
    tints = rng.integers(-30, 31, size=(4, 2, 3))
    bases: dict[tuple[str, int, int], Image.Image] = {}

    def base(genre: str, ramp: int, tint: int) -> Image.Image:
        if (genre, ramp, tint) not in bases:
            dark, light = np.clip(np.array(_GENRE_COLORS[genre]) + tints[tint], 0, 255)
            pixels = dark + (light - dark) * ramps[ramp][..., None]
            bases[genre, ramp, tint] = Image.fromarray(pixels.astype(np.uint8))
        return bases[genre, ramp, tint]

    ramp_idx = rng.integers(len(ramps), size=n)
    tint_idx = rng.integers(len(tints), size=n)
    shape_kind = rng.integers(3, size=n)
    centre = rng.uniform([40, 20], [POSTER_W - 40, POSTER_H - 60], size=(n, 2))
    radius = rng.uniform(18, 70, size=n)
    shape_rgb = rng.integers(0, 256, size=(n, 3))
    names = items["TMDB_poster_path"].str.rsplit("/", n=1).str[-1].tolist()
    genres = items["Carousel_genre"].tolist()
    for i, title in enumerate(items["TMDB_title"].tolist()):
        image = base(genres[i], ramp_idx[i], tint_idx[i]).copy()
        draw = ImageDraw.Draw(image)
        (cx, cy), rad = centre[i], radius[i]
        fill = tuple(shape_rgb[i].tolist())
        if shape_kind[i] == 0:
            draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=fill)
        elif shape_kind[i] == 1:
            draw.rectangle((cx - rad, cy - rad * 0.6, cx + rad, cy + rad * 0.6), fill=fill)
        else:
            draw.polygon([(cx, cy - rad), (cx + rad, cy + rad), (cx - rad, cy + rad)], fill=fill)
        draw.text((12, 10), genres[i].upper(), font=tag_font, fill=(235, 235, 235))
        text = _wrap(title)
        y = POSTER_H - 14 - 28 * (text.count("\n") + 1)
        draw.rectangle((0, y - 8, POSTER_W, POSTER_H), fill=(12, 12, 12))
        draw.multiline_text((12, y), text, font=title_font, fill=(255, 255, 255), spacing=4)
        image.save(poster_dir / names[i], format="JPEG", quality=80)
    return n
