"""The AdSERP stages as functions of plain paths (each Snakemake rule calls one).

raw data/ folder --trials (per user)--> tables/trials/<user>.parquet --render (per user)-->
images/<user>/ --split (all users)--> split.json, report.json --shard (per user)-->
samples/<user>.parquet
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fixate.data.accounting import write_split_and_report
from fixate.data.adserp.raw import (
    PARTICIPANTS_FILE,
    TRIAL_FOLDERS,
    Listing,
    list_trials,
    participant_of,
    read_participants,
    trial_file,
)
from fixate.data.adserp.split import QuerySplit, query_split
from fixate.data.adserp.trials import (
    DROP_REASONS,
    NOTED_ROLES,
    ORGANIC_SOURCES,
    TRIAL_SCHEMA,
    Settings,
    build_trial,
    profile_texts,
    trial_table,
)
from fixate.data.adserp.truth import read_truth, truth_per_slot
from fixate.data.errors import no_samples
from fixate.data.files import open_image
from fixate.data.render import draw_slot_labels, save_jpeg
from fixate.data.samples import SAMPLE_COLUMNS, SPLITS, write_samples
from fixate.data.tables import TableNotes, write_json, write_parquet

log = logging.getLogger(__name__)

TAG_SIZE = 20  # slot numbers on the results page (px)


def run_trials(
    raw_dir: str | Path,
    user: str,
    trials_out: str | Path,
    organic_dir: str | Path | None = None,
    settings: Settings | None = None,
) -> dict:
    """Stage 1 (per user): every trial of ``user``, as a sample or a drop with its reason."""
    raw_dir = Path(raw_dir)
    settings = settings or Settings()
    listing = list_trials(raw_dir)
    participants, _ = read_participants(raw_dir / PARTICIPANTS_FILE)  # notes: in the split stage
    profiles, n_swapped = profile_texts(participants)
    if n_swapped:
        log.info(
            "participants.csv: pref_website/online_shopping_freq swapped in %d rows", n_swapped
        )
    trials = [t for t in listing.roles if participant_of(t) == user]
    organic = Path(organic_dir) if organic_dir else None
    table = trial_table(
        [build_trial(raw_dir, t, listing, profiles, organic, settings) for t in trials]
    )
    for role in NOTED_ROLES:
        for trial, entry in zip(table["trial_id"], table[f"{role}_notes"], strict=True):
            changes = TableNotes.from_dict(entry).changes() if entry is not None else ""
            if changes:
                log.warning("%s (%s): %s", trial, TRIAL_FOLDERS[role][0], changes)
    write_parquet(table, trials_out, schema=TRIAL_SCHEMA)
    counts = table["reason"].fillna("kept").value_counts().to_dict()
    log.info("%s: %d trials: %s", user, len(table), counts)
    return counts


def read_trials(paths: Sequence[str | Path] | str | Path) -> pd.DataFrame:
    """The per-user trial tables, concatenated."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    frames = [pq.read_table(p, schema=TRIAL_SCHEMA).to_pandas() for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else trial_table([])


def image_names(user: str, trial: str) -> tuple[str, str]:
    """Plain and numbered viewport image paths, relative to the dataset folder."""
    return f"images/{user}/{trial}.jpg", f"images/{user}/{trial}_labelled.jpg"


def run_render(
    trials_path: str | Path,
    raw_dir: str | Path,
    user: str,
    dataset_dir: str | Path,
    done_out: str | Path,
    quality: int = 90,
) -> dict:
    """Stage 2 (per user): the final-stop viewport of every kept trial, plain and with each slot
    outlined and numbered (the reference asked for area numbers that it never drew)."""
    kept = read_trials(trials_path)
    kept = kept[kept["reason"].isna()]
    written = []
    for row in kept.itertuples(index=False):
        with open_image(trial_file(raw_dir, row.trial_id, "screenshot")) as page:
            crop = (0, row.scroll_px, row.page_w, row.scroll_px + row.image_h)
            plain = page.convert("RGB").crop(crop)
        names = [str(i + 1) for i in range(len(row.slot_boxes))]
        labelled = draw_slot_labels(plain, row.slot_boxes, names, size=TAG_SIZE, style="tag")
        plain_name, labelled_name = image_names(user, row.trial_id)
        save_jpeg(plain, Path(dataset_dir) / plain_name, quality)
        save_jpeg(labelled, Path(dataset_dir) / labelled_name, quality)
        written.append(row.trial_id)
    summary = {"user": user, "images": len(written), "trials": written}
    write_json(summary, done_out)
    return summary


