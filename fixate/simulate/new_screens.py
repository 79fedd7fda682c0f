"""Carousel pages that no participant saw, as a screen spec: the demo's input to `simulate`.

Each page arranges movies of the RecGaze catalogue into new carousels: a new order of the ten
genres, and in each carousel movies of that genre drawn from all tasks, shown at a drawn scroll
offset. The pages are drawn by the same renderer as the recorded screens, so the model sees the
interface it was trained on, but no page equals a training screen. Candidates are the fully
visible posters, lettered A-O in reading order; the letters are left for the spec reader to draw
(``labelled: false``), as a designer's own screenshots would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fixate.data.recgaze.layout import GENRES, MAX_SCROLL, N_COLS, SLOT_LETTERS, load_layout
from fixate.data.recgaze.raw import read_item_features
from fixate.data.recgaze.render import PosterShelf, render_screen
from fixate.data.tables import atomic_path

SPEC_NAME = "screens.yaml"


def new_carousel_screens(
    raw_dir: str | Path, out_dir: str | Path, n: int = 5, seed: int = 0
) -> Path:
    """Write ``n`` new carousel pages and their spec into ``out_dir``; returns the spec's path."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    layout = load_layout(raw_dir / "aoi_data.csv")
    items, _ = read_item_features(raw_dir / "item_features.csv")
    catalogue = items.drop_duplicates("MovieID")
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for index in range(n):
        items = _new_task(catalogue, rng)
        shelf = PosterShelf(items, raw_dir / "posters", layout)
        scroll = _scroll_with_full_rows(layout, rng)
        image = render_screen(shelf, scroll, [0] * len(GENRES))
        screen_id = f"new-carousel-{index + 1:02d}"
        with atomic_path(out_dir / f"{screen_id}.png") as tmp:
            image.save(tmp, format="PNG")
        entries.append(_entry(screen_id, items, layout, scroll))
    spec = {"screens": entries}
    with atomic_path(out_dir / SPEC_NAME) as tmp:
        tmp.write_text(yaml.safe_dump(spec, sort_keys=False, width=100))
    return out_dir / SPEC_NAME


def _new_task(catalogue: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Ten carousels of one page of movies each, in a new genre order."""
    rows = []
    for position, genre in enumerate(rng.permutation(GENRES), start=1):
        pool = catalogue[catalogue["Carousel_genre"] == genre]
        if len(pool) < N_COLS:
            pool = catalogue
        chosen = pool.iloc[rng.choice(len(pool), size=N_COLS, replace=False)]
        rows.append(
            chosen.assign(
                Carousel_position=position,
                Carousel_genre=genre,
                Movie_position_in_carousel=np.arange(1, N_COLS + 1),
            )
        )
    return pd.concat(rows, ignore_index=True)


def _scroll_with_full_rows(layout, rng: np.random.Generator) -> float:
    """A scroll offset showing two or three whole carousels (as most decision screens do)."""
    while True:
        scroll = float(rng.uniform(0, MAX_SCROLL))
        if layout.full_rows(np.array([scroll]))[0].sum() >= 2:
            return scroll


def _entry(screen_id: str, items: pd.DataFrame, layout, scroll: float) -> dict:
    full = np.flatnonzero(layout.full_rows(np.array([scroll]))[0]) + 1
    table = items.set_index(["Carousel_position", "Movie_position_in_carousel"])
    slots = []
    for row in full:
        for col in range(N_COLS):
            movie = table.loc[(int(row), col + 1)]
            box = [round(float(v), 1) for v in layout.poster_box(int(row), col, scroll)]
            slots.append(
                {
                    "label": SLOT_LETTERS[len(slots)],
                    "box": box,
                    "content_id": str(movie["MovieID"]),
                    "text": str(movie["TMDB_title"]),
                }
            )
    return {"id": screen_id, "image": f"{screen_id}.png", "labelled": False, "slots": slots}
