"""Heatmap overlays of simulated attention and a static HTML gallery of users x screens.

People judge a gaze simulator by looking at it: each overlay shows one screen twice, this user's
attention beside the population's, each slot tinted by its share of attention (the most attended
slot at full strength) and the most likely click outlined. The gallery is one HTML file with
relative links, openable from disk with no server.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from PIL import Image, ImageDraw

from fixate.data.render import font, save_jpeg
from fixate.simulate.screens import NewScreen
from fixate.simulate.simulator import POPULATION

PANEL_WIDTH = 960  # px of each half of an overlay
CLICK_COLOUR = (0, 200, 255)
HEAT = colormaps["inferno"]


def heatmap(
    image: Image.Image, boxes: np.ndarray, attention: Sequence[float], click: int
) -> Image.Image:
    """The screen dimmed, each slot tinted by its attention, the click outlined, shares printed."""
    weights = np.asarray(attention, dtype=float)
    scale = weights / weights.max() if weights.max() > 0 else weights
    base = Image.blend(image, Image.new("RGB", image.size), 0.45)
    tint = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(tint)
    face = font(max(14, image.width // 60))
    for box, share, level in zip(boxes, weights, scale, strict=True):
        r, g, b, _ = (int(255 * c) for c in HEAT(0.25 + 0.75 * level))
        draw.rectangle(list(box), fill=(r, g, b, int(40 + 170 * level)))
        draw.text((box[0] + 6, box[1] + 4), f"{share:.0%}", font=face, fill=(255, 255, 255, 255))
    draw.rectangle(
        list(boxes[click]), outline=(*CLICK_COLOUR, 255), width=max(3, image.width // 300)
    )
    return Image.alpha_composite(base.convert("RGBA"), tint).convert("RGB")


def captioned(panel: Image.Image, caption: str) -> Image.Image:
    """The panel at ``PANEL_WIDTH`` with a caption strip above it."""
    height = round(panel.height * PANEL_WIDTH / panel.width)
    strip = 34
    out = Image.new("RGB", (PANEL_WIDTH, height + strip), (255, 255, 255))
    out.paste(panel.resize((PANEL_WIDTH, height), Image.Resampling.LANCZOS), (0, strip))
    ImageDraw.Draw(out).text((4, 6), caption, font=font(20), fill=(0, 0, 0))
    return out


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    out = Image.new("RGB", (left.width + 10 + right.width, left.height), (255, 255, 255))
    out.paste(left, (0, 0))
    out.paste(right, (left.width + 10, 0))
    return out


def overlay_path(out_dir: Path, screen_id: str, user: str) -> Path:
    return out_dir / "overlays" / screen_id / f"{user}.jpg"


def write_overlays(simulated: pd.DataFrame, screens: Sequence[NewScreen], out_dir: Path) -> None:
    """One overlay per (user, screen): the user beside the population (the population's own
    overlay alone)."""
    by_id = {screen.screen_id: screen for screen in screens}
    for screen_id, rows in simulated.groupby("screen_id", sort=False):
        screen = by_id[screen_id]
        maps = {
            row["user_id"]: heatmap(
                screen.image,
                screen.slot_boxes,
                row["attention"],
                screen.slot_names.index(row["click"]),
            )
            for row in rows.to_dict("records")
        }
        captions = {
            row["user_id"]: f"{row['user_id']}: clicks {row['click']} ({row['click_prob']:.0%})"
            for row in rows.to_dict("records")
        }
        population = captioned(maps[POPULATION], captions[POPULATION])
        for user, panel in maps.items():
            image = population
            if user != POPULATION:
                image = side_by_side(captioned(panel, captions[user]), population)
            save_jpeg(image, overlay_path(out_dir, str(screen_id), user))


def write_gallery(simulated: pd.DataFrame, out_dir: Path, title: str) -> Path:
    """``index.html``: a table of users (rows) x screens (columns) of overlay thumbnails."""
    screens = list(dict.fromkeys(simulated["screen_id"]))
    users = [u for u in dict.fromkeys(simulated["user_id"]) if u != POPULATION] + [POPULATION]
    cells = simulated.set_index(["user_id", "screen_id"])
    head = "".join(f"<th>{html.escape(s)}</th>" for s in screens)
    body = []
    for user in users:
        row = [f"<th>{html.escape(user)}</th>"]
        for screen_id in screens:
            cell = cells.loc[(user, screen_id)]
            link = overlay_path(Path("."), screen_id, user).as_posix()
            row.append(
                f'<td><a href="{link}"><img src="{link}" alt="{html.escape(user)} on '
                f'{html.escape(screen_id)}"></a><br>clicks <b>{html.escape(cell["click"])}</b> '
                f"({cell['click_prob']:.0%}), looks most at "
                f"<b>{html.escape(cell['slot_names'][int(np.argmax(cell['attention']))])}</b></td>"
            )
        body.append("<tr>" + "".join(row) + "</tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px; vertical-align: top; font-size: 13px; }}
img {{ width: 480px; display: block; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Each picture: the user's simulated attention over the slots (left; brighter = more) beside
the population's (right); the outlined slot is the most likely click. Click a picture to
enlarge it.</p>
<table><tr><th>user \\ screen</th>{head}</tr>
{"".join(body)}
</table></body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def inspect_gallery(index: str | Path, screenshot: str | Path | None = None) -> dict[str, int]:
    """Open the gallery in headless Chromium as a reader would; count its pictures and those
    that loaded, and optionally save a screenshot of the page (the check behind the tests and
    ``python -m fixate check-gallery``)."""
    from playwright.sync_api import sync_playwright

    from fixate.data.adserp.serp import CHROMIUM_FLAGS, find_chromium

    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(Path(index).resolve().as_uri())
            page.wait_for_load_state("load")
            counts = page.evaluate(
                """() => {
                    const images = Array.from(document.images);
                    return {images: images.length,
                            loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
                            rows: document.querySelectorAll('tr').length - 1};
                }"""
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return counts