def serp_check_summary(paths: Sequence[str | Path]) -> dict:
    """Pass/fail counts and the per-trial checks of the rendered result pages."""
    checks = {Path(p).stem: json.loads(Path(p).read_text()).get("check") for p in paths}
    checks = {t: c for t, c in checks.items() if c is not None}
    return {
        "rendered": len(checks),
        "passed": sum(c["ok"] for c in checks.values()),
        "max_ad_error_px": max((c["max_error_px"] or 0 for c in checks.values()), default=None),
        "trials": checks,
    }


def pooled_notes(entries: pd.Series) -> dict:
    """What reading one folder's logs removed, reordered or set aside, over its trials
    (``entries``: the trials' notes, indexed by trial; null for trials never read that far)."""
    notes = {t: TableNotes.from_dict(e) for t, e in entries.dropna().items()}
    extra: dict[str, int] = {}
    for entry in notes.values():
        for name in entry.extra_columns:
            extra[name] = extra.get(name, 0) + 1
    return {
        "files_read": len(notes),
        "rows": sum(n.rows for n in notes.values()),
        "duplicate_rows_dropped": sum(n.duplicate_rows_dropped for n in notes.values()),
        "rows_out_of_order": sum(n.rows_out_of_order for n in notes.values()),
        "extra_columns": extra,
        "trials": {t: n.as_dict() for t, n in notes.items() if n.changes()},
    }


def slots_and_dwell(kept: pd.DataFrame) -> dict:
    """The report's slot and dwell sections, over the kept trials (at least one)."""
    n_slots = kept["slot_kinds"].map(len)
    return {
        "slots": {
            "total": int(n_slots.sum()),
            "min": int(n_slots.min()),
            "median": float(n_slots.median()),
            "max": int(n_slots.max()),
            "by_kind": {
                str(k): int(v) for k, v in kept["slot_kinds"].explode().value_counts().items()
            },
        },
        "dwell": {
            "window_fixations": int(kept["window_fixations"].sum()),
            "window_fixation_ms": float(kept["window_fixation_ms"].sum()),
            "window_fixation_ms_on_slots": float(kept["window_fixation_ms_on_slots"].sum()),
            "trials_with_gaze": int((kept["gaze_ms"].map(sum) > 0).sum()),
            "trials_with_cursor": int((kept["cursor_ms"].map(sum) > 0).sum()),
        },
    }


def user_coverage(trials: pd.DataFrame, per_user: dict, participants: pd.Series) -> dict:
    """The report's users section: who has trials, samples and training samples."""
    return {
        "in_participants": len(participants),
        "with_trials": int(trials["user_id"].nunique()),
        "with_samples": len(per_user),
        "without_samples": sorted(set(trials["user_id"]) - set(per_user)),
        "without_train_samples": sorted(u for u, c in per_user.items() if not c["train"]),
        "participants_without_trials": sorted(set(participants) - set(trials["user_id"])),
    }


def split_report(
    trials: pd.DataFrame,
    split: QuerySplit,
    raw_dir: Path,
    listing: Listing,
    serp_aoi_paths: Sequence[str | Path],
) -> dict:
    """The preprocessing report over every trial (``trials``, each with its ``split``): counts
    kept and dropped by reason and split, queries, organic boxes, rendered-page checks, clicks,
    slots and dwell, users, what reading the raw files changed, and every dropped trial."""
    kept = trials[trials["reason"].isna()]
    dropped = trials[trials["reason"].notna()]
    per_user = {
        u: {s: int((g["split"] == s).sum()) for s in SPLITS} for u, g in kept.groupby("user_id")
    }
    participants, participant_notes = read_participants(raw_dir / PARTICIPANTS_FILE)
    return {
        "dataset": "adserp",
        "raw_dir": str(raw_dir),
        "trials": {"raw": len(trials), "kept": len(kept), "dropped": len(dropped)},
        "dropped_by_reason": {r: int((dropped["reason"] == r).sum()) for r in DROP_REASONS},
        "kept_by_split": {s: int((kept["split"] == s).sum()) for s in SPLITS},
        "queries": {
            "distinct": len(split.mapping()),
            **{s: len(getattr(split, s)) for s in SPLITS},
        },
        "organic_boxes": {s: int((trials["organic_source"] == s).sum()) for s in ORGANIC_SOURCES},
        "serp_checks": serp_check_summary(serp_aoi_paths),
        "clicks": {
            "final_click_kind": {
                str(k): int(v) for k, v in trials["click_kind"].value_counts().items()
            },
            "trials_with_several_clicks": int((trials["n_clicks"].fillna(0) > 1).sum()),
        },
        **slots_and_dwell(kept),
        "users": user_coverage(trials, per_user, participants["participant_id"]),
        "per_user": per_user,
        "raw_files": {
            PARTICIPANTS_FILE: participant_notes.as_dict(),
            **{
                TRIAL_FOLDERS[role][0]: pooled_notes(trials.set_index("trial_id")[f"{role}_notes"])
                for role in NOTED_ROLES
            },
        },
        "unrecognised_files": list(listing.unrecognised),
        "dropped_trials": [
            {"trial_id": t, "reason": r, "detail": d}
            for t, r, d in dropped[["trial_id", "reason", "detail"]].itertuples(index=False)
        ],
    }


