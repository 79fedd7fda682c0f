"""Is a trial's rendered result page the page its participant saw? Two checks against the dataset.

The organic boxes of :mod:`.serp` have no ground truth, so each render is checked where the
dataset does say something, and a trial that fails is dropped with the reason rather than kept
with boxes that may be wrong:

- **ads**: the rendered ad boxes against the shipped ``ad-boundary-data``: the same number of
  boxes in each category, and every coordinate (x, y, width, height) within ``max_error_px``.
  Boxes are paired in page order (top to bottom, then left to right). The ads are rendered from
  the same page as the organic results, so a render that reproduces them reproduces the layout;
- **click**: the final click must lie inside the box its XPath names. The click's page position
  is (xpos, ypos) x 1280/1422 with no scroll added (the mouse log's y is already a page
  coordinate). ``//*[@id='rso']/div[k]`` names the organic result of ``rank`` k (any of its
  ``sub`` boxes: the XPath names the ``#rso`` child, which may stack several results); the k-th
  div of ``#tads`` / ``#tadsb`` names the k-th top / bottom text ad (top ads are the text ads
  above the first organic result); a shopping XPath names either carousel. A click whose XPath
  names no box (an image, a link outside the results) cannot be checked and does not fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fixate.data.adserp.raw import AD_KINDS, read_ad_boxes, read_mouse, trial_file
from fixate.data.adserp.timeline import SCALE, classify_click

_TEXT_AD_DIV = re.compile(r"\[@id='(?:tads|tadsb)'\]/div(?:\[(\d+)\])?")


def _xywh(boxes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(n, 4) x, y, width, height of ad-boundary-data boxes, in page order."""
    rows = [
        (b["location"]["x"], b["location"]["y"], b["size"]["width"], b["size"]["height"])
        for b in boxes
    ]
    out = np.array(rows, dtype=float).reshape(-1, 4)
    return out[np.lexsort((out[:, 0], out[:, 1]))]


def _compare_ads(
    rendered: Mapping[str, Sequence], shipped: Mapping[str, Sequence]
) -> dict[str, dict]:
    """Per category: box counts, and the largest coordinate error when the counts agree."""
    out = {}
    for kind in AD_KINDS:
        ours, theirs = _xywh(rendered[kind]), _xywh(shipped[kind])
        error = None
        if len(ours) == len(theirs) and len(ours):
            error = float(np.abs(ours - theirs).max())
        out[kind] = {"rendered": len(ours), "shipped": len(theirs), "max_error_px": error}
    return out


def _named_boxes(serp_aoi: Mapping[str, Any], kind: str, rank: int | None, xpath: str) -> list:
    """The boxes ``[(x0, y0, x1, y1, sub)]`` that a click XPath of ``kind`` names (empty: none)."""
    ads = serp_aoi["ads"]
    if kind == "organic":
        return [
            (o["x_left"], o["y_top"], o["x_right"], o["y_bot"], o["sub"])
            for o in serp_aoi["organic"]
            if o["rank"] == rank
        ]
    if kind in ("ad_top", "ad_bottom"):
        first_result = min((o["y_top"] for o in serp_aoi["organic"]), default=np.inf)
        boxes = _xywh(ads["native_ad"])
        boxes = boxes[(boxes[:, 1] < first_result) == (kind == "ad_top")]
        match = _TEXT_AD_DIV.search(xpath)
        k = int(match.group(1) or 1) if match else 0
        boxes = boxes[k - 1 : k] if 0 < k <= len(boxes) else boxes[:0]
    elif kind == "shopping":
        boxes = np.concatenate([_xywh(ads["dd_top"]), _xywh(ads["dd_right"])])
    else:
        return []
    return [(x, y, x + w, y + h, None) for x, y, w, h in boxes]


