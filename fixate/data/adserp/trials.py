"""One trial's decision sample, or the reason it cannot be one.

The decision window is the **final scroll stop**: from the last scroll event before the decision
end (or the page load) to that end, the final click's ``mousedown`` by default (see
:mod:`.timeline`). The sample is the viewport at that stop: its visible AOIs (numbered slots),
the clicked one, and the gaze and cursor dwell on each in the window.

A trial that cannot give a sample is kept in the table with the first reason that applies, in the
order of ``DROP_REASONS``; a file that is present but malformed stops the run instead
(:class:`~fixate.data.errors.RawDataError`), since it signals a broken copy, not a trial to skip.
What reading the mouse and fixation logs removed or reordered (repeated rows, rows out of time
order, undocumented columns) is kept with the trial (``mouse_notes``, ``fixations_notes``) for the
report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from fixate.data.adserp.aoi import (
    BOX,
    cursor_dwell,
    gaze_dwell,
    inside,
    resolve_click,
    visible_aois,
    window_fixations,
)
from fixate.data.adserp.raw import (
    ORGANIC_FOLDER,
    PARTICIPANT_COLUMNS,
    TRIAL_FOLDERS,
    Listing,
    participant_of,
    read_ad_boxes,
    read_fixations,
    read_mouse,
    read_organic_boxes,
    read_trial_metadata,
    screenshot_size,
    trial_file,
)
from fixate.data.adserp.timeline import (
    DECISION_ENDS,
    SCALE,
    Click,
    ScrollTimeline,
    final_click,
    pointer_track,
    scroll_timeline,
)
from fixate.data.tables import NOTES_TYPE

SCREENSHOT_W = 1280
VIEWPORT_H = round(1024 * SCALE)  # 922, the reference's viewport (screen height x 0.9)
HEIGHT_TOLERANCE_PX = 3  # screenshot height vs document height x SCALE (rounding and borders)

# Checked in this order; a trial is reported under the first reason that applies.
DROP_REASONS = (
    "missing_file",
    "unknown_participant",
    "screenshot_wrong_width",
    "screenshot_height_mismatch",
    "no_click",
    "no_mousedown",
    "final_stop_too_short",
    "no_organic_boxes",
    "serp_check_failed",
    "click_not_on_an_aoi",
    "click_type_mismatch",
    "clicked_aoi_not_visible",
    "no_dwell_on_aois",
)
ORGANIC_SOURCES = ("user", "rendered", "none")
NOTED_ROLES = ("mouse", "fixations")  # the CSV logs of a trial, whose reading notes are kept

TRIAL_SCHEMA = pa.schema(
    [
        pa.field("trial_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("slug", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("organic_source", pa.string()),
        pa.field("n_clicks", pa.int32()),
        pa.field("click_kind", pa.string()),
        pa.field("click_rank", pa.int32()),
        pa.field("click_xpath", pa.string()),
        pa.field("click_x", pa.float64()),
        pa.field("click_y", pa.float64()),
        pa.field("t_load", pa.int64()),
        pa.field("t_mousedown", pa.int64()),
        pa.field("t_click", pa.int64()),
        pa.field("stop_start", pa.int64()),
        pa.field("stop_end", pa.int64()),
        pa.field("stop_index", pa.int32()),
        pa.field("scroll_px", pa.int32()),
        pa.field("page_w", pa.int32()),
        pa.field("page_h", pa.int32()),
        pa.field("image_h", pa.int32()),
        pa.field("n_aois_page", pa.int32()),
        pa.field("slot_boxes", pa.list_(pa.list_(pa.float32(), 4))),
        pa.field("slot_kinds", pa.list_(pa.string())),
        pa.field("slot_ranks", pa.list_(pa.int32())),
        pa.field("label", pa.int32()),
        pa.field("gaze_ms", pa.list_(pa.float64())),
        pa.field("cursor_ms", pa.list_(pa.float64())),
        pa.field("window_fixations", pa.int32()),
        pa.field("window_fixation_ms", pa.float64()),
        pa.field("window_fixation_ms_on_slots", pa.float64()),
        pa.field("profile", pa.string()),
        *(pa.field(f"{role}_notes", NOTES_TYPE) for role in NOTED_ROLES),
    ]
)


@dataclass(frozen=True)
class Settings:
    """Preprocessing choices (config ``adserp.preprocess``)."""

    decision_end: str = "mousedown"
    min_stop_ms: float = 400.0
    viewport_h: int = VIEWPORT_H

    def __post_init__(self) -> None:
        if self.decision_end not in DECISION_ENDS:
            raise ValueError(f"decision_end must be one of {DECISION_ENDS}")


# participants.csv has pref_website and online_shopping_freq swapped: the
# "website" column holds Monthly/Rarely/Weekly, the "frequency" column Amazon/eBay/... A row is put
# right when its pref_website looks like a frequency and its online_shopping_freq does not, so a
# corrected release is read as it is.
_FREQUENCY = re.compile(
    r"daily|week|month|year|annual|rarely|never|often|sometimes|always|times|occasionally", re.I
)


def profile_texts(participants: pd.DataFrame) -> tuple[pd.Series, int]:
    """Persona text per participant id (every column, ``name: value``, the swapped pair put
    right), and the number of rows that were swapped."""
    frame = participants.copy()
    website = frame["pref_website"].astype(str)
    freq = frame["online_shopping_freq"].astype(str)
    swapped = (website.str.contains(_FREQUENCY) & ~freq.str.contains(_FREQUENCY)).to_numpy()
    frame.loc[swapped, "pref_website"] = freq[swapped]
    frame.loc[swapped, "online_shopping_freq"] = website[swapped]
    parts = [name + ": " + frame[name].astype(str) for name in PARTICIPANT_COLUMNS[1:]]
    text = parts[0].str.cat(parts[1:], sep=", ")
    return pd.Series(text.to_numpy(), index=frame["participant_id"].to_numpy()), int(swapped.sum())


def organic_boxes(
    raw_dir: Path, trial: str, organic_dir: Path | None
) -> tuple[pd.DataFrame | None, str]:
    """Organic boxes of a trial and where they came from: the user's ``organic-aoi-data/`` in
    the raw folder first, else ``organic_dir`` (rendered SERP boxes), else none."""
    for source, folder in (("user", raw_dir / ORGANIC_FOLDER), ("rendered", organic_dir)):
        if folder is not None and (Path(folder) / f"{trial}.json").is_file():
            return read_organic_boxes(Path(folder) / f"{trial}.json", trial), source
    return None, "none"


class _Dropped(Exception):
    """A trial that cannot give a sample: the first reason that applies and its detail."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def build_trial(
    raw_dir: Path,
    trial: str,
    listing: Listing,
    profiles: pd.Series,
    organic_dir: Path | None,
    settings: Settings,
) -> dict:
    """The trial's record (``TRIAL_SCHEMA``): a sample, or a drop ``reason`` with ``detail``.

    The checks run in the order of ``DROP_REASONS``; each stage adds what it found to the
    record, so a dropped trial keeps everything read before its reason.
    """
    rec: dict = {"trial_id": trial, "user_id": participant_of(trial)}
    try:
        missing = listing.missing(trial)
        if missing:
            if TRIAL_FOLDERS["metadata"][0] not in missing:  # its query still counts in the split
                rec["slug"] = read_trial_metadata(trial_file(raw_dir, trial, "metadata")).slug
            raise _Dropped("missing_file", "no file in " + ", ".join(f"{m}/" for m in missing))
        organic = _checked_page(rec, raw_dir, profiles, organic_dir)
        mouse, click, timeline = _final_stop(rec, raw_dir, settings)
        _slots_and_dwell(rec, raw_dir, organic, mouse, click, timeline, settings)
    except _Dropped as dropped:
        return {**rec, "reason": dropped.reason, "detail": dropped.detail or None}
    return {**rec, "reason": None, "detail": None}


