"""Time in one AdSERP trial: the scroll timeline, scroll stops, the final click, the cursor track.

Verified facts this module rests on:

* Mouse coordinates are *document* CSS pixels: ``ypos`` already includes the scroll offset, so a
  click's page position is (xpos, ypos) x ``SCALE`` with nothing added (the reference added the
  scroll a second time; on p007-b3-t8 only the correct reading puts the click on the ad that the
  click's XPath names). ``scroll`` rows carry the scroll offset (CSS px) in ``ypos``.
* Screenshot px = CSS px x 1280/1422 (the study's 90% page zoom).
* A trial can hold several clicks; the **last** ends the trial (the reference took the first).
* The logged ``click`` lags its ``mousedown`` by 1-3 s while the eyes move on, so by default the
  decision window ends at the final click's ``mousedown``; ``decision_end="click"`` reproduces the
  reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SCALE = 1280 / 1422
# events whose (xpos, ypos) is where the pointer is
POINTER_EVENTS = ("mousemove", "mouseover", "mouseout", "mousedown", "mouseup", "click", "wheel")
DECISION_ENDS = ("mousedown", "click")
CLICK_KINDS = ("organic", "ad_top", "ad_bottom", "shopping", "image", "other")

_ORGANIC_RANK = re.compile(r"rso'?\]?/div\[(\d+)\]")


def classify_click(xpath: str) -> tuple[str, int | None]:
    """What a click's target XPath names: (kind, organic rank or None).

    ``tadsb`` (bottom text ads) is tested before ``tads``, of which it is an extension (the
    reference tested ``tads`` first and so called every bottom ad a top ad). The organic rank k
    comes from ``[@id='rso']/div[k]``, the k-th result block.
    """
    if "[@id='rso']" in xpath or "#rso" in xpath:
        match = _ORGANIC_RANK.search(xpath)
        return "organic", int(match.group(1)) if match else None
    if "[@id='tadsb']" in xpath or "#tadsb" in xpath:
        return "ad_bottom", None
    if "[@id='tads']" in xpath or re.search(r"#tads\b", xpath):
        return "ad_top", None
    if "vplaurlt" in xpath or "platop" in xpath:
        return "shopping", None
    if "dimg_" in xpath:
        return "image", None
    return "other", None


@dataclass(frozen=True)
class ScrollTimeline:
    """Scroll offset (screenshot px) as a step function of time: ``offsets[i]`` from ``times[i]``
    on. The first step is the page load at offset 0."""

    times: np.ndarray
    offsets: np.ndarray

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """The offset in effect at ``t`` (a scroll at exactly ``t`` has happened)."""
        i = np.searchsorted(self.times, np.asarray(t), side="right") - 1
        return self.offsets[np.clip(i, 0, None)]

    def stops(self, t_end: float, min_stop_ms: float) -> pd.DataFrame:
        """Scroll stops up to ``t_end``: the intervals between consecutive scroll events (and from
        the load) that last at least ``min_stop_ms``; the last one ends at ``t_end``."""
        times = self.times[self.times <= t_end]
        ends = np.r_[times[1:], t_end]
        frame = pd.DataFrame({"start": times, "end": ends, "scroll_px": self.offsets[: len(times)]})
        return frame[(frame["end"] - frame["start"]) >= min_stop_ms].reset_index(drop=True)


def scroll_timeline(mouse: pd.DataFrame) -> ScrollTimeline:
    """The scroll offset over a trial, from its ``scroll`` rows (offsets rounded to whole px).

    The log (in time order) opens with the page load (``load`` and ``pageshow`` rows at the same
    time stamp in every real trial), at offset 0.
    """
    t = mouse["timestamp"].to_numpy(dtype=np.int64)
    is_scroll = (mouse["event"] == "scroll").to_numpy()
    offsets = np.round(mouse["ypos"].to_numpy(dtype=float)[is_scroll] * SCALE)
    return ScrollTimeline(np.r_[t[:1], t[is_scroll]], np.r_[0.0, offsets].astype(np.int64))


@dataclass(frozen=True)
class Click:
    """The click that ends a trial (the last one), at its page position in screenshot px."""

    t_click: int
    t_mousedown: int | None
    x: float
    y: float
    xpath: str
    kind: str
    rank: int | None
    n_clicks: int

    def decision_end(self, which: str) -> int | None:
        """End of the decision window: the final click's ``mousedown`` or its ``click``."""
        if which not in DECISION_ENDS:
            raise ValueError(f"decision_end must be one of {DECISION_ENDS}, not {which!r}")
        return self.t_mousedown if which == "mousedown" else self.t_click


def final_click(mouse: pd.DataFrame) -> Click | None:
    """The last ``click`` of the log and the ``mousedown`` that began it (the last one after the
    previous click, if any); None when the trial has no click."""
    event = mouse["event"].to_numpy()
    t = mouse["timestamp"].to_numpy(dtype=np.int64)
    clicks = np.flatnonzero(event == "click")
    if not len(clicks):
        return None
    last = clicks[-1]
    after = clicks[-2] if len(clicks) > 1 else -1
    downs = np.flatnonzero(event[after + 1 : last] == "mousedown") + after + 1
    row = mouse.iloc[last]
    kind, rank = classify_click(row["xpath"])
    return Click(
        t_click=int(t[last]),
        t_mousedown=int(t[downs[-1]]) if len(downs) else None,
        x=float(row["xpos"]) * SCALE,
        y=float(row["ypos"]) * SCALE,
        xpath=row["xpath"],
        kind=kind,
        rank=rank,
        n_clicks=len(clicks),
    )


def pointer_track(mouse: pd.DataFrame, timeline: ScrollTimeline) -> pd.DataFrame:
    """Pointer positions in screenshot px: ``t``, ``x`` and ``client_y`` (y on the screen, i.e. the
    page y at the event minus the scroll then in effect).

    Between events the pointer rests on the screen, so while the page scrolls under it its page y
    moves: page y at a later time = ``client_y`` + the scroll then. (On p014-b4-t5 the pointer's
    client y stays at 568 px through a wheel scroll of 222 CSS px.)
    """
    rows = mouse[mouse["event"].isin(POINTER_EVENTS)]
    t = rows["timestamp"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "t": t,
            "x": rows["xpos"].to_numpy(dtype=float) * SCALE,
            "client_y": rows["ypos"].to_numpy(dtype=float) * SCALE - timeline.at(t),
        }
    )
