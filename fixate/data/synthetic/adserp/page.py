"""The results page of a synthetic AdSERP trial: its item boxes and a plain screenshot.

Layout constants follow the released data (measured on a real 10-trial sample): a page 1280 px
wide and 2,150-3,400 px tall (screenshot px = CSS px x 1280/1422), the shopping carousel
``dd_top`` at (162, 158), text ads at x 162, width 540, with the observed heights, organic results
in the main column, bottom ads, and a shopping panel ``dd_right`` at x 802.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from fixate.data.adserp.timeline import SCALE
from fixate.data.render import font
from fixate.data.synthetic.seeding import keyed_rng

# page geometry (screenshot px)
PAGE_W = 1280
WINDOW_PX = round(1137 * SCALE)  # the browser window (1422 x 1137 CSS px) in screenshot px
MAIN_X0, MAIN_X1 = 162, 702
RIGHT_X0, RIGHT_W = 802, 221
NATIVE_HEIGHTS = (69, 89, 108, 109, 128, 129, 149, 169, 211, 212, 232)
ORGANIC_HEIGHTS = (89, 109, 139, 159, 192, 212, 272)
AD_GAP = 27
_SITES = (
    "amazon.com",
    "ebay.com",
    "walmart.com",
    "shopdirect.net",
    "partsworld.com",
    "homecenter.com",
)


@dataclass(frozen=True)
class Item:
    """One box on the page (screenshot px)."""

    kind: str  # organic, native_ad, dd_top, dd_right
    block: str  # rso, tads, tadsb, platop, rhs
    rank: int  # rso div / ad position in its block (1-based)
    x0: int
    y0: int
    x1: int
    y1: int
    title: str
    site: str

    def xpath(self, on_title: bool, x: float) -> str:
        """The XPath evtrack logs for a pointer at page x on this box (title line or body)."""
        if self.block == "rso":
            tail = "div/div/div[1]/div/div[1]/a/h3" if on_title else "div/div/div[2]/div/span"
            return f"//*[@id='rso']/div[{self.rank}]/{tail}"
        if self.block in ("tads", "tadsb"):
            tail = "div/div/div/div[1]/a/div[1]/span" if on_title else "div/div/div/div[2]/div"
            return f"//*[@id='{self.block}']/div[{self.rank}]/{tail}"
        if self.block == "platop":
            return f"//*[@id='platop{1 + int((x - self.x0) // 146)}']/div/a"
        return f"//*[@id='vplaurlt{self.rank}']/div"


def page_layout(rng: np.random.Generator, slug: str) -> tuple[int, int, list[Item]]:
    """Document height (CSS px), screenshot height and the boxes of one results page."""
    doc_h = int(rng.integers(2400, 3780))
    page_h = round(doc_h * SCALE)
    words = slug.split("-")[1:]
    product = " ".join(words[-2:]).title()
    items, y = _top_of_page(rng, words, product)
    n_bottom = int(rng.choice([0, 1, 2, 3, 4], p=[0.25, 0.15, 0.25, 0.2, 0.15]))
    bottom_h = [int(rng.choice(NATIVE_HEIGHTS)) for _ in range(n_bottom)]
    limit = page_h - 420 - sum(h + AD_GAP for h in bottom_h)
    y = _organic_results(rng, items, product, y + 10, limit)
    _bottom_ads(rng, items, product, max(y, 1500), bottom_h, page_h)
    return doc_h, page_h, items


def _top_of_page(
    rng: np.random.Generator, words: list[str], product: str
) -> tuple[list[Item], int]:
    """The shopping carousel, the text ads above the results and the shopping panel; returns
    them and the row where the results start."""
    items: list[Item] = []
    y = 163
    if rng.random() < 0.45:
        h = int(rng.integers(233, 352))
        items.append(
            Item(
                "dd_top",
                "platop",
                1,
                MAIN_X0,
                158,
                MAIN_X0 + int(rng.choice([586, 587])),
                158 + h,
                f"Shop {' '.join(words)}",
                "",
            )
        )
        y = 158 + h + 16
    for k in range(int(rng.choice([0, 1, 2, 3, 4], p=[0.3, 0.25, 0.2, 0.15, 0.1]))):
        h = int(rng.choice(NATIVE_HEIGHTS))
        if y + h > 900:  # the results start on the first screen
            break
        site = str(rng.choice(_SITES))
        items.append(
            Item(
                "native_ad",
                "tads",
                k + 1,
                MAIN_X0,
                y,
                MAIN_X1,
                y + h,
                f"{product} at {site} - Low Prices",
                site,
            )
        )
        y += h + AD_GAP
    if rng.random() < 0.25:
        top = 158 if not any(i.kind == "dd_top" for i in items) else 902
        h = int(rng.integers(503, 1277))
        items.append(
            Item("dd_right", "rhs", 1, RIGHT_X0, top, RIGHT_X0 + RIGHT_W, top + h, "Shopping", "")
        )
    return items, y


def _organic_results(
    rng: np.random.Generator, items: list[Item], product: str, y: int, limit: int
) -> int:
    """Append up to 12 organic results from row ``y`` down to ``limit``; returns the row below
    them."""
    rank = 1
    while rank <= 12:
        h = int(rng.choice(ORGANIC_HEIGHTS))
        if y + h > limit:
            break
        site = str(rng.choice(_SITES))
        wide = rng.random() < 0.3  # results with a thumbnail reach past the text column
        items.append(
            Item(
                "organic",
                "rso",
                rank,
                MAIN_X0,
                y,
                749 if wide else MAIN_X1,
                y + h,
                f"{product} {rng.choice(['Review', 'Deals', 'Buy Online', 'Sale'])} | {site}",
                site,
            )
        )
        y += h + AD_GAP
        rank += 1
    return y


def _bottom_ads(
    rng: np.random.Generator,
    items: list[Item],
    product: str,
    y: int,
    heights: list[int],
    page_h: int,
) -> None:
    """Append the text ads below the results, of ``heights``, as far as the page allows."""
    for k, h in enumerate(heights):
        if y + h > page_h - 150:
            break
        items.append(
            Item(
                "native_ad",
                "tadsb",
                k + 1,
                MAIN_X0,
                y,
                MAIN_X1,
                y + h,
                f"{product} - Official Store",
                str(rng.choice(_SITES)),
            )
        )
        y += h + AD_GAP


def screenshot(items: list[Item], page_h: int, query: str, seed: int) -> Image.Image:
    """A plain drawing of the results page: header, ads, results, shopping cards."""
    image = Image.new("RGB", (PAGE_W, page_h), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    small, body, title = font(13, bold=False), font(14, bold=False), font(19, bold=False)
    draw.rectangle([0, 0, PAGE_W, 120], fill=(248, 249, 250))
    draw.rounded_rectangle([162, 30, 850, 76], radius=23, outline=(200, 200, 200), fill="white")
    draw.text((185, 44), query, font=body, fill=(32, 33, 36))
    draw.text((162, 128), "About 84,000 results (0.41 seconds)", font=small, fill=(112, 117, 122))
    rng = keyed_rng(seed, "snippets")
    for item in items:
        if item.kind in ("dd_top", "dd_right"):
            draw.text((item.x0 + 4, item.y0 + 4), "Ads · " + item.title, font=body, fill="black")
            cols = 4 if item.kind == "dd_top" else 2
            card_w = (item.x1 - item.x0 - 8) // cols
            for c in range(cols):
                for r in range(max(1, (item.y1 - item.y0 - 40) // 230)):
                    x, y = item.x0 + 4 + c * card_w, item.y0 + 32 + r * 230
                    draw.rectangle([x, y, x + card_w - 8, y + 200], outline=(218, 220, 224))
                    draw.rectangle([x + 10, y + 10, x + card_w - 18, y + 90], fill=(190, 214, 238))
                    draw.text((x + 8, y + 100), "Product", font=small, fill=(26, 13, 171))
                    draw.text((x + 8, y + 120), f"€{30 + 7 * c + r}.99", font=small, fill="black")
            continue
        label = "Ad · " if item.kind == "native_ad" else ""
        draw.text((item.x0, item.y0 + 2), label + item.site, font=small, fill=(32, 33, 36))
        draw.text((item.x0, item.y0 + 20), item.title, font=title, fill=(26, 13, 171))
        y = item.y0 + 48
        while y + 16 < item.y1:
            width = int(rng.integers(300, 530))
            draw.line([item.x0, y + 8, item.x0 + width, y + 8], fill=(150, 150, 150), width=9)
            y += 20
    return image