def _checked_page(
    rec: dict, raw_dir: Path, profiles: pd.Series, organic_dir: Path | None
) -> pd.DataFrame | None:
    """The trial's organic boxes (None without any), once its rendered page (if any) passed its
    check, its participant is known and its screenshot fits the page; adds the query, the
    boxes' source, the profile and the screenshot size to ``rec``."""
    trial, user = rec["trial_id"], rec["user_id"]
    meta = read_trial_metadata(trial_file(raw_dir, trial, "metadata"))
    organic, source = organic_boxes(raw_dir, trial, organic_dir)
    rec.update(slug=meta.slug, organic_source=source)
    if source == "rendered":
        check = json.loads((Path(organic_dir) / f"{trial}.json").read_text()).get("check")
        if check is not None and not check["ok"]:
            raise _Dropped("serp_check_failed", check["reason"])
    if user not in profiles.index:
        raise _Dropped("unknown_participant", f"{user} is not in participants.csv")
    rec["profile"] = profiles[user]
    width, height = screenshot_size(trial_file(raw_dir, trial, "screenshot"))
    rec.update(page_w=width, page_h=height)
    if width != SCREENSHOT_W:
        raise _Dropped("screenshot_wrong_width", f"{width} px wide, expected {SCREENSHOT_W}")
    expected_h = round(meta.document_h * SCALE)
    if abs(height - expected_h) > HEIGHT_TOLERANCE_PX:
        raise _Dropped(
            "screenshot_height_mismatch",
            f"{height} px tall; document height {meta.document_h} CSS px gives {expected_h}",
        )
    return organic


