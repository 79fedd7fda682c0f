"""Organic-result and ad boxes of AdSERP trials, by rendering each saved result page offline.

AdSERP ships the ad boxes of every trial (``ad-boundary-data``) but no organic-result boxes, yet
most trials end on an organic click. The dataset does ship the result page as served to the
participant (``serps/<trial>.html``), and rendering it in headless Chromium reproduces the layout:
the rendered ad boxes match ``ad-boundary-data`` to about 1 px, so the organic boxes read from the
same render are trustworthy too. Three settings are essential (each one, when wrong, moves boxes
silently, so the first two are checked on every page):

- real browser page zoom 90 %, set through the profile (the participants' Chrome ran at 90 %).
  An emulated device scale factor is not the same: it snaps borders differently, so the
  right-hand shopping panel gets three product columns instead of two;
- a viewport of 1263 x 1024 device px, i.e. the study's 1403 CSS px document width;
- JavaScript on: Google's inline scripts place the right-hand column (no external script runs).

Every request except the page itself is aborted (and host names resolve nowhere), so nothing
leaves the machine; the page is served as ``http://localhost/page.php``, the study's own URL.

Boxes are in screenshot pixels: ``floor(CSS px x 0.9)``, which reproduces the shipped ad boxes
exactly for most coordinates (the dataset's screenshots are 0.9 x the CSS page).

Output of one trial (written as JSON, read by the AOI stage)::

    {"trial": "p004-b1-t3",
     "page": {"width": 1262, "height": 3036},          # rendered document, screenshot px
     "organic": [{"rank": 2, "sub": 1, "title": ..., "site": "www.ebay.com",
                  "x_left": ..., "y_top": ..., "x_right": ..., "y_bot": ...}, ...],
     "ads": {"native_ad": [{"location": {"x", "y"}, "size": {"width", "height"}}, ...],
             "dd_top": [...], "dd_right": [...]},       # the ad-boundary-data format
     "renderer": {"chromium": "156.0...", "zoom": 0.9,
                  "requests": {"served": 1, "blocked": 12, "fetched": 0}}}

``rank`` is k of the ``#rso`` child that a click XPath names as ``//*[@id='rso']/div[k]``
(counting ``div`` children only, hidden ones included, as XPath does), so a click maps to its
result by the XPath alone. One ``#rso`` child can stack several results (a site's indented second
result): each result, the ``[data-hveid]`` block around a visible title link ``a h3``, gets its own
box and ``sub`` = 0, 1, ... in document order; a child without a title link ("People also ask")
is one box with ``sub`` 0 and its heading as ``title``. ``site`` is the host of the title link,
empty for a block that is not a web result (one without a title link, or whose title links to
another Google search, such as an image strip). The page size is the rendered document's
(1403 CSS px wide); the dataset screenshots are 1280 px wide because they also hold the blank
strip of the participants' scrollbar.

The ad categories follow ``ad-boundary-data``: ``native_ad`` holds the text ads of ``#tads`` (top)
and ``#bottomads`` (bottom) in document order, ``dd_top`` the top shopping carousel and
``dd_right`` the right shopping panel. The dataset's ``dd_right`` covers only the occupied product
columns, so its width ends at the right margin edge of the right-most product card.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fixate.data.files import regular_file
from fixate.data.tables import write_json

log = logging.getLogger(__name__)

ZOOM = 0.9
# 1263 x 1024 device px at 90 % zoom is 1403 x 1137 CSS px: the study's document width (its
# window was 1422 CSS px wide, less a 19 px scrollbar that headless Chromium does not draw).
VIEWPORT = {"width": 1263, "height": 1024}
DOCUMENT_WIDTH_CSS = 1403
PAGE_URL = "http://localhost/page.php"
# The ad-boundary-data keys (as in .raw, not imported: editing the readers must not re-render).
AD_CATEGORIES = ("native_ad", "dd_top", "dd_right")
LOAD_TIMEOUT_MS = 60_000
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A second wall behind the request routing: any request that bypassed it resolves nowhere.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

# Page boxes in CSS px as [left, top, right, bottom] of the document (viewport rect + scroll).
_EXTRACT_JS = r"""() => {
  const all = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const box = e => { const r = e.getBoundingClientRect();
    return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY]; };
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const organic = [];
  all('#rso > div').forEach((child, i) => {
    if (!shown(child)) return;
    const results = [];
    for (const h3 of all('a h3', child)) {
      if (!h3.offsetHeight) continue;
      const block = h3.closest('[data-hveid]');
      const el = block && child.contains(block) ? block : child;
      if (results.some(r => r.el === el)) continue;
      const link = h3.closest('a');
      const google = /(^|\.)google\./.test(link.hostname) && link.pathname === '/search';
      results.push({el, title: h3.innerText, site: google ? '' : link.hostname});
    }
    if (!results.length) {
      const heading = child.querySelector('[role=heading], h2, h3');
      results.push({el: child, title: heading ? heading.innerText : '', site: ''});
    }
    results.forEach((r, sub) => organic.push(
      {rank: i + 1, sub, title: r.title.trim(), site: r.site, box: box(r.el)}));
  });
  const panel = e => {
    const b = box(e);
    const cards = all('.pla-unit', e).filter(shown);
    if (cards.length) b[2] = Math.max(...cards.map(c =>
      c.getBoundingClientRect().right + scrollX + parseFloat(getComputedStyle(c).marginRight)));
    return b;
  };
  return {
    zoom: devicePixelRatio,
    inner_width: innerWidth,
    document: [document.documentElement.clientWidth, document.documentElement.scrollHeight],
    organic,
    ads: {
      native_ad: all('#tads div[data-text-ad], #bottomads div[data-text-ad]')
        .filter(shown).map(box),
      dd_top: all('#tvcap .commercial-unit-desktop-top').filter(shown).map(box),
      dd_right: all('.commercial-unit-desktop-rhs').filter(shown).map(panel),
    },
  };
}"""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable to drive; a RuntimeError naming what to install when it is missing.

    The stage drives the system Chromium (Debian's ``chromium``) through the ``playwright``
    package, never Playwright's own browser download, so both must be installed by the user;
    this check runs before any work so that a missing piece fails at once with the fix in the
    message. ``explicit`` is a path or a command name; without it the usual names on PATH are
    tried.
    """
    problems = []
    if importlib.util.find_spec("playwright") is None:
        problems.append("the Python package playwright (pip install playwright)")
    found = next(filter(None, map(shutil.which, [explicit] if explicit else CHROMIUM_NAMES)), None)
    if found is None:
        where = (
            f"{explicit!r} is not an executable"
            if explicit
            else f"none of {', '.join(CHROMIUM_NAMES)} is on PATH"
        )
        problems.append(
            f"the Chromium browser ({where}; on Debian or Ubuntu: apt-get install chromium)"
        )
    if problems:
        raise RuntimeError(
            "rendering the AdSERP result pages needs "
            + " and ".join(problems)
            + ". Playwright's own browser download (playwright install) is not used: the "
            "system Chromium is driven instead."
        )
    return found