def run_split(
    trials_paths: Sequence[str | Path],
    raw_dir: str | Path,
    split_out: str | Path,
    report_out: str | Path,
    seed: int = 42,
    test_fraction: float = 0.2,
    val_fraction: float = 0.15,
    serp_aoi_paths: Sequence[str | Path] = (),
) -> dict:
    """Stage 3: the query-disjoint split and the preprocessing report, which accounts for every
    trial found in the raw folder (kept, or dropped with its reason) and carries the consistency
    check of every rendered result page (``serp_aoi_paths``).

    A run in which no trial gives a sample is an error that names the drop reasons: an empty
    sample set is never a useful result, and a report alone is easily overlooked.
    """
    raw_dir = Path(raw_dir)
    trials = read_trials(trials_paths)
    listing = list_trials(raw_dir)
    unaccounted = sorted(set(listing.roles) ^ set(trials["trial_id"]))
    if unaccounted:
        raise AssertionError(
            f"trials in {raw_dir} and in the trial tables differ: {unaccounted[:5]} (rerun the "
            "trials stage for their users)"
        )
    if trials["reason"].notna().all():
        raise no_samples(raw_dir, "trial", len(trials), trials["reason"].value_counts().to_dict())
    split = query_split(trials["slug"].dropna(), seed, test_fraction, val_fraction)
    trials["split"] = trials["slug"].map(split.mapping())
    report = split_report(trials, split, raw_dir, listing, serp_aoi_paths)
    write_split_and_report(split.as_dict(), report, "trials", split_out, report_out)
    return report


def samples_from_trials(
    trials: pd.DataFrame,
    split: dict[str, str],
    user: str,
    truth: pd.DataFrame | None = None,
    where: str = "trials",
) -> pd.DataFrame:
    """Sample records of ``user``'s kept trials (image paths by convention), with the planted
    gaze truth per slot when ``truth`` (synthetic data) is given, else null."""
    kept = trials[(trials["user_id"] == user) & trials["reason"].isna()]
    if kept.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SAMPLE_COLUMNS})
    names = [image_names(user, t) for t in kept["trial_id"]]
    n = kept["slot_kinds"].map(len).to_numpy(dtype=np.int32)
    samples = kept.assign(
        dataset="adserp",
        screen_id=kept["trial_id"],
        content_id=kept["slug"],
        visit_index=kept["stop_index"].astype(np.int32),
        image_path=[p for p, _ in names],
        labelled_image_path=[q for _, q in names],
        image_width=kept["page_w"].astype(np.int32),
        image_height=kept["image_h"].astype(np.int32),
        slot_names=[[str(i + 1) for i in range(k)] for k in n],
        n_candidates=n,
        label=kept["label"].astype(np.int32),
        split=kept["slug"].map(split),
        truth_ms=None if truth is None else truth_per_slot(kept, truth, where),
    )
    return samples[SAMPLE_COLUMNS]


def run_shard(
    trials_path: str | Path,
    split_path: str | Path,
    render_summary: str | Path,
    user: str,
    shard_out: str | Path,
    truth_path: str | Path | None = None,
) -> int:
    """Stage 4 (per user): the user's Sample shard, pointing at the rendered images; with
    ``truth_path`` (the synthetic generator's ``truth/gaze_truth.csv``) each sample carries its
    planted gaze truth per slot."""
    trials = read_trials(trials_path)
    split = QuerySplit.from_dict(json.loads(Path(split_path).read_text())).mapping()
    rendered = set(json.loads(Path(render_summary).read_text())["trials"])
    truth = read_truth(truth_path) if truth_path is not None else None
    samples = samples_from_trials(trials, split, user, truth, str(truth_path))
    missing = sorted(set(samples["screen_id"]) - rendered)
    if missing:
        raise FileNotFoundError(
            f"{render_summary}: trials {missing[:5]} of {user} were not rendered"
        )
    write_samples(samples, shard_out)
    return len(samples)