def _check_click(serp_aoi: Mapping[str, Any], xpath: str, x_css: float, y_css: float) -> dict:
    kind, rank = classify_click(xpath)
    x, y = x_css * SCALE, y_css * SCALE
    out = {"xpath": xpath, "kind": kind, "rank": rank, "x": round(x, 1), "y": round(y, 1)}
    checkable = kind in ("ad_top", "ad_bottom", "shopping") or (kind == "organic" and rank)
    if not checkable:
        return {**out, "inside": None, "sub": None, "margin_px": None}
    hits = [
        (min(x - x0, x1 - x, y - y0, y1 - y), sub)
        for x0, y0, x1, y1, sub in _named_boxes(serp_aoi, kind, rank, xpath)
        if x0 <= x <= x1 and y0 <= y <= y1
    ]
    margin, sub = max(hits, key=lambda hit: hit[0]) if hits else (None, None)
    return {
        **out,
        "inside": bool(hits),
        "sub": sub,
        "margin_px": None if margin is None else round(float(margin), 1),
    }


def check_trial(
    serp_aoi: Mapping[str, Any],
    ad_boundary: Mapping[str, Sequence],
    clicks: Sequence[tuple[str, float, float]],
    *,
    max_error_px: float = 2.0,
) -> dict:
    """Check one trial's render (a :mod:`.serp` record) against the dataset.

    ``ad_boundary`` is the trial's ``ad-boundary-data`` object; ``clicks`` are the ``click`` rows
    of its mouse log, in time order, as ``(xpath, xpos, ypos)`` in CSS px (the last one is the
    trial's final click). Returns the counts and largest error per ad category, the overall
    largest error, the final click (its page position in screenshot px, the XPath's kind and
    rank, whether it lies inside the named box, in which ``sub`` box and how far from its edge),
    and ``ok`` with the ``reason`` for a failure ("" when ok).
    """
    ads = _compare_ads(serp_aoi["ads"], ad_boundary)
    problems = []
    for kind, res in ads.items():
        if res["rendered"] != res["shipped"]:
            problems.append(
                f"{kind}: {res['rendered']} rendered vs {res['shipped']} in ad-boundary-data"
            )
        elif res["max_error_px"] is not None and res["max_error_px"] > max_error_px:
            problems.append(f"{kind}: off by {res['max_error_px']:g} px (> {max_error_px:g})")
    errors = [r["max_error_px"] for r in ads.values() if r["max_error_px"] is not None]
    click = _check_click(serp_aoi, *clicks[-1]) if clicks else None
    if click is not None and click["inside"] is False:
        target = f"rank {click['rank']}" if click["kind"] == "organic" else "box"
        problems.append(
            f"final click ({click['x']}, {click['y']}) outside the {click['kind']} {target} "
            f"its XPath names"
        )
    return {
        "trial": serp_aoi["trial"],
        "ok": not problems,
        "reason": "; ".join(problems),
        "ads": ads,
        "max_error_px": max(errors, default=None),
        "click": click,
    }


def ad_boundary_of(raw_dir: str | Path, trial: str) -> dict[str, list[dict]]:
    """The trial's ``ad-boundary-data`` object, read and validated by the raw reader."""
    boxes = read_ad_boxes(trial_file(raw_dir, trial, "ads"))
    return {
        kind: [
            {
                "location": {"x": b.x0, "y": b.y0},
                "size": {"width": b.x1 - b.x0, "height": b.y1 - b.y0},
            }
            for b in boxes[boxes["kind"] == kind].itertuples()
        ]
        for kind in AD_KINDS
    }


def clicks_of(raw_dir: str | Path, trial: str) -> list[tuple[str, float, float]]:
    """The trial's ``click`` rows in time order, as ``(xpath, xpos, ypos)`` (CSS px)."""
    mouse, _ = read_mouse(trial_file(raw_dir, trial, "mouse"))
    rows = mouse[mouse["event"] == "click"]
    return list(zip(rows["xpath"], rows["xpos"], rows["ypos"], strict=True))


def check_trial_files(
    serp_aoi: Mapping[str, Any], raw_dir: str | Path, *, max_error_px: float = 2.0
) -> dict:
    """:func:`check_trial` with the trial's ad boxes and clicks read from the raw data folder."""
    trial = serp_aoi["trial"]
    return check_trial(
        serp_aoi,
        ad_boundary_of(raw_dir, trial),
        clicks_of(raw_dir, trial),
        max_error_px=max_error_px,
    )
