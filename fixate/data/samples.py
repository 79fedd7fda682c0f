"""The Sample record (one screen of one user) and its per-user Parquet shards.

Every dataset writes the same table, so training, evaluation, baselines and reports never branch
on the dataset. Slots are the candidate regions of the screen (RecGaze: fully visible posters,
lettered A-O; AdSERP: numbered result and ad boxes); their number varies per sample.

``truth_ms`` is the one optional column: synthetic users carry their planted expected dwell per
slot (what the generator's user would look at on this screen, on average over many visits), so a
trained simulator can be scored against the truth instead of one noisy session. Real data has no
truth; the column is then null and every stage works without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fixate.data.tables import write_parquet

SPLITS = ("train", "val", "test")

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        # unique per user: RecGaze "T07", AdSERP the trial id
        pa.field("screen_id", pa.string(), nullable=False),
        # what the split keeps disjoint: RecGaze the task, AdSERP the query
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("visit_index", pa.int32(), nullable=False),
        # paths relative to the dataset folder (results/<dataset>/)
        pa.field("image_path", pa.string(), nullable=False),
        pa.field("labelled_image_path", pa.string(), nullable=False),
        pa.field("image_width", pa.int32(), nullable=False),
        pa.field("image_height", pa.int32(), nullable=False),
        # candidate boxes (x0, y0, x1, y1) in pixels of the image as rendered
        pa.field("slot_boxes", pa.list_(pa.list_(pa.float32(), 4)), nullable=False),
        pa.field("slot_names", pa.list_(pa.string()), nullable=False),
        pa.field("n_candidates", pa.int32(), nullable=False),
        # index of the clicked slot
        pa.field("label", pa.int32(), nullable=False),
        pa.field("gaze_ms", pa.list_(pa.float64()), nullable=False),
        pa.field("cursor_ms", pa.list_(pa.float64()), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("profile", pa.string(), nullable=False),
        # synthetic data only: the planted expected gaze dwell per slot (ms); null on real data
        pa.field("truth_ms", pa.list_(pa.float64()), nullable=True),
    ]
)
SAMPLE_COLUMNS = SAMPLE_SCHEMA.names


def check_samples(frame: pd.DataFrame, where: str) -> None:
    """Raise ValueError if rows break the Sample invariants (lengths, label range, split)."""
    if list(frame.columns) != SAMPLE_COLUMNS:
        raise ValueError(f"{where}: columns {list(frame.columns)} != {SAMPLE_COLUMNS}")
    if frame.empty:
        return
    n = frame["n_candidates"].to_numpy()
    for col in ("slot_boxes", "slot_names", "gaze_ms", "cursor_ms", "truth_ms"):
        lengths = frame[col].map(lambda v: n_slots_of(v, -1)).to_numpy()
        lengths = np.where(lengths < 0, n, lengths)  # a missing truth has no length to check
        if (lengths != n).any():
            bad = frame.iloc[int((lengths != n).argmax())]
            raise ValueError(
                f"{where}: {col} of {bad['user_id']}/{bad['screen_id']} has {len(bad[col])} "
                f"entries for {bad['n_candidates']} candidates"
            )
    label = frame["label"].to_numpy()
    if ((label < 0) | (label >= n)).any():
        raise ValueError(f"{where}: a label lies outside its candidate range")
    if not frame["split"].isin(SPLITS).all():
        raise ValueError(f"{where}: split must be one of {SPLITS}")


def n_slots_of(values: Sequence | np.ndarray | None, missing: int) -> int:
    """Length of a per-slot list, or ``missing`` for a null (a sample without truth)."""
    if values is None or (isinstance(values, float) and np.isnan(values)):
        return missing
    return len(values)


def truth_of(value: Sequence | np.ndarray | None) -> np.ndarray | None:
    """A sample's planted truth as an array, or None when it has none (real data)."""
    return None if n_slots_of(value, -1) < 0 else np.asarray(value, dtype=np.float64)


def has_truth(frame: pd.DataFrame) -> bool:
    """Whether every sample of ``frame`` carries the planted truth (synthetic data)."""
    return (
        "truth_ms" in frame
        and len(frame) > 0
        and bool(frame["truth_ms"].map(lambda v: truth_of(v) is not None).all())
    )


def held_out_users(users: Sequence[str] | pd.Series, n: int) -> list[str]:
    """The ``n`` users a training run leaves out, to be enrolled afterwards: the last in id order
    (synthetic users are drawn independently, so any fixed choice is a fair one)."""
    if n < 0:
        raise ValueError(f"holdout_users must be >= 0, not {n}")
    ordered = sorted(set(map(str, users)))
    if n and n >= len(ordered):
        raise ValueError(
            f"cannot hold out {n} of {len(ordered)} users: none would be left to train"
        )
    return ordered[len(ordered) - n :] if n else []


def user_profiles(samples: pd.DataFrame, users: Sequence[str]) -> dict[str, str]:
    """Each user's profile text (one per user in every dataset), for ``users`` in their order."""
    profiles = samples.groupby("user_id")["profile"].first()
    missing = sorted(set(users) - set(profiles.index))
    if missing:
        raise ValueError(f"no samples, hence no profile, for users {missing}")
    return {user: str(profiles[user]) for user in users}


def write_samples(frame: pd.DataFrame, path: str | Path) -> None:
    """Check and write one shard (possibly empty) atomically; a frame without truth gets nulls."""
    if "truth_ms" not in frame:
        frame = frame.assign(truth_ms=None)
    frame = frame[SAMPLE_COLUMNS].reset_index(drop=True)
    check_samples(frame, str(path))
    write_parquet(frame, path, schema=SAMPLE_SCHEMA)


def read_samples(paths: Sequence[str | Path] | str | Path) -> pd.DataFrame:
    """Read and concatenate shards; add ``dataset_dir`` to resolve the relative image paths."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    frames = []
    for path in paths:
        frame = pq.read_table(path, schema=SAMPLE_SCHEMA).to_pandas()
        check_samples(frame, str(path))
        frame["dataset_dir"] = str(Path(path).resolve().parent.parent)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*SAMPLE_COLUMNS, "dataset_dir"])
    return pd.concat(frames, ignore_index=True)


def image_file(row: pd.Series, labelled: bool = True) -> Path:
    """Absolute path of a sample's image (the letter/number-labelled one by default)."""
    rel = row["labelled_image_path"] if labelled else row["image_path"]
    return Path(row["dataset_dir"]) / rel


SIGNAL_COLUMNS = {"fixation": "gaze_ms", "cursor": "cursor_ms"}


def with_signal(frame: pd.DataFrame, signal: str, require_both: bool = False) -> pd.DataFrame:
    """Samples whose supervision signal has dwell (and, with ``require_both``, the other too).

    Training, evaluation and the baselines all select samples through this one rule.
    """
    if signal not in SIGNAL_COLUMNS:
        raise ValueError(f"signal must be one of {sorted(SIGNAL_COLUMNS)}, not {signal!r}")
    has = {
        s: frame[c].map(lambda d: float(sum(d)) > 0).to_numpy(dtype=bool)
        for s, c in SIGNAL_COLUMNS.items()
    }
    keep = has[signal] & (has["fixation"] & has["cursor"] if require_both else True)
    return frame[keep]
