"""The AdSERP result pages rendered offline, checked against what the real dataset ships.

The 7 shared real trials are rendered once (two pages at a time). Their ad boxes must match
``ad-boundary-data``, every final click must fall inside the box its XPath names, the page must
have the screenshot's size, and nothing may have been fetched. These tests need the system
Chromium and the playwright package, and skip (saying what to install) without them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from adserp_raw import REAL_TRIALS, SAMPLE

from fixate.data.adserp.pipeline import run_trials
from fixate.data.adserp.raw import read_organic_boxes, screenshot_size, trial_file
from fixate.data.adserp.serp import find_chromium, render_serp_aoi, render_serp_aois
from fixate.data.adserp.serp_check import check_trial_files
from fixate.data.adserp.serp_stage import run_serp_aoi

RAW = SAMPLE
TRIALS = REAL_TRIALS
AD_CLICK_TRIALS = {"p007-b3-t8"}  # ends on the first top text ad; the other six on organic results


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (RAW / "serps").is_dir():
        pytest.skip("the real AdSERP sample with its serps/ pages is not next to this checkout")
    try:
        return find_chromium()
    except RuntimeError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def rendered(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("serp_aoi")
    pages = [(t, RAW / "serps" / f"{t}.html") for t in TRIALS]
    return out, render_serp_aois(pages, out, workers=2, chromium=chromium)


@pytest.fixture(scope="module")
def checks(rendered: tuple[Path, dict]) -> dict[str, dict]:
    return {t: check_trial_files(aoi, RAW) for t, aoi in rendered[1].items()}


def test_find_chromium_names_the_package_for_a_bad_path(tmp_path: Path) -> None:
    bogus = tmp_path / "no-such-chromium"
    with pytest.raises(RuntimeError, match="apt-get install chromium") as err:
        find_chromium(str(bogus))
    assert str(bogus) in str(err.value)


def test_find_chromium_names_playwright_when_it_is_missing(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install playwright"):
        find_chromium("sh")


def test_records_are_written_in_the_agreed_format(rendered: tuple[Path, dict]) -> None:
    out, records = rendered
    assert sorted(records) == sorted(TRIALS)
    for trial, record in records.items():
        assert json.loads((out / f"{trial}.json").read_text()) == record
        assert set(record) == {"trial", "page", "organic", "ads", "renderer"}
        assert record["trial"] == trial
        assert set(record["ads"]) == {"native_ad", "dd_top", "dd_right"}
        assert record["renderer"]["zoom"] == 0.9
        assert record["renderer"]["chromium"].split(".")[0].isdigit()
        for result in record["organic"]:
            assert set(result) == {
                *("rank", "sub", "title", "site"),
                *("x_left", "y_top", "x_right", "y_bot"),
            }
            assert result["x_left"] < result["x_right"] and result["y_top"] < result["y_bot"]
        # the AdSERP pipeline reads the same file as organic boxes
        boxes = read_organic_boxes(out / f"{trial}.json", trial)
        assert len(boxes) == len(record["organic"])


def test_nothing_is_fetched(rendered: tuple[Path, dict]) -> None:
    for trial, record in rendered[1].items():
        requests = record["renderer"]["requests"]
        assert requests["served"] == 1, trial
        assert requests["fetched"] == 0, trial
        assert requests["blocked"] > 0, trial  # logos, fonts and logging pings were refused


def test_ad_boxes_match_ad_boundary_data(checks: dict[str, dict]) -> None:
    for trial, check in checks.items():
        for kind, ads in check["ads"].items():
            assert ads["rendered"] == ads["shipped"], (trial, kind)
            if ads["shipped"]:
                assert ads["max_error_px"] <= 2, (trial, kind, ads)
    assert sum(c["ads"]["dd_right"]["shipped"] for c in checks.values()) == 2


def test_final_click_lies_in_the_box_its_xpath_names(checks: dict[str, dict]) -> None:
    for trial, check in checks.items():
        click = check["click"]
        assert click["inside"] is True, (trial, click)
        assert click["margin_px"] >= 10, (trial, click)
        assert click["kind"] == ("ad_top" if trial in AD_CLICK_TRIALS else "organic"), trial
    assert all(c["ok"] and c["reason"] == "" for c in checks.values())


def test_stacked_results_are_split_per_title(rendered: tuple[Path, dict]) -> None:
    records = rendered[1]
    for trial, rank in (("p004-b1-t3", 2), ("p031-b1-t9", 1), ("p031-b1-t9", 2)):
        subs = [o for o in records[trial]["organic"] if o["rank"] == rank]
        assert [o["sub"] for o in subs] == [0, 1], (trial, rank)
        assert subs[0]["site"] == subs[1]["site"] != ""
        assert subs[0]["y_bot"] <= subs[1]["y_top"]  # the second result sits below the first
    # "People also ask" has no title link: one block, no site
    paa = [o for o in records["p004-b1-t3"]["organic"] if o["title"] == "People also ask"]
    assert [(o["sub"], o["site"]) for o in paa] == [(0, "")]


def test_page_has_the_screenshot_size(rendered: tuple[Path, dict]) -> None:
    for trial, record in rendered[1].items():
        width, height = screenshot_size(trial_file(RAW, trial, "screenshot"))
        page = record["page"]
        # 1403 CSS px; the 1280-px screenshot also holds the 19 CSS px scrollbar strip
        assert page["width"] == 1262 and width == 1280, trial
        # the footer renders up to 6 CSS px shorter; everything above it lines up
        assert 0 <= height - page["height"] <= 6, (trial, height, page)


def test_one_trial_renders_as_in_the_batch(
    chromium: str, rendered: tuple[Path, dict], tmp_path: Path
) -> None:
    trial = "p014-b4-t5"  # right shopping panel: the layout most sensitive to the zoom
    record = render_serp_aoi(
        RAW / "serps" / f"{trial}.html",
        tmp_path / "one.json",
        chromium=chromium,
        profile_dir=tmp_path / "profile",
    )
    expected = rendered[1][trial]
    assert {k: v for k, v in record.items() if k != "renderer"} == {
        k: v for k, v in expected.items() if k != "renderer"
    }


def test_the_stage_writes_each_page_with_its_check(
    chromium: str, rendered: tuple[Path, dict], checks: dict[str, dict], tmp_path: Path
) -> None:
    """The rule's stage writes what the batch renders, each record with the check that
    `check_trial_files` gives it, and returns the checks."""
    trials = ("p004-b1-t3", "p007-b3-t8")
    pages = [RAW / "serps" / f"{trial}.html" for trial in trials]
    assert run_serp_aoi(pages, tmp_path, workers=2, chromium=chromium) == {
        trial: checks[trial] for trial in trials
    }
    for trial in trials:
        written = json.loads((tmp_path / f"{trial}.json").read_text())
        assert written["check"] == checks[trial]
        assert {k: v for k, v in written.items() if k not in ("check", "renderer")} == {
            k: v for k, v in rendered[1][trial].items() if k != "renderer"
        }


def test_rendered_boxes_keep_the_organic_click_trials(
    rendered: tuple[Path, dict], tmp_path: Path
) -> None:
    kept = {}
    for organic_dir in (None, rendered[0]):
        counts: dict[str, int] = {}
        for user in sorted({t.split("-")[0] for t in TRIALS}):
            out = tmp_path / f"{user}-{organic_dir is not None}.parquet"
            for reason, n in run_trials(RAW, user, out, organic_dir=organic_dir).items():
                counts[reason] = counts.get(reason, 0) + n
        kept[organic_dir is not None] = counts
    assert kept[False] == {"kept": 1, "no_organic_boxes": 6}
    assert kept[True] == {"kept": 7}