def _px(css: float) -> int:
    """Screenshot px of a CSS length: floor(x 0.9), the rounding of the shipped ad boxes."""
    return math.floor(css * ZOOM + 1e-6)


def _ad_box(box: Sequence[float]) -> dict[str, dict[str, int]]:
    left, top, right, bottom = box
    return {
        "location": {"x": _px(left), "y": _px(top)},
        "size": {"width": _px(right - left), "height": _px(bottom - top)},
    }


def _aoi(trial: str, raw: dict[str, Any], chromium: str, requests: dict[str, int]) -> dict:
    """The trial's output record, in screenshot px, from the page's CSS-px measurements."""
    organic = []
    for result in raw["organic"]:
        left, top, right, bottom = result["box"]
        organic.append(
            {
                "rank": result["rank"],
                "sub": result["sub"],
                "title": result["title"],
                "site": result["site"],
                "x_left": _px(left),
                "y_top": _px(top),
                "x_right": _px(right),
                "y_bot": _px(bottom),
            }
        )
    width, height = raw["document"]
    return {
        "trial": trial,
        "page": {"width": _px(width), "height": _px(height)},
        "organic": organic,
        "ads": {name: [_ad_box(b) for b in raw["ads"][name]] for name in AD_CATEGORIES},
        "renderer": {"chromium": chromium, "zoom": ZOOM, "requests": requests},
    }


