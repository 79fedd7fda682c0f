"""The carousel page as the participant saw it at the decision: a 1920 x 1080 screen.

Drawn from the one :class:`Layout`: genre headings, the posters of each carousel's current
horizontal page, arrow buttons, at the decision's scroll offset. A poster file that is missing is
drawn as a grey card with its title (and counted), never fetched from the network; a poster file
that is there but cannot be decoded (truncated, not an image) stops the run naming it, since it
signals a broken copy rather than an absent poster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

from fixate.data.files import open_image
from fixate.data.recgaze.layout import GENRE_TEXT_TOPS, N_COLS, N_ROWS, Layout
from fixate.data.render import draw_slot_labels, font

BACKGROUND = (20, 20, 20)
PLACEHOLDER = (60, 60, 60)
ARROW_FILL = (70, 70, 70)
HEADING_SIZE = 36
ARROW_RADIUS = 16
ARROW_CENTRES_X = (50, 1848)


class PosterShelf:
    """The posters of one task: file lookup by the basename of ``TMDB_poster_path``."""

    def __init__(self, items: pd.DataFrame, poster_dir: Path, layout: Layout):
        self.layout = layout
        self.poster_dir = poster_dir
        table = items.set_index(["Carousel_position", "Movie_position_in_carousel"])
        self.files = table["TMDB_poster_path"].map(lambda p: p.rsplit("/", 1)[-1])
        self.titles = table["TMDB_title"]
        self.genres = items.groupby("Carousel_position")["Carousel_genre"].first()
        self.missing = 0

    def poster(self, row: int, pos: int) -> Image.Image:
        size = (int(self.layout.poster_w), int(self.layout.poster_h))
        name = self.files.get((row, pos), "")
        if name:
            image = _load_poster(str(self.poster_dir / name), size)
            if image is not None:
                return image
        self.missing += 1
        card = Image.new("RGB", size, PLACEHOLDER)
        draw = ImageDraw.Draw(card)
        draw.rectangle([0, 0, size[0] - 1, size[1] - 1], outline=(120, 120, 120))
        title = str(self.titles.get((row, pos), f"R{row} M{pos}"))
        draw.multiline_text(
            (10, 10), f"R{row} M{pos}\n{title}", font=font(16, bold=False), fill=(220, 220, 220)
        )
        return card


@lru_cache(maxsize=4096)
def _load_poster(path: str, size: tuple[int, int]) -> Image.Image | None:
    if not Path(path).exists():
        return None
    with open_image(path) as image:
        return image.convert("RGB").resize(size, Image.Resampling.BILINEAR)


def render_screen(shelf: PosterShelf, scroll_y: float, page_state: list[int]) -> Image.Image:
    """The plain screen (no slot labels) at ``scroll_y`` with carousels on ``page_state``."""
    layout = shelf.layout
    canvas = Image.new("RGB", (layout.screen_w, layout.screen_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    heading = font(HEADING_SIZE)
    for r in range(1, N_ROWS + 1):
        top = layout.row_tops[r - 1] - scroll_y
        heading_y = GENRE_TEXT_TOPS[r - 1] - scroll_y
        if -heading.size < heading_y < layout.screen_h:
            draw.text(
                (layout.col_x[0], heading_y),
                str(shelf.genres.get(r, "?")),
                font=heading,
                fill=(255, 255, 255),
            )
        if top + layout.poster_h <= 0 or top >= layout.screen_h:
            continue
        page = int(page_state[r - 1])
        for c in range(N_COLS):
            pos = page * N_COLS + c + 1
            canvas.paste(shelf.poster(r, pos), (int(layout.col_x[c]), round(top)))
        centre = top + layout.poster_h / 2
        if 0 <= centre < layout.screen_h:
            for cx, pointing in zip(ARROW_CENTRES_X, (-1, 1), strict=False):
                draw.ellipse(
                    [
                        cx - ARROW_RADIUS,
                        centre - ARROW_RADIUS,
                        cx + ARROW_RADIUS,
                        centre + ARROW_RADIUS,
                    ],
                    fill=ARROW_FILL,
                )
                tip = cx + 5 * pointing
                back = cx - 4 * pointing
                draw.line(
                    [(back, centre - 7), (tip, centre), (back, centre + 7)],
                    fill=(255, 255, 255),
                    width=3,
                )
    return canvas


def render_pair(
    shelf: PosterShelf, scroll_y: float, page_state: list[int], boxes: list, names: list[str]
) -> tuple[Image.Image, Image.Image]:
    """The plain screen and the same screen with a letter under every candidate poster."""
    plain = render_screen(shelf, scroll_y, page_state)
    return plain, draw_slot_labels(plain, boxes, names)
