"""Seeded synthetic AdSERP trials, in the exact file formats of the released ``data/`` folder.

Why this exists: the demo and the scale tests need AdSERP trials without the 8 GB download, and
the pipeline must read them through the same readers as the real files. Layout constants and
distributions follow the released data (measured on a real 10-trial sample):

* 47 participants ``p004``-``p050`` with the study's value sets, ``pref_website`` and
  ``online_shopping_freq`` swapped as in the real file; blocks 1-6 x trials 1-10 per participant,
  a few missing; each block runs one batch of 10 queries (``buy-<brand>-<product>``) drawn from a
  shared pool, so several participants search the same query.
* A results page 1280 px wide and 2,150-3,400 px tall (screenshot px = CSS px x 1280/1422): the
  shopping carousel ``dd_top`` at (162, 158), text ads x 162 width 540 with the observed heights,
  organic results in the main column, bottom ads, and a shopping panel ``dd_right`` at x 802.
* Per trial a scroll plan (wheel notches of 111.1 CSS px, animated in 1.11-px steps every ~17 ms)
  that brings the chosen result into view, sometimes overshooting and coming back; fixations
  (duration log-normal, median about 208 ms, onset gap = duration + about 30 ms) drawn towards the
  visible results with an F-shaped decay down the page, the chosen one last; a pointer that trails
  the gaze in ~17 ms ``mousemove`` bursts with ``mouseover``/``mouseout`` on element changes; the
  final ``mousedown``/``mouseup`` on the chosen result and the ``click`` 0.8-14 s later while the
  eyes move on; 150-Hz pupil samples. A few trials hold an earlier click, a few end with a scroll
  just before the click (a too-short final stop).

Every synthetic participant has a stable style (how fast attention decays down the page, how much
ads draw gaze and clicks, how often they scroll past, their fixation length), drawn once from the
seed. Random numbers come from generators keyed by (seed, participant[, trial]), so equal arguments
give byte-identical files. ``organic-aoi-data/`` (the organic result boxes, which the real dataset
lacks) is written too unless ``organic=False``, and ``truth/`` holds each trial's planted gaze truth
(the expected dwell per item in the decision stop, :mod:`.adserp_truth`), outside the released
format.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from fixate.data.adserp.raw import (
    FIXATION_COLUMNS,
    MOUSE_COLUMNS,
    ORGANIC_FOLDER,
    PARTICIPANT_COLUMNS,
    PARTICIPANTS_FILE,
    PUPIL_COLUMNS,
    TRIAL_FOLDERS,
)
from fixate.data.adserp.timeline import SCALE
from fixate.data.render import font
from fixate.data.synthetic.adserp_truth import EYES, kept_ms_table, trial_truth, write_truth
from fixate.data.tables import atomic_path, write_csv

N_PARTICIPANTS = 47
FIRST_PARTICIPANT = 4
N_BLOCKS = 6
TRIALS_PER_BLOCK = 10
MISSING_RATE = 0.016  # 2,776 of 47 x 60 trials were logged

# page geometry (screenshot px)
PAGE_W = 1280
WINDOW_PX = round(1137 * SCALE)  # the browser window (1422 x 1137 CSS px) in screenshot px
MAIN_X0, MAIN_X1 = 162, 702
RIGHT_X0, RIGHT_W = 802, 221
NATIVE_HEIGHTS = (69, 89, 108, 109, 128, 129, 149, 169, 211, 212, 232)
ORGANIC_HEIGHTS = (89, 109, 139, 159, 192, 212, 272)
AD_GAP = 27
NOTCH_CSS = np.float32(1000 / 9)  # one wheel notch, 111.11 CSS px
STEP_CSS = 10 / 9  # scroll animation positions are whole device px (1.11 CSS px)
CLICK_SEQUENCE = ((0, "mousedown"), (90, "mouseup"), (400, "click"))  # an earlier click (ms)
LONGEST_STOP_MS = 30000

_PARTICIPANT_VALUES = {
    "gender": (("Male", 27), ("Female", 20)),
    "english": (("Advanced", 36), ("Native speaker", 6), ("Intermediate", 5)),
    "education": (("Graduate", 30), ("High school diploma", 11), ("Bachelor's degree", 6)),
    "pref_device": (("Computers or laptops", 38), ("Smartphones", 9)),
    # swapped in the real file: pref_website holds frequencies, online_shopping_freq sites
    "pref_website": (("Monthly", 22), ("Rarely", 18), ("Weekly", 7)),
    "online_shopping_freq": (("Amazon", 42), ("Other", 3), ("Alibaba", 1), ("eBay", 1)),
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_BRANDS = _words(
    "acmetools nordwell kestrel brightline oakhurst polaria vantor lumex ferrox calder "
    "quillon merrow tidewell stratus holloway ridgeback "
    "zentec orbis marlowe fenwick"
)
_PRODUCTS = _words(
    "oil-filter tire-gauge balance-beam door-lock-actuator fuel-pump bird-spike-adhesive "
    "water-pump brake-pads garden-hose cordless-drill yoga-mat desk-lamp air-purifier "
    "coffee-grinder bike-pump hiking-boots rain-jacket phone-case usb-hub kettle"
)
_SITES = _words("amazon.com ebay.com walmart.com shopdirect.net partsworld.com homecenter.com")
_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/108.0.0.0 Safari/537.36"
)
_STUDY_START = datetime(2022, 12, 12, 9, 0, tzinfo=timezone.utc)
_LOCAL = timezone(timedelta(hours=1))


def _key(part: int | str) -> int:
    return part if isinstance(part, int) else zlib.crc32(part.encode())


def _rng(seed: int, *parts: int | str) -> np.random.Generator:
    return np.random.default_rng([seed, *(_key(p) for p in parts)])


def adserp_user_ids(n_users: int) -> list[str]:
    """The first ``n_users`` participant ids of the study, ``p004`` onwards."""
    if not 1 <= n_users <= N_PARTICIPANTS:
        raise ValueError(f"n_users must be 1-{N_PARTICIPANTS}, not {n_users}")
    return [f"p{FIRST_PARTICIPANT + i:03d}" for i in range(n_users)]


def query_slug(seed: int, batch: int, trial: int) -> str:
    """The query of one (batch, trial) slot; every participant running the batch searches it."""
    rng = _rng(seed, "query", batch, trial)
    brand = str(rng.choice(_BRANDS))
    model = f"{rng.choice(list('abcdefgh'))}{rng.integers(100, 99999)}"
    parts = [brand, brand, model] if rng.random() < 0.6 else [brand, brand]
    return "-".join(["buy", *parts, str(rng.choice(_PRODUCTS))])


@dataclass(frozen=True)
class _Style:
    """A participant's stable way of reading a results page."""

    decay: float  # gaze weight falls by exp(-decay) per 100 px down the viewport
    ad_gaze: float  # weight of ads relative to organic results
    ad_click: float  # odds of choosing an ad rather than an organic result
    rank_decay: float  # click odds fall by exp(-rank_decay) per organic rank
    overshoot: float  # probability of scrolling past the target and back
    fix_median: float  # ms
    pace: float  # multiplier of reading times


