"""The RecGaze carousel interface: one geometry used by every stage.

The reference pipeline mixed three geometry sources (hard-coded row tops, per-task medians of
``aoi_data.csv`` and two scroll estimates), which silently shifted labels. Here the geometry is read
once from ``aoi_data.csv`` into a :class:`Layout`, and slot mapping, labels, candidate boxes and the
renderer all use that object.

Coordinates: the "stimulus" frame is the stitched page (5760 x 3526 px: three 1920-px horizontal
pages side by side, y growing down the page). The screen shows stimulus rows ``scroll .. scroll +
1080`` of the current horizontal page of each carousel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.errors import RawDataError

SCREEN_W = 1920
SCREEN_H = 1080
N_ROWS = 10
N_COLS = 5
N_PAGES = 3
ITEMS_PER_ROW = N_COLS * N_PAGES
STIMULUS_W = SCREEN_W * N_PAGES
STIMULUS_H = 3526
GENRES = (
    "Action",
    "Animation",
    "Comedy",
    "Crime",
    "Drama",
    "Fantasy",
    "Horror",
    "Romance",
    "Sci-Fi",
    "Thriller",
)
SLOT_LETTERS = "ABCDEFGHIJKLMNO"

# Layout facts of the study interface (measured from the public RecGaze pilot AOIs).
ROW_TOPS = (176, 516, 855, 1195, 1534, 1874, 2213, 2553, 2892, 3232)
GENRE_TEXT_TOPS = (106, 445, 785, 1124, 1464, 1803, 2143, 2482, 2822, 3161)
GENRE_TEXT_H = 43
GENRE_TEXT_WIDTHS = {
    "Action": 100,
    "Animation": 162,
    "Comedy": 124,
    "Crime": 92,
    "Drama": 105,
    "Fantasy": 121,
    "Horror": 104,
    "Romance": 143,
    "Sci-Fi": 79,
    "Thriller": 113,
}
POSTER_W = 342
POSTER_H = 193
COL_X = (76, 427, 778, 1129, 1480)
BACKWARD_X = (51, 72)
FORWARD_X = (1831, 1852)
ARROW_SIZE = 21
BROWSER_BAR = (0, 87)
TASK_BAR = (1032, 1080)
MAX_SCROLL = STIMULUS_H - SCREEN_H + 4  # lowest scroll offset the page allows


@dataclass(frozen=True)
class Layout:
    """Poster geometry of the carousel page in stimulus pixels.

    ``row_tops[r]`` is the top of carousel ``r + 1``; ``col_x[c]`` the left edge of on-screen
    column ``c``; every poster is ``poster_w x poster_h``.
    """

    row_tops: tuple[float, ...] = tuple(float(t) for t in ROW_TOPS)
    col_x: tuple[float, ...] = tuple(float(x) for x in COL_X)
    poster_w: float = float(POSTER_W)
    poster_h: float = float(POSTER_H)
    screen_w: int = SCREEN_W
    screen_h: int = SCREEN_H

    def visible_heights(self, scroll: np.ndarray) -> np.ndarray:
        """Visible poster height (px) of every row at each scroll offset: shape (n, N_ROWS)."""
        tops = np.asarray(self.row_tops)[None, :] - np.asarray(scroll, dtype=float)[:, None]
        top = np.clip(tops, 0, self.screen_h)
        bottom = np.clip(tops + self.poster_h, 0, self.screen_h)
        return bottom - top

    def full_rows(self, scroll: np.ndarray) -> np.ndarray:
        """Boolean (n, N_ROWS): rows whose posters are entirely on screen."""
        return self.visible_heights(scroll) >= self.poster_h - 0.5

    def poster_box(self, row: int, col: int, scroll: float) -> tuple[float, float, float, float]:
        """Screen box (x0, y0, x1, y1) of column ``col`` (0-4) of carousel ``row`` (1-10)."""
        x0 = self.col_x[col]
        y0 = self.row_tops[row - 1] - scroll
        return (x0, y0, x0 + self.poster_w, y0 + self.poster_h)


def load_layout(aoi_csv: str | Path) -> Layout:
    """Read the poster geometry from ``aoi_data.csv`` (see :func:`layout_of`)."""
    from fixate.data.recgaze.raw import read_aoi_data

    return layout_of(read_aoi_data(aoi_csv)[0], aoi_csv)


def layout_of(aoi: pd.DataFrame, aoi_csv: str | Path) -> Layout:
    """The poster geometry of the AOI table read from ``aoi_csv`` (Movie AOIs of horizontal
    page 1). The pilot AOIs were measured on task 01 and apply to every task, as in the study.
    """
    movies = aoi[(aoi["AOI_type"] == "Movie") & (aoi["Page"] == 1)]
    rows = sorted(movies["Row_num"].dropna().astype(int).unique())
    if rows != list(range(1, N_ROWS + 1)):
        raise RawDataError(
            aoi_csv,
            None,
            "Row_num",
            f"expected Movie AOIs for rows 1-{N_ROWS} on Page 1, found rows {rows}",
        )
    by_row = movies.groupby("Row_num")
    tops = by_row["AOI_min_y"].median().sort_index()
    heights = (movies["AOI_max_y"] - movies["AOI_min_y"]).median()
    widths = (movies["AOI_max_x"] - movies["AOI_min_x"]).median()
    cols = movies.groupby("Row_position")["AOI_min_x"].median().sort_index().iloc[:N_COLS].tolist()
    if len(cols) != N_COLS:
        raise RawDataError(
            aoi_csv,
            None,
            "Row_position",
            f"expected {N_COLS} poster columns on Page 1, found {cols}",
        )
    return Layout(
        row_tops=tuple(float(t) for t in tops),
        col_x=tuple(float(x) for x in cols),
        poster_w=float(widths),
        poster_h=float(heights),
    )


def aoi_table(genres_by_row: list[str] | None = None) -> pd.DataFrame:
    """The pilot AOI table (``aoi_data.csv`` rows) for the default layout.

    ``genres_by_row`` names the genre of carousels 1-10 (the pilot task's order when omitted).
    """
    genres = genres_by_row or [
        "Crime",
        "Animation",
        "Romance",
        "Drama",
        "Sci-Fi",
        "Horror",
        "Fantasy",
        "Action",
        "Comedy",
        "Thriller",
    ]
    records = []
    for page in range(1, N_PAGES + 1):
        dx = SCREEN_W * (page - 1)
        for r in range(N_ROWS):
            genre = genres[r]
            top = ROW_TOPS[r]
            records.append(
                (
                    "01",
                    "Genre_text",
                    r + 1,
                    genre,
                    None,
                    page,
                    76 + dx,
                    76 + dx + GENRE_TEXT_WIDTHS[genre],
                    GENRE_TEXT_TOPS[r],
                    GENRE_TEXT_TOPS[r] + GENRE_TEXT_H,
                )
            )
            for c in range(N_COLS):
                pos = (page - 1) * N_COLS + c + 1
                x0 = COL_X[c] + dx
                records.append(
                    ("01", "Movie", r + 1, genre, pos, page, x0, x0 + POSTER_W, top, top + POSTER_H)
                )
            arrow_top = top + (POSTER_H - ARROW_SIZE) // 2
            for kind, (x0, x1) in (("Backward_swipe", BACKWARD_X), ("Forward_swipe", FORWARD_X)):
                records.append(
                    (
                        "01",
                        kind,
                        r + 1,
                        genre,
                        None,
                        page,
                        x0 + dx,
                        x1 + dx,
                        arrow_top,
                        arrow_top + ARROW_SIZE,
                    )
                )
    records.append((None, "Windows_bar", None, None, None, None, 0, STIMULUS_W, *TASK_BAR))
    records.append((None, "Browser_bar", None, None, None, None, 0, STIMULUS_W, *BROWSER_BAR))
    from fixate.data.recgaze.raw import AOI_DATA_COLUMNS

    columns = [c for c in AOI_DATA_COLUMNS if c != "Hardware_Setup"]
    frame = pd.DataFrame(records, columns=columns)
    frame.insert(AOI_DATA_COLUMNS.index("Hardware_Setup"), "Hardware_Setup", "Pilot_Study")
    for col in ("Row_num", "Row_position", "Page"):
        frame[col] = frame[col].astype("Int64")
    for col in ("AOI_min_x", "AOI_max_x", "AOI_min_y", "AOI_max_y"):
        frame[col] = frame[col].astype(float)
    return frame
