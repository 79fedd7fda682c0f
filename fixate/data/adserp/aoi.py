"""Areas of interest of a trial: the clicked one, those on screen, and the dwell on each.

AOIs are the ad boxes (native_ad, dd_top, dd_right) plus, when available, the organic result
boxes, all in screenshot (page) px as a table ``kind, rank, x0, y0, x1, y1``. The slots of a sample
are the AOIs visible in the final viewport, clipped to it (boxes cut to zero height are dropped,
as the reference's trainer did) and numbered top to bottom, then left to right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fixate.data.adserp.timeline import Click

# the AOI kinds a click of each XPath kind may land on (image and other clicks: any)
CLICK_TARGETS = {
    "organic": ("organic",),
    "ad_top": ("native_ad",),
    "ad_bottom": ("native_ad",),
    "shopping": ("dd_top", "dd_right"),
}
BOX = ["x0", "y0", "x1", "y1"]


def inside(boxes: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(points, boxes) mask: point inside box, edges included."""
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[:, None]
    return (x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])


def resolve_click(aois: pd.DataFrame, click: Click) -> tuple[int | None, str | None]:
    """Row position (in ``aois``) of the clicked AOI, or None with the reason.

    The AOI is found geometrically (the click position is reliable once the scroll is not added
    twice) and must agree with what the click's XPath names: an organic click must land on the
    organic box of its rank, a text-ad click on a text ad, a shopping click on a shopping box.
    Among several agreeing boxes (nested results) the smallest wins.
    """
    kinds = aois["kind"].to_numpy()
    if click.kind == "organic" and not (kinds == "organic").any():
        return None, "no_organic_boxes"
    hit = inside(aois[BOX].to_numpy(dtype=float), [click.x], [click.y])[0]
    if not hit.any():
        return None, "click_not_on_an_aoi"
    targets = CLICK_TARGETS.get(click.kind)
    if targets is not None:
        hit &= np.isin(kinds, targets)
        if click.kind == "organic" and click.rank is not None:
            hit &= aois["rank"].to_numpy() == click.rank
        if not hit.any():
            return None, "click_type_mismatch"
    area = (aois["x1"] - aois["x0"]).to_numpy() * (aois["y1"] - aois["y0"]).to_numpy()
    candidates = np.flatnonzero(hit)
    return int(candidates[np.argmin(area[candidates])]), None


def visible_aois(aois: pd.DataFrame, scroll_px: float, image_w: int, image_h: int) -> pd.DataFrame:
    """The AOIs on screen in the viewport image (page rows ``scroll_px`` to ``scroll_px +
    image_h``), clipped to it, in slot order; ``page_row`` is the row in ``aois``.

    Adds ``vx0, vy0, vx1, vy1`` (viewport px) and keeps the clipped page box in ``x0 ... y1``.
    """
    frame = aois.reset_index(drop=True).assign(page_row=np.arange(len(aois)))
    frame["x0"] = frame["x0"].clip(0, image_w)
    frame["x1"] = frame["x1"].clip(0, image_w)
    frame["y0"] = frame["y0"].clip(scroll_px, scroll_px + image_h)
    frame["y1"] = frame["y1"].clip(scroll_px, scroll_px + image_h)
    frame = frame[(frame["y1"] > frame["y0"]) & (frame["x1"] > frame["x0"])]
    frame = frame.assign(
        vx0=frame["x0"], vy0=frame["y0"] - scroll_px, vx1=frame["x1"], vy1=frame["y1"] - scroll_px
    )
    return frame.sort_values(["vy0", "vx0", "page_row"], kind="stable").reset_index(drop=True)


def window_fixations(fixations: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    """The fixations of the window [start, end) as ``x, y, ms``.

    A fixation belongs to the window if its onset does (its page position was taken under the
    window's scroll offset), for its duration up to the window's end.
    """
    t = fixations["timestamp"].to_numpy(dtype=np.int64)
    take = (t >= start) & (t < end)
    return pd.DataFrame(
        {
            "x": fixations["FPOGX"].to_numpy(dtype=float)[take],
            "y": fixations["FPOGY"].to_numpy(dtype=float)[take],
            "ms": np.minimum(fixations["FPOGD"].to_numpy(dtype=float)[take], end - t[take]),
        }
    )


def gaze_dwell(window: pd.DataFrame, boxes: np.ndarray) -> np.ndarray:
    """Fixation ms on each box (page px) of the window's fixations (``window_fixations``); a
    fixation inside overlapping boxes counts for each."""
    return window["ms"].to_numpy() @ inside(boxes, window["x"], window["y"])


def cursor_dwell(
    track: pd.DataFrame, boxes: np.ndarray, start: int, end: int, scroll_px: float
) -> np.ndarray:
    """Pointer ms on each box (page px) in the window [start, end), the pointer resting where the
    last event left it; the position held when the window opens counts from its start."""
    t = track["t"].to_numpy(dtype=np.int64)
    if not len(t):
        return np.zeros(len(boxes))
    seg_end = np.minimum(np.r_[t[1:], end], end)
    ms = np.clip(seg_end - np.maximum(t, start), 0, None).astype(float)
    hit = inside(boxes, track["x"].to_numpy(), track["client_y"].to_numpy() + scroll_px)
    return ms @ hit
