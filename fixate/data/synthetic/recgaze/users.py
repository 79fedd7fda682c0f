"""The synthetic RecGaze participants: a ``user_features.csv`` profile and a stable gaze style.

Every user's style is drawn once from the seed (how fast attention decays down the rows and to
the right, a preferred column, how often they scroll and swipe, how long they fixate, how much
they favour their preferred genres), so that a user model has something stable to learn, and the
profile's genre ratings are the same tastes that steer the gaze.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import GENRES, N_COLS
from fixate.data.synthetic.recgaze.design import subject_id
from fixate.data.synthetic.seeding import keyed_rng

RATING_LABELS = (
    "1 star - Awful",
    "2 stars - Poor",
    "3 stars - Okay",
    "4 stars - Good",
    "5 stars - Must Watch",
)
USER_FEATURES_COLUMNS = [
    "Pre_survey_timestamp",
    "UserID",
    "SubjectIDs",
    "Location",
    "First_task",
    "Netflix_user",
    "Netflix_usage",
    "Movie_watching_frequency",
    "Top_genre",
    "Preferred_genres",
    *(f"{genre}_rating" for genre in GENRES),
    *(f"MAX_Q{i}" for i in range(1, 7)),
    "Post_survey_timestamp",
    "FreeBrowsing_experience_rating",
    "Tiredness_level",
    "Distance_eyes_center_screen",
    "Speed_reminder",
]

_TOP_GENRE_WEIGHTS = np.array([0.14, 0.07, 0.14, 0.09, 0.12, 0.08, 0.08, 0.07, 0.12, 0.09])


@dataclass(frozen=True)
class Style:
    """One user's gaze and navigation habits, fixed across all their screens."""

    row_decay: float  # attention kept per screen row further down
    col_w: np.ndarray  # attention per on-screen column (5,)
    slot_w: np.ndarray  # idiosyncratic affinity per on-screen slot: row rank 0-2 x column (3, 5)
    genre_w: np.ndarray  # attention multiplier per genre (10,)
    refix: float  # mean fixations per glance at a poster
    order_noise: float  # how loosely the scanpath follows reading order
    dur_mu: float  # log of the median fixation duration (ms)
    dur_sigma: float
    p_off: float  # share of fixations that miss the posters
    p_deep: float  # chance to explore below row 3
    depth_p: float  # geometric parameter: how far below row 3 exploration goes
    burst: float  # mean extra wheel notches per scroll burst
    p_swipe: float  # swipe propensity
    speed: float  # multiplier of screen durations
    follow: float  # share of glances the cursor follows
    lag: float  # cursor lag behind the gaze (ms)


@dataclass(frozen=True)
class User:
    """A participant: tastes, study order, hardware, gaze style and survey row."""

    uid: str
    top: int
    preferred: np.ndarray  # bool (10,)
    ratings: np.ndarray  # int 1-5 (10,)
    first_free: bool
    reminder: int  # screens after which a speed reminder came (0 = none)
    notch: int  # wheel notch in px (hardware of the site)
    style: Style
    record: dict = field(repr=False)


def _survey_times(base: pd.Timestamp, rng: np.random.Generator) -> tuple[str, str]:
    start = base + pd.Timedelta(
        days=int(rng.integers(0, 45)), hours=int(rng.integers(9, 17)), minutes=int(rng.integers(60))
    )
    end = start + pd.Timedelta(minutes=int(rng.integers(55, 106)))
    return start.strftime("%m-%d-%Y %H:%M"), end.strftime("%m-%d-%Y %H:%M")


def make_user(seed: int, uid: str) -> User:
    """Profile (the ``user_features.csv`` row) and gaze style of one participant."""
    rng = keyed_rng(seed, "user", uid)
    site, number = uid.rsplit("_", 1)
    kinit = site == "KInIT"
    top, preferred, ratings = _tastes(rng)
    first_free = int(number) % 2 == 1  # counterbalanced block order
    reminder = int(rng.choice([0, 10, 20], p=[0.6, 0.2, 0.2]))
    style = _draw_style(rng, top, preferred, ratings)
    record = _survey_record(rng, uid, kinit, top, preferred, ratings, first_free, reminder)
    return User(
        uid=uid,
        top=top,
        preferred=preferred,
        ratings=ratings,
        first_free=first_free,
        reminder=reminder,
        notch=100 if kinit else 120,
        style=style,
        record=record,
    )