def _style(seed: int, user: str) -> _Style:
    rng = _rng(seed, "style", user)
    return _Style(
        decay=float(rng.uniform(0.08, 0.3)),
        ad_gaze=float(rng.uniform(0.5, 1.6)),
        ad_click=float(rng.uniform(0.1, 0.6)),
        rank_decay=float(rng.uniform(0.35, 0.8)),
        overshoot=float(rng.uniform(0.05, 0.35)),
        fix_median=float(rng.uniform(185, 235)),
        pace=float(rng.uniform(0.7, 1.4)),
    )


@dataclass(frozen=True)
class _Item:
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


def _layout(rng: np.random.Generator, slug: str) -> tuple[int, int, list[_Item]]:
    """Document height (CSS px), screenshot height and the boxes of one results page."""
    doc_h = int(rng.integers(2400, 3780))
    page_h = round(doc_h * SCALE)
    words = slug.split("-")[1:]
    product = " ".join(words[-2:]).title()
    items: list[_Item] = []
    y = 163
    if rng.random() < 0.45:
        h = int(rng.integers(233, 352))
        items.append(
            _Item(
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
            _Item(
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
            _Item("dd_right", "rhs", 1, RIGHT_X0, top, RIGHT_X0 + RIGHT_W, top + h, "Shopping", "")
        )
    n_bottom = int(rng.choice([0, 1, 2, 3, 4], p=[0.25, 0.15, 0.25, 0.2, 0.15]))
    bottom_h = [int(rng.choice(NATIVE_HEIGHTS)) for _ in range(n_bottom)]
    limit = page_h - 420 - sum(h + AD_GAP for h in bottom_h)
    y += 10
    rank = 1
    while rank <= 12:
        h = int(rng.choice(ORGANIC_HEIGHTS))
        if y + h > limit:
            break
        site = str(rng.choice(_SITES))
        wide = rng.random() < 0.3  # results with a thumbnail reach past the text column
        items.append(
            _Item(
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
    y = max(y, 1500)
    for k, h in enumerate(bottom_h):
        if y + h > page_h - 150:
            break
        items.append(
            _Item(
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
    return doc_h, page_h, items


def _screenshot(items: list[_Item], page_h: int, query: str, seed: int) -> Image.Image:
    """A plain drawing of the results page: header, ads, results, shopping cards."""
    image = Image.new("RGB", (PAGE_W, page_h), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    small, body, title = font(13, bold=False), font(14, bold=False), font(19, bold=False)
    draw.rectangle([0, 0, PAGE_W, 120], fill=(248, 249, 250))
    draw.rounded_rectangle([162, 30, 850, 76], radius=23, outline=(200, 200, 200), fill="white")
    draw.text((185, 44), query, font=body, fill=(32, 33, 36))
    draw.text((162, 128), "About 84,000 results (0.41 seconds)", font=small, fill=(112, 117, 122))
    rng = _rng(seed, "snippets")
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


def _lognormal(
    rng: np.random.Generator,
    median: float,
    sigma: float,
    lo: float,
    hi: float,
    size: int | None = None,
) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(median), sigma, size), lo, hi)


@dataclass
class _Trial:
    """The simulated logs of one trial, in page px and Unix ms."""

    fixations: list[tuple[int, float, float, int]]
    pointer: list[tuple[int, float, float, str]]  # t, client x/y CSS, event
    scroll: list[tuple[int, float]]  # t, offset CSS
    extra: list[tuple[int, str, str]]  # t, event, xpath: clicks and focus changes
    t_end: int
    target: int  # the chosen item
    decision: tuple[int, int, float]  # the final stop: start, press (Unix ms), scroll offset (px)


class _Simulator:
    """Gaze, scroll and pointer of one participant on one page."""

    def __init__(self, rng: np.random.Generator, style: _Style, items: list[_Item], page_h: int):
        self.rng = rng
        self.style = style
        self.items = items
        self.page_h = page_h
        self.boxes = np.array([[i.x0, i.y0, i.x1, i.y1] for i in items], dtype=float).reshape(-1, 4)
        self.is_ad = np.array([i.kind != "organic" for i in items], dtype=bool)
        max_css = (page_h - WINDOW_PX) / SCALE
        self.max_scroll_css = float(np.float32(max(0.0, max_css)))

    def choose_target(self) -> int:
        """The item the participant will click (organic results near the top most often)."""
        s = self.style
        odds = np.array(
            [
                np.exp(-s.rank_decay * (i.rank - 1))
                if i.kind == "organic"
                else s.ad_click
                * {"tads": 0.5, "platop": 0.3, "rhs": 0.15, "tadsb": 0.05}[i.block]
                * np.exp(-0.5 * (i.rank - 1))
                for i in self.items
            ]
        )
        return int(self.rng.choice(len(self.items), p=odds / odds.sum()))

    def scroll_plan(self, target: int) -> list[float]:
        """Scroll offsets (CSS px) of the successive stops, ending with the target in view."""
        y0 = self.boxes[target, 1]
        final = 0.0
        if self.boxes[target, 3] + 40 > 922:
            notches = np.ceil((y0 - self.rng.uniform(150, 450)) / (float(NOTCH_CSS) * SCALE))
            final = float(min(max(notches, 1) * NOTCH_CSS, self.max_scroll_css))
        plan = [0.0]
        steps = int(self.rng.integers(1, 4)) if final > 0 else 0
        for k in range(1, steps + 1):
            plan.append(float(min(round(final * k / steps / NOTCH_CSS) * NOTCH_CSS, final)))
        if self.rng.random() < self.style.overshoot:
            extra = int(self.rng.integers(1, 4)) * float(NOTCH_CSS)
            plan += [min(final + extra, self.max_scroll_css), final]
        plan[-1] = final
        return [p for k, p in enumerate(plan) if k == 0 or p != plan[k - 1]]

    def gaze_weights(self, scroll_px: float, target: int | None) -> np.ndarray:
        """Where fixations go in a viewport: visible items, decaying down the screen."""
        top = np.clip(self.boxes[:, 1], scroll_px, None) - scroll_px
        visible = (self.boxes[:, 3] > scroll_px + 20) & (self.boxes[:, 1] < scroll_px + 900)
        w = np.exp(-self.style.decay * top / 100) * np.where(self.is_ad, self.style.ad_gaze, 1.0)
        w = np.where(visible, w, 0.0)
        if target is not None:
            w[target] += 0.8 * w.sum() + 1e-9
        return w

    def fixate(self, start: int, end: int, scroll_px: float, target: int | None) -> list:
        """Fixations with onsets in [start, end) in the viewport at ``scroll_px``."""
        out = []
        weights = self.gaze_weights(scroll_px, target)
        t = start + int(self.rng.integers(*EYES.first_onset_ms))
        while True:
            dur = int(_lognormal(self.rng, self.style.fix_median, EYES.fix_sigma, *EYES.fix_ms))
            if t + dur > end:
                return out
            if weights.sum() > 0 and self.rng.random() < EYES.on_item:
                box = self.boxes[self.rng.choice(len(weights), p=weights / weights.sum())]
                top, bottom = max(box[1], scroll_px) + 4, min(box[3], scroll_px + 918) - 4
                depth = np.clip((top - scroll_px) / 922, 0, 1)
                # F-shape: long sweeps along the upper results, short ones further down
                sweep = _lognormal(self.rng, 210 * (1.2 - depth), 0.6, 5, 540)
                x = box[0] + self.rng.uniform(0, min(box[2] - box[0], 40 + sweep))
                y = self.rng.uniform(top, max(top + 1, bottom))
            else:  # the header, the result count, the gaps, the right-hand side
                x = self.rng.uniform(*EYES.background_x)
                y = scroll_px + self.rng.uniform(*EYES.background_rows(scroll_px))
            out.append((t, x, y, dur))
            t += dur + int(self.rng.integers(*EYES.gap_ms))

    def stop_fixations(self, start: int, end: int, scroll_px: float, target: int | None) -> list:
        """The fixations of a stop [start, end); in the final one (``target`` given) they end
        before the press, and a stop long enough closes with a last look at the choice."""
        if target is None:
            return self.fixate(start, end, scroll_px, None)
        out = self.fixate(start, end - EYES.press_margin_ms, scroll_px, target)
        if end - start >= EYES.last_look_min_stop_ms:
            tx, ty = self.point_in(target)
            jitter = self.rng.normal(0, EYES.last_look_sd_px)
            out.append((end - EYES.last_look_lead_ms, tx + jitter, ty, EYES.last_look_ms))
        return out

    def title_area(self, item: int) -> tuple[float, float, float, float]:
        """Columns x0, x1 and rows y0, y1 (page px) of the item's title line."""
        x0, y0, x1, y1 = self.boxes[item]
        return x0 + 10, min(x1 - 10, x0 + 260), y0 + 16, min(y1 - 4, y0 + 34)

    def point_in(self, item: int) -> tuple[float, float]:
        """A page point (px) on the item's title line, where people click."""
        x0, x1, y0, y1 = self.title_area(item)
        x = self.rng.uniform(x0, x1)
        return x, self.rng.uniform(y0, y1)

    def move(self, t: int, frm: tuple[float, float], to: tuple[float, float]) -> list:
        """A mousemove burst (client CSS px) from ``frm`` to ``to`` starting at ``t``."""
        n = int(self.rng.integers(6, 30))
        u = np.linspace(0, 1, n + 1)[1:]
        ease = 3 * u**2 - 2 * u**3
        bend = np.sin(np.pi * u) * self.rng.normal(0, 20)
        xs = frm[0] + (to[0] - frm[0]) * ease + bend
        ys = frm[1] + (to[1] - frm[1]) * ease
        times = t + np.cumsum(self.rng.choice([16, 17, 17], n))
        return [
            (int(tt), float(x), float(y), "mousemove")
            for tt, x, y in zip(times, xs, ys, strict=True)
        ]

    def trail(
        self, fixations: list, client: tuple[float, float], offset: float, limit: int
    ) -> tuple[list, tuple[float, float]]:
        """Pointer bursts towards a few of a stop's fixations, one after another, all before
        ``limit``; returns them and where the pointer rests afterwards (client CSS px)."""
        out: list = []
        free = 0
        picks = sorted(self.rng.choice(len(fixations), min(len(fixations), 3), replace=False))
        for k in picks[: int(self.rng.integers(0, 4))]:
            ft, fx, fy, _ = fixations[k]
            goal = (fx / SCALE + self.rng.normal(60, 40), fy / SCALE - offset)
            burst = self.move(max(ft + int(self.rng.integers(150, 500)), free + 50), client, goal)
            if burst[-1][0] >= limit:
                break
            out += burst
            client, free = burst[-1][1:3], burst[-1][0]
        return out, client

    def simulate(self, t0: int, several_clicks: bool, short_final: bool) -> _Trial:
        target = self.choose_target()
        plan = self.scroll_plan(target)
        if short_final and len(plan) == 1:
            plan = [0.0, float(NOTCH_CSS) if self.max_scroll_css >= NOTCH_CSS else 0.0, 0.0]
            plan = [p for k, p in enumerate(plan) if k == 0 or p != plan[k - 1]]
        pace = self.style.pace
        pointer: list = []
        scroll: list = []
        extra: list = []
        fixations: list = []
        client = (self.rng.uniform(500, 1000), self.rng.uniform(150, 600))  # CSS px
        t = t0
        for k, offset in enumerate(plan):
            final = k == len(plan) - 1
            px = offset * SCALE
            if k > 0:  # wheel notches, then the animation to the new offset
                prev = plan[k - 1]
                n = max(1, round(abs(offset - prev) / float(NOTCH_CSS)))
                wheels = t + np.cumsum(self.rng.integers(40, 120, n)) - 40
                for tw in wheels:
                    pointer.append((int(tw), client[0], client[1], "wheel"))
                span = int(wheels[-1] - t + 180)
                steps = np.arange(16, span, 16.7).astype(int)
                u = steps / span
                pos = prev + (offset - prev) * (3 * u**2 - 2 * u**3)
                pos = np.round(pos / STEP_CSS) * STEP_CSS
                for ts, p in zip(t + steps, pos, strict=True):
                    scroll.append((int(ts), float(np.float32(p))))
                scroll.append((int(t + span), float(np.float32(offset))))
                t = t + span
            if final and short_final and k > 0:
                dur = int(self.rng.integers(150, 390))
            elif final:
                dur = int(_lognormal(self.rng, 5500 * pace, 0.5, 1200, LONGEST_STOP_MS))
                dur = max(dur, 4000) if k == 0 else dur  # a trial lasts 5 s or more
            else:
                dur = int(_lognormal(self.rng, 3500 * pace, 0.6, 450, 15000))
            if k == 0 and several_clicks:
                dur = max(dur, 2500)  # room for an earlier click before anything else
            stop_end = t + dur
            fix = self.stop_fixations(t, stop_end, px, target if final else None)
            fixations += fix
            decision = (t, stop_end, px)
            if k == 0 and several_clicks:  # an earlier click (an image, a product ...)
                on_screen = np.flatnonzero(self.boxes[:, 1] < 860)
                goal = (
                    self.point_in(int(self.rng.choice(on_screen)))
                    if len(on_screen)
                    else (self.rng.uniform(MAIN_X0, MAIN_X1), self.rng.uniform(200, 800))
                )
                burst = self.move(t + 100, client, (goal[0] / SCALE, goal[1] / SCALE - offset))
                client = burst[-1][1:3]
                td = burst[-1][0] + 120
                pointer += burst
                pointer += [(td + dt, *client, ev) for dt, ev in CLICK_SEQUENCE]
                extra += [(td + 401, "blur", "/"), (td + 1500, "focus", "/")]
            else:  # the pointer trails the gaze, clear of the final approach
                limit = stop_end - (900 if final else 50)
                moves, client = self.trail(fix, client, offset, limit)
                pointer += moves
            t = stop_end
        # the final choice: reach the target, press, and the logged click lags the press
        tx, ty = self.point_in(target)
        goal = (tx / SCALE, ty / SCALE - plan[-1])
        t_down = t
        burst = self.move(t_down - int(self.rng.integers(350, 700)), client, goal)
        pointer += [b for b in burst if b[0] < t_down]
        lag = int(_lognormal(self.rng, 1800, 0.45, 800, 14000))
        pointer += [
            (t_down, goal[0], goal[1], "mousedown"),
            (t_down + int(self.rng.integers(60, 200)), goal[0], goal[1], "mouseup"),
            (t_down + lag, goal[0], goal[1], "click"),
        ]
        # the eyes move on between the press and the logged click
        fixations += self.fixate(t_down, t_down + lag, plan[-1] * SCALE, None)
        extra += [(t_down + lag + 1, "blur", "/"), (t_down + lag + 1, "focus", "/")]
        return _Trial(fixations, pointer, scroll, extra, t_down + lag, target, decision)


def _mouse_frame(sim: _Simulator, trial: _Trial, t0: int) -> pd.DataFrame:
    """The evtrack log: pointer rows in page CSS px with their XPaths, mouseover/mouseout where
    the element under the pointer changes, scroll rows; ``ypos`` as float when the trial scrolls."""
    pointer = pd.DataFrame(trial.pointer, columns=["timestamp", "cx", "cy", "event"])
    pointer = pointer.sort_values("timestamp", kind="stable").reset_index(drop=True)
    scroll = np.array(trial.scroll, dtype=float).reshape(-1, 2)
    i = np.searchsorted(scroll[:, 0], pointer["timestamp"].to_numpy(), side="right") - 1
    offset = np.where(i >= 0, scroll[np.clip(i, 0, None), 1] if len(scroll) else 0.0, 0.0)
    x = np.round(pointer["cx"].to_numpy()).astype(int)
    y = np.round(pointer["cy"].to_numpy() + offset)
    px, py = x * SCALE, y * SCALE
    b = sim.boxes
    hit = (px[:, None] >= b[:, 0]) & (px[:, None] <= b[:, 2])
    hit &= (py[:, None] >= b[:, 1]) & (py[:, None] <= b[:, 3])
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    paths = np.array(
        [
            sim.items[k].xpath(yy < sim.items[k].y0 + 36, xx)
            if k >= 0
            else "//*[@id='center_col']"
            if xx < 760
            else "//*[@id='rcnt']"
            for k, xx, yy in zip(first, px, py, strict=True)
        ],
        dtype=object,
    )
    rows = pd.DataFrame(
        {
            "timestamp": pointer["timestamp"],
            "xpos": x,
            "ypos": y,
            "event": pointer["event"],
            "xpath": paths,
        }
    )
    # entering a new element fires mouseout (old) and mouseover (new) before the mousemove
    moves = rows[rows["event"] == "mousemove"]
    changed = moves["xpath"].to_numpy() != np.r_[None, moves["xpath"].to_numpy()[:-1]]
    over = moves[changed].assign(event="mouseover")
    out = moves[changed].assign(
        event="mouseout", xpath=np.r_[None, moves["xpath"].to_numpy()[:-1]][changed]
    )
    frame = pd.concat(
        [
            pd.DataFrame(
                [(t0, 0, 0.0, "load", "/"), (t0, 0, 0.0, "pageshow", "/")], columns=MOUSE_COLUMNS
            ),
            out[out["xpath"].notna()].assign(order=0),
            over.assign(order=1),
            rows.assign(order=2),
            pd.DataFrame(
                [(t, 0, v, "scroll", "/") for t, v in trial.scroll], columns=MOUSE_COLUMNS
            ),
            pd.DataFrame([(t, 0, 0.0, e, p) for t, e, p in trial.extra], columns=MOUSE_COLUMNS),
        ],
        ignore_index=True,
    )
    frame = frame.sort_values(["timestamp", "order"], kind="stable", na_position="first")
    frame = frame[MOUSE_COLUMNS].reset_index(drop=True)
    frame["ypos"] = frame["ypos"].map(repr) if trial.scroll else frame["ypos"].astype(int)
    return frame


def _pupil_frame(rng: np.random.Generator, trial: _Trial, t0: int) -> pd.DataFrame:
    """150-Hz gaze and pupil samples from load to click, near the fixation in progress."""
    t = t0 + np.cumsum(np.r_[0, np.resize([7, 7, 6], int((trial.t_end - t0) / 6.67))])
    t = t[t <= trial.t_end]
    fix = np.array([f[:3] for f in trial.fixations], dtype=float).reshape(-1, 3)
    idx = np.clip(np.searchsorted(fix[:, 0], t, side="right") - 1, 0, max(len(fix) - 1, 0))
    x = (fix[idx, 1] if len(fix) else np.full(len(t), 640.0)) + rng.normal(0, 14, len(t))
    y = (fix[idx, 2] if len(fix) else np.full(len(t), 400.0)) + rng.normal(0, 14, len(t))
    base = rng.uniform(12.5, 16.5)
    drift = np.cumsum(rng.normal(0, 0.02, len(t)))
    return pd.DataFrame(
        {
            "timestamp": t,
            "BPOGX": np.round(x).astype(int),
            "BPOGY": np.round(y).astype(int),
            "LPD": np.round(base + drift + rng.normal(0, 0.05, len(t)), 5),
            "LPV": (rng.random(len(t)) > 0.015).astype(int),
            "RPD": np.round(base + 0.6 + drift + rng.normal(0, 0.05, len(t)), 5),
            "RPV": (rng.random(len(t)) > 0.015).astype(int),
        },
        columns=PUPIL_COLUMNS,
    )


def _metadata_xml(t0: int, slug: str, batch: int, trial: int, doc_h: int) -> str:
    stamp = t0 // 1000 - 1
    local = datetime.fromtimestamp(stamp, _LOCAL).strftime("%m/%d/%Y %H:%M:%S")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<data>",
        " <ip>::1</ip>",
        f" <date>{local}</date>",
        f" <timestamp>{stamp}</timestamp>",
        f" <url>http://localhost/page.php?q={slug}</url>",
        f" <ua>{_UA}</ua>",
        " <screen>1280x1024</screen>",
        " <window>1422x1137</window>",
        f" <document>1403x{doc_h}</document>",
        f" <task>batch_{batch}_trial_{trial} | {slug}</task>",
        "</data>",
        "",
    ]
    return "\r\n".join(lines)


def _write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.encode())


def _participants(seed: int, users: list[str]) -> pd.DataFrame:
    rows = []
    for user in users:
        rng = _rng(seed, "participant", user)
        row = {"participant_id": user, "age": int(rng.integers(19, 45))}
        for column, pairs in _PARTICIPANT_VALUES.items():
            values, counts = zip(*pairs, strict=True)
            row[column] = str(rng.choice(values, p=np.array(counts) / sum(counts)))
        rows.append(row)
    return pd.DataFrame(rows, columns=PARTICIPANT_COLUMNS)


def trial_slots(seed: int, user: str, trials_per_user: int) -> list[tuple[int, int]]:
    """(block, trial) of a participant's logged trials: the first ``trials_per_user`` of blocks
    1-6 x trials 1-10 in order, a few missing."""
    rng = _rng(seed, "slots", user)
    slots = [(b, t) for b in range(1, N_BLOCKS + 1) for t in range(1, TRIALS_PER_BLOCK + 1)]
    kept = [s for s in slots if rng.random() >= MISSING_RATE]
    return kept[:trials_per_user]


def generate_adserp(
    out_dir: str | Path,
    n_users: int = 6,
    seed: int = 11,
    trials_per_user: int = 59,
    n_batches: int = 240,
    organic: bool = True,
) -> dict:
    """Write a synthetic AdSERP ``data/`` folder and return a summary of what was written.

    Folders: ``fixation-data``, ``pupil-data``, ``mouse-movement-data``, ``ad-boundary-data``,
    ``trial-metadata``, ``full-page-screenshots`` (and ``organic-aoi-data`` with ``organic``),
    plus ``participants.csv``. Each block draws one of ``n_batches`` query batches; fewer batches
    mean more queries shared between participants. Equal arguments give byte-identical files.
    The planted gaze truth goes to ``truth/`` beside them (:mod:`.adserp_truth`); it draws no
    random numbers, so the released-format files are the same with or without it.
    """
    if not 1 <= trials_per_user <= N_BLOCKS * TRIALS_PER_BLOCK:
        raise ValueError(f"trials_per_user must be 1-{N_BLOCKS * TRIALS_PER_BLOCK}")
    if n_batches < 1:
        raise ValueError("n_batches must be positive")
    out = Path(out_dir)
    users = adserp_user_ids(n_users)
    write_csv(_participants(seed, users), out / PARTICIPANTS_FILE)
    folders = {role: out / folder for role, (folder, _) in TRIAL_FOLDERS.items()}
    for folder in [*folders.values(), out / "pupil-data", out / ORGANIC_FOLDER]:
        folder.mkdir(parents=True, exist_ok=True)
    clicks: dict[str, int] = {}
    truths: list[pd.DataFrame] = []
    n_trials = several = short = 0
    for u, user in enumerate(users):
        style = _style(seed, user)
        kept_ms = kept_ms_table(style.fix_median, LONGEST_STOP_MS)
        user_rng = _rng(seed, "batches", user)
        batches = user_rng.choice(n_batches, size=N_BLOCKS, replace=n_batches < N_BLOCKS) + 1
        t0 = int((_STUDY_START + timedelta(days=2 * u)).timestamp() * 1000)
        for block, trial_no in trial_slots(seed, user, trials_per_user):
            trial = f"{user}-b{block}-t{trial_no}"
            rng = _rng(seed, "trial", trial)
            batch = int(batches[block - 1])
            slug = query_slug(seed, batch, trial_no)
            doc_h, page_h, items = _layout(rng, slug)
            sim = _Simulator(rng, style, items, page_h)
            multi, too_short = rng.random() < 0.05, rng.random() < 0.03
            log = sim.simulate(t0, several_clicks=multi, short_final=too_short)
            truths.append(trial_truth(sim, log, trial, kept_ms))
            fixations = pd.DataFrame(
                [(t, round(x), round(y), d) for t, x, y, d in log.fixations],
                columns=FIXATION_COLUMNS,
            )
            mouse = _mouse_frame(sim, log, t0)
            write_csv(fixations, out / "fixation-data" / f"{trial}.csv")
            write_csv(mouse, out / "mouse-movement-data" / f"{trial}.csv")
            write_csv(_pupil_frame(rng, log, t0), out / "pupil-data" / f"{trial}.csv")
            ads = {
                kind: [
                    {
                        "location": {"x": i.x0, "y": i.y0},
                        "size": {"height": i.y1 - i.y0, "width": i.x1 - i.x0},
                    }
                    for i in items
                    if i.kind == kind
                ]
                for kind in ("native_ad", "dd_top", "dd_right")
            }
            _write_text(json.dumps(ads), out / "ad-boundary-data" / f"{trial}.json")
            _write_text(
                _metadata_xml(t0, slug, batch, trial_no, doc_h),
                out / "trial-metadata" / f"{trial}.xml",
            )
            if organic:
                boxes = [
                    {
                        "rank": i.rank,
                        "title": i.title,
                        "site": i.site,
                        "x_left": i.x0,
                        "y_top": i.y0,
                        "x_right": i.x1,
                        "y_bot": i.y1,
                    }
                    for i in items
                    if i.kind == "organic"
                ]
                _write_text(json.dumps({"organic": boxes}), out / ORGANIC_FOLDER / f"{trial}.json")
            with atomic_path(out / "full-page-screenshots" / f"{trial}.png") as tmp:
                _screenshot(items, page_h, slug.replace("-", " "), seed).save(
                    tmp, format="PNG", compress_level=1
                )
            last = mouse[mouse["event"] == "click"]["xpath"].iloc[-1]
            kind = "organic" if "rso" in last else "ad" if "tads" in last else "shopping"
            clicks[kind] = clicks.get(kind, 0) + 1
            n_trials += 1
            several += multi
            short += too_short
            t0 = log.t_end + int(rng.integers(8000, 40000))
    write_truth(truths, out, seed)
    return {
        "n_users": n_users,
        "n_trials": n_trials,
        "final_clicks": clicks,
        "trials_with_several_clicks": int(several),
        "trials_with_a_late_scroll": int(short),
    }
