"""The eyes, scroll and pointer of one synthetic AdSERP participant on one results page.

Per trial a scroll plan (wheel notches of 111.1 CSS px, animated in 1.11-px steps every ~17 ms)
brings the chosen result into view, sometimes overshooting and coming back; fixations (duration
log-normal, median about 208 ms, onset gap = duration + about 30 ms) go towards the visible results
with an F-shaped decay down the page, the chosen one last; a pointer trails the gaze in ~17 ms
``mousemove`` bursts; the final ``mousedown``/``mouseup`` land on the chosen result and the
``click`` 0.8-14 s later while the eyes move on. A few trials hold an earlier click, a few end with
a scroll just before the click (a too-short final stop).

The eyes' constants are one :class:`Eyes` object, which the planted truth (:mod:`.truth`) reads
too, so that the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fixate.data.adserp.timeline import SCALE
from fixate.data.synthetic.adserp.design import Style
from fixate.data.synthetic.adserp.page import MAIN_X0, MAIN_X1, WINDOW_PX, Item

NOTCH_CSS = np.float32(1000 / 9)  # one wheel notch, 111.11 CSS px
STEP_CSS = 10 / 9  # scroll animation positions are whole device px (1.11 CSS px)
CLICK_SEQUENCE = ((0, "mousedown"), (90, "mouseup"), (400, "click"))  # an earlier click (ms)
LONGEST_STOP_MS = 30000


@dataclass(frozen=True)
class Eyes:
    """The constants of the generator's eyes, shared with the truth so that the two cannot drift
    apart. Integer ranges are ``rng.integers`` bounds (upper bound excluded)."""

    on_item: float = 0.84  # chance that a fixation lands on an item picked by the gaze weights
    fix_sigma: float = 0.486  # of the log-normal fixation duration (its median is the style's)
    fix_ms: tuple[int, int] = (40, 1976)  # clip of a fixation's duration
    first_onset_ms: tuple[int, int] = (60, 200)  # from the start of a stop
    gap_ms: tuple[int, int] = (18, 46)  # from the end of a fixation to the next onset
    background_x: tuple[int, int] = (80, 1200)  # page px
    background_h: int = 900  # background rows below the scroll offset
    header_px: int = 60  # on the unscrolled page, the header rows draw no background fixation
    press_margin_ms: int = 250  # the last stop's fixations end this long before the press
    last_look_ms: int = 210
    last_look_lead_ms: int = 240  # the last look's onset before the press
    last_look_min_stop_ms: int = 900  # only final stops this long have a last look
    last_look_sd_px: float = 8.0  # horizontal jitter of the last look

    def background_rows(self, scroll_px: float) -> tuple[int, int]:
        """Rows below the scroll offset where a background fixation falls."""
        return (self.header_px if scroll_px == 0 else 0, self.background_h)


EYES = Eyes()


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
class Trial:
    """The simulated logs of one trial, in page px and Unix ms."""

    fixations: list[tuple[int, float, float, int]]
    pointer: list[tuple[int, float, float, str]]  # t, client x/y CSS, event
    scroll: list[tuple[int, float]]  # t, offset CSS
    extra: list[tuple[int, str, str]]  # t, event, xpath: clicks and focus changes
    t_end: int
    target: int  # the chosen item
    decision: tuple[int, int, float]  # the final stop: start, press (Unix ms), scroll offset (px)


class Simulator:
    """Gaze, scroll and pointer of one participant on one page."""

    def __init__(self, rng: np.random.Generator, style: Style, items: list[Item], page_h: int):
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

    def simulate(self, t0: int, several_clicks: bool, short_final: bool) -> Trial:
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
        return Trial(fixations, pointer, scroll, extra, t_down + lag, target, decision)