def _tastes(rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """Top genre, preferred genres (the top one and 1-3 more) and a 1-5 rating per genre."""
    top = int(rng.choice(len(GENRES), p=_TOP_GENRE_WEIGHTS))
    others = [g for g in range(len(GENRES)) if g != top]
    other_p = _TOP_GENRE_WEIGHTS[others] / _TOP_GENRE_WEIGHTS[others].sum()
    n_extra = rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25])
    extra = rng.choice(others, size=n_extra, replace=False, p=other_p)
    preferred = np.zeros(len(GENRES), dtype=bool)
    preferred[[top, *extra]] = True
    ratings = rng.choice([1, 2, 3, 4], size=len(GENRES), p=[0.1, 0.3, 0.4, 0.2])
    ratings[preferred] = rng.choice([4, 5], size=preferred.sum(), p=[0.7, 0.3])
    ratings[top] = 5
    return top, preferred, ratings


def _draw_style(
    rng: np.random.Generator, top: int, preferred: np.ndarray, ratings: np.ndarray
) -> Style:
    """The gaze style; genre attention follows the user's own ratings and preferences."""
    col_decay = 0.45 + 0.5 * rng.beta(3, 2)
    peak = int(rng.choice(4, p=[0.5, 0.25, 0.15, 0.1]))
    cols = np.arange(N_COLS)
    col_w = col_decay ** np.abs(cols - peak) * np.where(cols < peak, 0.85, 1.0)
    top_boost, pref_boost = 1.3 + 0.7 * rng.random(), 1.1 + 0.3 * rng.random()
    genre_w = np.exp(0.12 * (ratings - 3)) * np.where(preferred, pref_boost, 1.0)
    genre_w[top] *= top_boost / pref_boost
    return Style(
        row_decay=0.3 + 0.65 * rng.beta(2.5, 1.5),
        col_w=col_w,
        slot_w=rng.lognormal(0, 0.5, size=(3, N_COLS)),
        genre_w=genre_w,
        refix=1.3 + 1.2 * rng.random(),
        order_noise=0.8 + 3.0 * rng.random(),
        dur_mu=float(np.log(210 * np.exp(rng.normal(0, 0.15)))),
        dur_sigma=0.45 + 0.1 * rng.random(),
        p_off=0.2 + 0.14 * rng.random(),
        p_deep=rng.beta(4.5, 5.5),
        depth_p=0.3 + 0.4 * rng.random(),
        burst=0.3 + 1.5 * rng.random(),
        p_swipe=rng.beta(2.5, 7),
        speed=float(np.exp(rng.normal(0, 0.25))),
        follow=0.25 + 0.5 * rng.random(),
        lag=300 + 600 * rng.random(),
    )


def _survey_record(
    rng: np.random.Generator,
    uid: str,
    kinit: bool,
    top: int,
    preferred: np.ndarray,
    ratings: np.ndarray,
    first_free: bool,
    reminder: int,
) -> dict:
    """The user's ``user_features.csv`` row: the pre- and post-survey answers."""
    pre, post = _survey_times(pd.Timestamp("2024-11-04" if kinit else "2025-01-13"), rng)
    netflix = rng.random() < 0.7
    usage = ("Daily", "A few times a week", "Once a week", "A few times a month")
    watching = (
        "Several times a week",
        "Once a week",
        "A few times a month",
        "Once a month or less",
    )
    return {
        "Pre_survey_timestamp": pre,
        "UserID": uid,
        "SubjectIDs": str(subject_id(uid)),
        "Location": "Bratislava" if kinit else "Amsterdam",
        "First_task": "Free_browsing" if first_free else "Semi_free_direct_search",
        "Netflix_user": "Yes" if netflix else "No",
        "Netflix_usage": usage[rng.choice(4, p=[0.2, 0.4, 0.25, 0.15])] if netflix else "Never",
        "Movie_watching_frequency": watching[rng.choice(4, p=[0.3, 0.3, 0.3, 0.1])],
        "Top_genre": GENRES[top],
        "Preferred_genres": ", ".join(g for g, on in zip(GENRES, preferred, strict=True) if on),
        **{f"{g}_rating": RATING_LABELS[r - 1] for g, r in zip(GENRES, ratings, strict=True)},
        **{f"MAX_Q{i}": int(rng.integers(1, 8)) for i in range(1, 7)},
        "Post_survey_timestamp": post,
        "FreeBrowsing_experience_rating": int(np.clip(np.round(rng.normal(7.4, 1.4)), 1, 10)),
        "Tiredness_level": int(rng.choice([1, 2, 3, 4, 5], p=[0.15, 0.3, 0.3, 0.18, 0.07])),
        "Distance_eyes_center_screen": f"{rng.uniform(55, 75):.1f}",
        "Speed_reminder": "No" if reminder == 0 else f"After {reminder} screens",
    }