async def _render_page(context: Any, trial: str, html: bytes, chromium: str) -> dict:
    """Load one saved page with every other request aborted; measure its boxes."""
    requests = {"served": 0, "blocked": 0, "fetched": 0}

    async def serve(route: Any) -> None:
        if route.request.url == PAGE_URL:
            requests["served"] += 1
            await route.fulfill(body=html, content_type="text/html")
        else:
            requests["blocked"] += 1
            await route.abort()

    def finished(request: Any) -> None:
        # Only the served page may complete; anything else would have come from the network.
        if request.url != PAGE_URL:
            requests["fetched"] += 1

    page = await context.new_page()
    try:
        page.on("requestfinished", finished)
        await page.route("**/*", serve)
        await page.goto(PAGE_URL, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        raw = await page.evaluate(_EXTRACT_JS)
    finally:
        await page.close()
    if abs(raw["zoom"] - ZOOM) > 1e-3 or raw["inner_width"] != DOCUMENT_WIDTH_CSS:
        raise RuntimeError(
            f"the page rendered at zoom {raw['zoom']:.3f} and {raw['inner_width']} CSS px "
            f"wide, not at {ZOOM} and {DOCUMENT_WIDTH_CSS}: the profile's page-zoom preference "
            "was not applied, so the boxes would not match the participants' layout"
        )
    return _aoi(trial, raw, chromium, requests)


def _write_zoom_profile(profile: Path) -> None:
    """Make the profile's default page zoom 90 % (a zoom level is log base 1.2 of the factor)."""
    (profile / "Default").mkdir(parents=True, exist_ok=True)
    level = math.log(ZOOM) / math.log(1.2)
    prefs = {"partition": {"default_zoom_level": {"x": level}}}
    (profile / "Default" / "Preferences").write_text(json.dumps(prefs))


async def _render_all(
    jobs: Sequence[tuple[str, Path, Path]], executable: str, profile: Path, workers: int
) -> dict[str, dict]:
    """One browser, up to ``workers`` pages at a time (Chromium renders each in its own process)."""
    from playwright.async_api import async_playwright

    _write_zoom_profile(profile)
    slots = asyncio.Semaphore(workers)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            args=list(CHROMIUM_FLAGS),
            viewport=VIEWPORT,
            service_workers="block",
        )
        chromium = context.browser.version if context.browser else "unknown"
        with tqdm(total=len(jobs), desc="render SERPs", unit="page") as progress:

            async def one(trial: str, html_path: Path, out_json: Path) -> tuple[str, dict]:
                async with slots:
                    try:
                        aoi = await _render_page(context, trial, html_path.read_bytes(), chromium)
                    except Exception as err:
                        raise RuntimeError(f"{trial}: rendering {html_path} failed: {err}") from err
                write_json(aoi, out_json)
                progress.update()
                return trial, aoi

            try:
                done = await asyncio.gather(*(one(*job) for job in jobs))
            finally:
                await context.close()
    log.info(
        "rendered %d result pages with Chromium %s, %d at a time", len(jobs), chromium, workers
    )
    return dict(done)


def _run(
    jobs: Sequence[tuple[str, Path, Path]],
    workers: int,
    chromium: str | None,
    profile_dir: str | Path | None = None,
) -> dict[str, dict]:
    """Check the browser and the pages first, so that nothing starts that cannot finish."""
    executable = find_chromium(chromium)
    for _, html_path, _ in jobs:
        regular_file(html_path)
    if profile_dir is not None:
        return asyncio.run(_render_all(jobs, executable, Path(profile_dir), workers))
    with tempfile.TemporaryDirectory(prefix="fixate-chromium-") as tmp:
        return asyncio.run(_render_all(jobs, executable, Path(tmp), workers))


def render_serp_aoi(
    html_path: str | Path,
    out_json: str | Path,
    *,
    chromium: str | None = None,
    profile_dir: str | Path | None = None,
) -> dict:
    """Render one trial's saved result page and write its boxes to ``out_json``.

    The trial id is the file name's stem (``serps/<trial>.html``). ``chromium`` is the browser
    executable (see :func:`find_chromium`); ``profile_dir`` keeps the browser profile there
    instead of in a temporary folder (its ``Default/Preferences`` is overwritten to set the zoom).
    Returns the record written (format in the module docstring).
    """
    html_path = Path(html_path)
    jobs = [(html_path.stem, html_path, Path(out_json))]
    return _run(jobs, 1, chromium, profile_dir)[html_path.stem]


def render_serp_aois(
    trials: Sequence[tuple[str, str | Path]],
    out_dir: str | Path,
    workers: int | None = None,
    chromium: str | None = None,
) -> dict[str, dict]:
    """Render many trials' result pages in parallel; write ``out_dir/<trial>.json`` for each.

    ``trials`` pairs each trial id with its saved page. One browser serves all pages, up to
    ``workers`` at once (default: one per CPU; Chromium gives every page its own renderer
    process, so pages render on separate cores); a browser start costs about as much as a page,
    so it is paid once. Returns the records by trial id.
    """
    jobs = [(trial, Path(html), Path(out_dir) / f"{trial}.json") for trial, html in trials]
    return _run(jobs, max(1, workers or os.cpu_count() or 1), chromium)