def _final_stop(
    rec: dict, raw_dir: Path, settings: Settings
) -> tuple[pd.DataFrame, Click, ScrollTimeline]:
    """The trial's mouse log, final click and scroll timeline, once the click has a decision end
    and the final scroll stop before it lasts ``min_stop_ms``; adds the click, the times and the
    stop to ``rec``."""
    mouse, notes = read_mouse(trial_file(raw_dir, rec["trial_id"], "mouse"))
    rec["mouse_notes"] = notes.as_dict()
    click = final_click(mouse)
    if click is None:
        raise _Dropped("no_click")
    timeline = scroll_timeline(mouse)
    rec.update(
        n_clicks=click.n_clicks,
        click_kind=click.kind,
        click_rank=click.rank,
        click_xpath=click.xpath,
        click_x=click.x,
        click_y=click.y,
        t_load=int(timeline.times[0]),
        t_mousedown=click.t_mousedown,
        t_click=click.t_click,
    )
    end = click.decision_end(settings.decision_end)
    if end is None:
        raise _Dropped("no_mousedown", "the final click has no mousedown after the previous click")
    final = timeline.stops(end, min_stop_ms=0).iloc[-1]  # the step in effect at the end
    stop_start, scroll = int(final["start"]), int(final["scroll_px"])
    rec.update(stop_start=stop_start, stop_end=end, scroll_px=scroll)
    if end - stop_start < settings.min_stop_ms:
        raise _Dropped(
            "final_stop_too_short",
            f"{end - stop_start} ms from the last scroll to the decision ({settings.decision_end})",
        )
    rec["stop_index"] = len(timeline.stops(end, settings.min_stop_ms)) - 1
    return mouse, click, timeline


def _slots_and_dwell(
    rec: dict,
    raw_dir: Path,
    organic: pd.DataFrame | None,
    mouse: pd.DataFrame,
    click: Click,
    timeline: ScrollTimeline,
    settings: Settings,
) -> None:
    """Add the viewport's slots at the final stop, the clicked one and the gaze and cursor dwell
    on each in the decision window to ``rec``, once the click lands on an AOI that is visible
    and someone looked or pointed at a slot."""
    stop_start, end, scroll = rec["stop_start"], rec["stop_end"], rec["scroll_px"]
    ads = read_ad_boxes(trial_file(raw_dir, rec["trial_id"], "ads"))
    aois = pd.concat([ads, organic], ignore_index=True) if organic is not None else ads
    rec["n_aois_page"] = len(aois)
    clicked, why = resolve_click(aois, click)
    if clicked is None:
        raise _Dropped(why, f"{click.kind} click at ({click.x:.0f}, {click.y:.0f}) px")
    image_h = max(0, min(settings.viewport_h, rec["page_h"] - scroll))
    rec["image_h"] = image_h
    slots = visible_aois(aois, scroll, rec["page_w"], image_h)
    label = np.flatnonzero(slots["page_row"].to_numpy() == clicked)
    if not len(label):
        raise _Dropped("clicked_aoi_not_visible", f"viewport rows {scroll}-{scroll + image_h}")
    fixations, notes = read_fixations(trial_file(raw_dir, rec["trial_id"], "fixations"))
    rec["fixations_notes"] = notes.as_dict()
    window = window_fixations(fixations, stop_start, end)
    boxes = slots[BOX].to_numpy(dtype=float)
    gaze = gaze_dwell(window, boxes)
    cursor = cursor_dwell(pointer_track(mouse, timeline), boxes, stop_start, end, scroll)
    rec.update(
        slot_boxes=slots[["vx0", "vy0", "vx1", "vy1"]].to_numpy(dtype=float).tolist(),
        slot_kinds=slots["kind"].tolist(),
        slot_ranks=slots["rank"].tolist(),
        label=int(label[0]),
        gaze_ms=gaze.tolist(),
        cursor_ms=cursor.tolist(),
        window_fixations=len(window),
        window_fixation_ms=float(window["ms"].sum()),
        window_fixation_ms_on_slots=float(
            window["ms"].to_numpy() @ inside(boxes, window["x"], window["y"]).any(axis=1)
        ),
    )
    if gaze.sum() <= 0 and cursor.sum() <= 0:
        raise _Dropped("no_dwell_on_aois", "no fixation or pointer time on any slot in the window")


def trial_table(records: list[dict]) -> pd.DataFrame:
    """The records as a frame with every ``TRIAL_SCHEMA`` column (missing values as None)."""
    return (
        pd.DataFrame(records, columns=TRIAL_SCHEMA.names)
        .astype(object)
        .where(lambda f: f.notna(), None)
    )
