"""The RecGaze stages as functions of plain paths (each Snakemake rule calls one).

raw folder --events--> tables/events.parquet --screens--> tables/screens.parquet, split.json,
report.json --render (per user)--> images/<user>/ --shard (per user)--> samples/<user>.parquet
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from fixate.data.accounting import write_split_and_report
from fixate.data.errors import no_samples
from fixate.data.recgaze.events import VisitRules, build_events
from fixate.data.recgaze.layout import SCREEN_H, SCREEN_W, layout_of, load_layout
from fixate.data.recgaze.raw import (
    read_aoi_data,
    read_item_features,
    read_non_public,
    read_summary_feedback,
    read_user_features,
)
from fixate.data.recgaze.render import PosterShelf, render_pair
from fixate.data.recgaze.screens import build_screens
from fixate.data.recgaze.split import task_split
from fixate.data.recgaze.truth import read_truth, screen_truth
from fixate.data.render import save_jpeg
from fixate.data.samples import SAMPLE_COLUMNS, write_samples
from fixate.data.tables import TableNotes, write_json, write_parquet

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary_feedback.csv"
NON_PUBLIC_FILE = "non_public_feedback_dataset.csv"
AOI_FILE = "aoi_data.csv"
ITEMS_FILE = "item_features.csv"
USERS_FILE = "user_features.csv"
POSTER_DIR = "posters"


def raw_files(raw_dir: str | Path) -> dict[str, Path]:
    """The released file names inside a raw RecGaze folder, by role."""
    raw_dir = Path(raw_dir)
    names = {
        "summary": SUMMARY_FILE,
        "non_public": NON_PUBLIC_FILE,
        "aoi": AOI_FILE,
        "items": ITEMS_FILE,
        "users": USERS_FILE,
        "posters": POSTER_DIR,
    }
    return {role: raw_dir / name for role, name in names.items()}


def noted(*files: tuple[str | Path, TableNotes]) -> dict[str, dict]:
    """The report entries of raw files (notes by file name); what changed anything is logged."""
    for path, notes in files:
        if notes.changes():
            log.warning("%s: %s", path, notes.changes())
    return {Path(path).name: notes.as_dict() for path, notes in files}


def run_events(
    summary_csv: str | Path,
    non_public_csv: str | Path,
    aoi_csv: str | Path,
    events_out: str | Path,
    counts_out: str | Path,
    rules: VisitRules | None = None,
) -> dict:
    """Stage 1: validated events with scroll, page state and visit (see :mod:`.events`)."""
    layout = load_layout(aoi_csv)
    log.info("reading %s", summary_csv)
    summary, summary_notes = read_summary_feedback(summary_csv)
    log.info("reading %s", non_public_csv)
    non_public, non_public_notes = read_non_public(non_public_csv)
    events, counts = build_events(summary, non_public, layout, rules)
    log.info("%d events in %d sessions", len(events), events["session"].nunique())
    counts["raw_files"] = noted((summary_csv, summary_notes), (non_public_csv, non_public_notes))
    write_parquet(events, events_out)
    write_json(counts, counts_out)
    return counts


def run_screens(
    events_path: str | Path,
    counts_path: str | Path,
    aoi_csv: str | Path,
    items_csv: str | Path,
    users_csv: str | Path,
    screens_out: str | Path,
    split_out: str | Path,
    report_out: str | Path,
    split_seed: int = 42,
) -> dict:
    """Stage 2: decision screens, labels, dwell and split; the preprocessing report.

    A run in which no session gives a sample is an error that names the drop reasons: an empty
    sample set is never a useful result, and a report alone is easily overlooked.
    """
    aoi, aoi_notes = read_aoi_data(aoi_csv)
    layout = layout_of(aoi, aoi_csv)
    items, item_notes = read_item_features(items_csv)
    users, user_notes = read_user_features(users_csv)
    events = pq.read_table(events_path).to_pandas()
    split = task_split(split_seed)
    screens, accounting = build_screens(events, items, users, layout, split)
    if screens.empty:
        raise no_samples(
            Path(items_csv).parent,
            f"session of {SUMMARY_FILE}",
            accounting["sessions"]["raw"],
            accounting["dropped_by_reason"],
        )
    write_parquet(screens, screens_out)
    event_counts = json.loads(Path(counts_path).read_text())

    per_user = {
        u: {s: int(n) for s, n in g["split"].value_counts().items()}
        for u, g in screens.groupby("user_id")
    }
    user_ids = users["UserID"].tolist()
    with_sessions = set(events["user_id"].unique())
    report = {
        "dataset": "recgaze",
        "raw_dir": str(Path(items_csv).parent),
        **{k: accounting[k] for k in ("sessions", "dropped_by_reason")},
        "kept_by_split": {s: int((screens["split"] == s).sum()) for s in ("train", "val", "test")},
        "raw_files": {
            **event_counts.pop("raw_files"),
            **noted((aoi_csv, aoi_notes), (items_csv, item_notes), (users_csv, user_notes)),
        },
        "events": event_counts,
        "dwell": accounting["dwell"],
        "users": {
            "in_user_features": len(user_ids),
            "with_sessions": len(with_sessions),
            "with_samples": len(per_user),
            "without_samples": sorted(set(user_ids) - set(per_user)),
        },
        "per_user": per_user,
        "dropped_sessions": accounting["dropped_sessions"],
    }
    write_split_and_report(split.as_dict(), report, "sessions", split_out, report_out)
    return report


def user_screens(screens_path: str | Path, user: str) -> pd.DataFrame:
    """The decision screens of one user (possibly none)."""
    table = pq.read_table(screens_path, filters=[("user_id", "==", user)])
    return table.to_pandas()


def image_names(user: str, screen_id: str) -> tuple[str, str]:
    """Plain and labelled image paths, relative to the dataset folder."""
    return f"images/{user}/{screen_id}.jpg", f"images/{user}/{screen_id}_labelled.jpg"


def write_screen_images(shelf: PosterShelf, row: Any, dataset_dir: Path, quality: int = 90) -> None:
    """Render one decision screen (a row of the screens table) and write both of its images."""
    plain, labelled = render_pair(
        shelf,
        row.scroll_y,
        list(row.page_state),
        [list(b) for b in row.slot_boxes],
        list(row.slot_names),
    )
    plain_name, labelled_name = image_names(row.user_id, row.screen_id)
    save_jpeg(plain, dataset_dir / plain_name, quality)
    save_jpeg(labelled, dataset_dir / labelled_name, quality)


def run_render(
    screens_path: str | Path,
    aoi_csv: str | Path,
    items_csv: str | Path,
    poster_dir: str | Path,
    user: str,
    dataset_dir: str | Path,
    done_out: str | Path,
    quality: int = 90,
) -> dict:
    """Stage 3 (per user): the plain and letter-labelled screen of every sample of ``user``."""
    poster_dir = Path(poster_dir)
    dataset_dir = Path(dataset_dir)
    layout = load_layout(aoi_csv)
    items = read_item_features(items_csv)[0]
    screens = user_screens(screens_path, user)
    shelves: dict[int, PosterShelf] = {}
    written = []
    for row in tqdm(
        screens.itertuples(index=False), total=len(screens), desc=f"render {user}", mininterval=5.0
    ):
        shelf = shelves.get(row.task_id)
        if shelf is None:
            shelf = PosterShelf(items[items["TaskID"] == row.task_id], poster_dir, layout)
            shelves[row.task_id] = shelf
        write_screen_images(shelf, row, dataset_dir, quality)
        written.append(row.screen_id)
    summary = {
        "user": user,
        "images": len(written),
        "missing_posters": int(sum(s.missing for s in shelves.values())),
        "screens": written,
    }
    if summary["missing_posters"]:
        log.warning(
            "%s: %d poster(s) missing in %s, drawn as placeholders",
            user,
            summary["missing_posters"],
            poster_dir,
        )
    write_json(summary, done_out)
    return summary


def samples_from_screens(
    screens: pd.DataFrame, user: str, truth: pd.Series | None = None
) -> pd.DataFrame:
    """Sample records of ``user`` from the decision-screen table (image paths by convention),
    with the planted gaze truth per slot when ``truth`` (synthetic data) is given."""
    screens = screens[screens["user_id"] == user]
    names = [image_names(user, s) for s in screens["screen_id"]]
    samples = screens.assign(
        dataset="recgaze",
        image_path=[p for p, _ in names],
        labelled_image_path=[q for _, q in names],
        image_width=SCREEN_W,
        image_height=SCREEN_H,
        visit_index=screens["visit_index"].astype(np.int32),
        truth_ms=None if truth is None else screen_truth(screens, truth),
    )
    return samples[SAMPLE_COLUMNS]


def run_shard(
    screens_path: str | Path,
    render_summary: str | Path,
    user: str,
    shard_out: str | Path,
    truth_path: str | Path | None = None,
) -> int:
    """Stage 4 (per user): the user's Sample shard, pointing at the rendered images, with the
    planted gaze truth of synthetic users when ``truth_path`` is given."""
    screens = user_screens(screens_path, user)
    rendered = set(json.loads(Path(render_summary).read_text())["screens"])
    missing = sorted(set(screens["screen_id"]) - rendered)
    if missing:
        raise FileNotFoundError(
            f"{render_summary}: screens {missing[:5]} of {user} were not rendered"
        )
    truth = None if truth_path is None else read_truth(truth_path)
    samples = samples_from_screens(screens, user, truth)
    write_samples(samples, shard_out)
    return len(samples)
