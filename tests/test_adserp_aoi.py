"""AOIs of a trial: the clicked one, those visible at the final stop, gaze and cursor dwell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixate.data.adserp.aoi import (
    cursor_dwell,
    gaze_dwell,
    resolve_click,
    visible_aois,
    window_fixations,
)
from fixate.data.adserp.raw import BOX_COLUMNS
from fixate.data.adserp.timeline import Click


def aois(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


PAGE = aois(
    ("dd_top", 1, 162, 158, 748, 400),
    ("dd_right", 1, 802, 158, 1023, 700),
    ("native_ad", 1, 162, 416, 702, 485),
    ("organic", 1, 162, 700, 702, 860),
    ("organic", 2, 162, 889, 749, 1080),
    ("organic", 2, 180, 950, 700, 1040),  # an indented second result inside result 2
    ("native_ad", 2, 162, 1500, 702, 1569),
)


def click(kind: str, x: float, y: float, rank: int | None = None) -> Click:
    return Click(0, 0, x, y, "", kind, rank, 1)


def test_the_click_is_found_by_position_and_must_agree_with_its_xpath():
    assert resolve_click(PAGE, click("ad_top", 300, 450)) == (2, None)
    assert resolve_click(PAGE, click("organic", 300, 800, rank=1)) == (3, None)
    assert resolve_click(PAGE, click("organic", 300, 1000, rank=2)) == (5, None)  # the smaller
    assert resolve_click(PAGE, click("shopping", 900, 300)) == (1, None)
    assert resolve_click(PAGE, click("image", 300, 800)) == (3, None)  # any AOI under it
    assert resolve_click(PAGE, click("organic", 300, 800, rank=2)) == (None, "click_type_mismatch")
    assert resolve_click(PAGE, click("ad_top", 300, 800)) == (None, "click_type_mismatch")
    assert resolve_click(PAGE, click("organic", 300, 1300)) == (None, "click_not_on_an_aoi")
    ads_only = PAGE[PAGE["kind"] != "organic"]
    assert resolve_click(ads_only, click("organic", 300, 800, 1)) == (None, "no_organic_boxes")


def test_visible_aois_are_clipped_to_the_viewport_and_numbered_top_down_then_left_right():
    slots = visible_aois(PAGE, scroll_px=300, image_w=1280, image_h=622)  # page rows 300-922
    assert slots["page_row"].tolist() == [0, 1, 2, 3, 4]  # equal tops: left first
    assert slots[["vx0", "vy0", "vx1", "vy1"]].values.tolist() == [
        [162, 0, 748, 100],
        [802, 0, 1023, 400],
        [162, 116, 702, 185],
        [162, 400, 702, 560],
        [162, 589, 749, 622],
    ]
    assert slots.loc[4, ["y0", "y1"]].tolist() == [889, 922]  # the clipped page box
    # a box that only touches the viewport edge has zero height and is dropped
    edge = visible_aois(aois(("organic", 1, 162, 100, 702, 300)), 300, 1280, 622)
    assert edge.empty


def test_gaze_dwell_counts_fixations_starting_in_the_window_up_to_its_end():
    fixations = pd.DataFrame(
        {
            "timestamp": [900, 1000, 1300, 1900, 2100],
            "FPOGX": [300, 300, 300, 900, 300],
            "FPOGY": [450, 450, 800, 300, 450],
            "FPOGD": [300, 250, 400, 200, 100],
        }
    )
    window = window_fixations(fixations, start=1000, end=2000)
    assert window["ms"].tolist() == [250, 400, 100]  # onset before 1000 or at 2000+: out
    boxes = PAGE[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float)
    gaze = gaze_dwell(window, boxes)
    assert gaze.tolist() == [0, 100, 250, 400, 0, 0, 0]


def test_cursor_dwell_holds_the_position_between_events_and_from_the_window_start():
    # client y (screen) 450 px; the page scrolled by 0, then the window has offset 0
    track = pd.DataFrame(
        {
            "t": [500, 1500, 1800, 2600],
            "x": [300.0, 300.0, 900.0, 300.0],
            "client_y": [450.0, 800.0, 300.0, 450.0],
        }
    )
    boxes = PAGE[["x0", "y0", "x1", "y1"]].to_numpy(dtype=float)
    ms = cursor_dwell(track, boxes, start=1000, end=2000, scroll_px=0)
    # 1000-1500 on the text ad (carried in), 1500-1800 on result 1, 1800-2000 on the panel
    assert ms.tolist() == [0, 200, 500, 300, 0, 0, 0]
    scrolled = cursor_dwell(track, boxes, start=1000, end=2000, scroll_px=100)
    assert scrolled[3] == 0 and scrolled[4] == pytest.approx(300)  # y 900: result 2
    assert cursor_dwell(track.iloc[:0], boxes, 1000, 2000, 0).tolist() == [0] * 7
    assert np.isclose(ms.sum(), 1000)
