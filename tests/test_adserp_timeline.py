"""Scroll timeline, scroll stops, the final click and the pointer track of one trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from adserp_raw import real_sample

from fixate.data.adserp.raw import MOUSE_COLUMNS, read_ad_boxes, read_mouse, trial_file
from fixate.data.adserp.timeline import (
    SCALE,
    classify_click,
    final_click,
    pointer_track,
    scroll_timeline,
)


def mouse(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=MOUSE_COLUMNS)


@pytest.mark.parametrize(
    ("xpath", "expected"),
    [
        ("//*[@id='rso']/div[4]/div/div[1]/div/div/div[1]/div/a/h3", ("organic", 4)),
        ("//*[@id='rso']", ("organic", None)),
        ("//*[@id='tads']/div[1]/div/div/div/div[1]/a/div[1]/span", ("ad_top", None)),
        ("//*[@id='tadsb']/div[2]/div/div/div/div[1]/a/div[1]/span", ("ad_bottom", None)),
        ("#tadsb > div", ("ad_bottom", None)),
        ("#tads > div", ("ad_top", None)),
        ("//*[@id='vplaurlt3']/div", ("shopping", None)),
        ("//*[@id='platop2']/div/a", ("shopping", None)),
        ("//*[@id='dimg_25']", ("image", None)),
        ("//*[@id='center_col']", ("other", None)),
    ],
)
def test_click_targets_are_classified_with_bottom_ads_apart(xpath, expected):
    assert classify_click(xpath) == expected


def test_scroll_steps_and_stops():
    log = mouse(
        [
            (1000, 0, 0, "load", "/"),
            (1000, 0, 0, "pageshow", "/"),
            (3000, 500, 400, "wheel", "//*[@id='rso']"),
            (3010, 0, 55.5555, "scroll", "/"),
            (3200, 0, 111.11111, "scroll", "/"),  # one notch: 100 screenshot px
            (3500, 0, 222.22223, "scroll", "/"),
            (5000, 500, 700, "mousedown", "//*[@id='rso']/div[2]/a/h3"),
        ]
    )
    timeline = scroll_timeline(log)
    assert timeline.times.tolist() == [1000, 3010, 3200, 3500]
    assert timeline.offsets.tolist() == [0, 50, 100, 200]
    assert timeline.at(np.array([999, 1000, 3199, 3200, 9000])).tolist() == [0, 0, 50, 100, 200]
    stops = timeline.stops(5000, min_stop_ms=400)
    assert stops.values.tolist() == [[1000, 3010, 0], [3500, 5000, 200]]
    assert timeline.stops(3600, min_stop_ms=400).values.tolist() == [[1000, 3010, 0]]


def test_the_last_click_ends_the_trial_and_its_mousedown_is_its_own():
    log = mouse(
        [
            (0, 0, 0, "load", "/"),
            (100, 300, 200, "mousedown", "//*[@id='dimg_3']"),
            (150, 300, 200, "mouseup", "//*[@id='dimg_3']"),
            (900, 300, 200, "click", "//*[@id='dimg_3']"),
            (2000, 400, 1200.0, "mousedown", "//*[@id='rso']/div[6]/div/a/h3"),
            (2100, 400, 1200.0, "mouseup", "//*[@id='rso']/div[6]/div/a/h3"),
            (4000, 400, 1200.0, "click", "//*[@id='rso']/div[6]/div/a/h3"),
        ]
    )
    click = final_click(log)
    assert (click.t_mousedown, click.t_click, click.n_clicks) == (2000, 4000, 2)
    assert (click.kind, click.rank) == ("organic", 6)
    # ypos is already a page coordinate: only the zoom factor applies, no scroll is added
    assert (click.x, click.y) == pytest.approx((400 * SCALE, 1200 * SCALE))
    assert click.decision_end("mousedown") == 2000
    assert click.decision_end("click") == 4000
    without_down = log.drop(index=[4, 5])
    assert final_click(without_down).t_mousedown is None  # the earlier mousedown is not its own
    assert final_click(log[log["event"] != "click"]) is None


def test_the_real_p007_click_lands_in_the_first_top_text_ad():
    raw = real_sample()
    mouse, _ = read_mouse(trial_file(raw, "p007-b3-t8", "mouse"))
    click = final_click(mouse)
    ads = read_ad_boxes(trial_file(raw, "p007-b3-t8", "ads"))
    first_top = ads[ads["kind"] == "native_ad"].iloc[0]
    assert click.kind == "ad_top"
    assert first_top["x0"] <= click.x <= first_top["x1"]
    assert first_top["y0"] <= click.y <= first_top["y1"]
    # the reference added the scroll at the click (100 px) a second time: the second ad
    scroll = scroll_timeline(mouse).at(click.t_click)
    assert not first_top["y0"] <= click.y + scroll <= first_top["y1"]


def test_the_pointer_keeps_its_screen_position_while_the_page_scrolls():
    log, _ = read_mouse(trial_file(real_sample(), "p014-b4-t5", "mouse"))
    track = pointer_track(log, scroll_timeline(log))
    # a wheel scroll of 222 CSS px between these events, the hand still on the wheel
    before = track[track["t"] == 1675251370253]["client_y"].iloc[0]
    after = track[track["t"] == 1675251370857]["client_y"].iloc[0]
    assert before == pytest.approx(after, abs=2)
