"""Seeded synthetic RecGaze raw logs, in the exact file formats of the released dataset.

Why this exists: the RecGaze participant logs are only on Zenodo (the gaze coordinates in a
restricted record), so the workflow, its tests and the demo need stand-in raw files that the real
readers accept unchanged and that still carry the signal FixATE learns. Every synthetic user
therefore has a stable gaze style drawn once from the seed (how fast attention decays down the
rows and to the right, a preferred column, how often they scroll and swipe, how long they fixate,
how much they favour their preferred genres), and their clicks follow their own gaze.

The interface is simulated on the geometry of :mod:`fixate.data.recgaze.layout`. A session is a
chain of "visits" (a constant scroll offset and horizontal page state), each holding a scanpath of
fixations, the cursor trailing the gaze, and the action that ends it: a wheel scroll, a swipe
click on a carousel arrow, or the final movie click. Fixation AOIs are decided geometrically from
the fixation position, as the eye-tracking software does, so the event log, the gaze coordinates
and the layout always agree. The visit plan is plain Python; everything per fixation is vectorised
over the whole session.

Random numbers come from generators keyed by (seed, user[, task]), so a user's profile and
sessions do not change when more users or fewer tasks are generated, and equal arguments give
byte-identical files.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import (
    ARROW_SIZE,
    BACKWARD_X,
    BROWSER_BAR,
    COL_X,
    FORWARD_X,
    GENRE_TEXT_H,
    GENRE_TEXT_TOPS,
    GENRE_TEXT_WIDTHS,
    GENRES,
    ITEMS_PER_ROW,
    MAX_SCROLL,
    N_COLS,
    N_PAGES,
    N_ROWS,
    POSTER_H,
    POSTER_W,
    ROW_TOPS,
    SCREEN_H,
    SCREEN_W,
    TASK_BAR,
    aoi_table,
)
from fixate.data.recgaze.raw import (
    AOI_TYPES,
    ITEM_FEATURES_COLUMNS,
    NON_PUBLIC_COLUMNS,
    SUMMARY_COLUMNS,
    aoi_columns,
)
from fixate.data.tables import write_csv

# --- study design -----------------------------------------------------
N_KINIT = 61
N_UVA = 26
N_FULL_USERS = N_KINIT + N_UVA
ALL_TASKS = tuple(range(1, 41))
SEMI_FREE_TASKS = tuple(range(31, 36))
DIRECT_TASKS = tuple(range(36, 41))
DIRECT_TARGETS = {36: (5, 1), 37: (10, 14), 38: (2, 2), 39: (1, 13), 40: (9, 5)}
FAILED_SEARCHES = {
    "KInIT_18": (38,),
    "KInIT_21": (38,),
    "KInIT_28": (36, 37, 39),
    "KInIT_46": (36,),
    "KInIT_61": (38,),
}
MISSING_CLICKS = {"KInIT_21": (18,), "KInIT_51": (3,), "UvA_4": (20,)}
# 87 x 40 = 3,480 screens but 3,477 logged interactions: three sessions are absent altogether.
# Which ones is not documented; these users have no other gap.
ABSENT_SESSIONS = frozenset({("KInIT_33", 7), ("KInIT_57", 24), ("UvA_19", 32)})
# Below the full roster a few more sessions lose their final click, so that the pipeline's drop
# reporting is exercised at demo scale too.
RANDOM_DROP_RATE = 0.015

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
POSTER_URL_PREFIX = "https://image.tmdb.org/t/p/w500/"
EXTRACTION_DATE = "10-03-2024"

# --- geometry used by the simulation --------------------------------------------------------------
_TOPS = np.asarray(ROW_TOPS, dtype=float)
_GENRE_TOPS = np.asarray(GENRE_TEXT_TOPS, dtype=float)
_COLX = np.asarray(COL_X, dtype=float)
_ARROW_DY = (POSTER_H - ARROW_SIZE) // 2
_ARROW_TOPS = _TOPS + _ARROW_DY
# Gaze can only land on the page between the fixed browser bar and the task bar.
_VIEW_TOP = BROWSER_BAR[1] + 3
_VIEW_BOTTOM = TASK_BAR[0] - 3
_MIN_GLANCE_PX = 60  # a poster needs this much on screen to attract a glance
_MIN_CLOSEST_PX = 10  # rows thinner than this on screen are never a "closest" AOI
_CLOSEST_PX = 60.0
_FULL_MARGIN = 4  # selected rows sit this far inside the screen (gaze noise is at most 3 px)
_GAZE_NOISE = 3
_MOVIE, _GENRE, _FWD, _BWD, _BG = range(5)  # indices into raw.AOI_TYPES
_SCROLL, _SWIPE, _CLICK, _END = range(4)  # how a visit ends
# Fixation placement modes: on the glanced poster, near its edge, on its heading, anywhere, on an
# arrow, on the arrow about to be clicked, on the poster about to be selected.
_ON, _NEAR, _HEADING, _ANY, _ARROW, _SWIPE_ARROW, _SELECT = range(7)

_TOP_GENRE_WEIGHTS = np.array([0.14, 0.07, 0.14, 0.09, 0.12, 0.08, 0.08, 0.07, 0.12, 0.09])


def _key(part: int | str) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def _rng(seed: int, *parts: int | str) -> np.random.Generator:
    """A generator keyed by the seed and named parts, independent of every other key."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(_key, parts)]))


def recgaze_user_ids(n_users: int) -> list[str]:
    """User ids in roster order: 87 gives KInIT_1..KInIT_61 and UvA_1..UvA_26.

    Smaller rosters keep the site ratio (round(n * 61 / 87) KInIT users) and at least one user of
    each site from two users on, so both hardware setups appear in every demo.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    n_kinit = int(n_users * N_KINIT / N_FULL_USERS + 0.5)
    if n_users >= 2:
        n_kinit = min(max(n_kinit, 1), n_users - 1)
    return [f"KInIT_{i}" for i in range(1, n_kinit + 1)] + [
        f"UvA_{i}" for i in range(1, n_users - n_kinit + 1)
    ]


def subject_id(user_id: str) -> int:
    """The study-system id of a user, stable across roster sizes (KInIT_n 1000+n, UvA_n 2000+n)."""
    site, number = user_id.rsplit("_", 1)
    return (1000 if site == "KInIT" else 2000) + int(number)


@dataclass(frozen=True)
class PlannedSession:
    """One logged screen and how it ends: ``click``, ``failed_search`` or ``missing_click``."""

    user_id: str
    subject_id: int
    task_id: int
    outcome: str


def _check_tasks(tasks: Sequence[int]) -> tuple[int, ...]:
    chosen = tuple(sorted({int(t) for t in tasks}))
    if not chosen or chosen[0] < 1 or chosen[-1] > len(ALL_TASKS):
        raise ValueError(f"tasks must be a non-empty subset of 1-40, got {list(tasks)}")
    return chosen


def plan_sessions(
    n_users: int, seed: int = 7, tasks: Sequence[int] = ALL_TASKS
) -> list[PlannedSession]:
    """The sessions :func:`generate_recgaze` writes, in file order, without simulating them.

    The documented gaps apply to the users that exist; the three absent sessions make the full
    roster log 87 x 40 - 3 = 3,477 sessions. Below the full roster, the ``RANDOM_DROP_RATE``
    share of the remaining sessions with the lowest seeded draws also lose their final click.
    """
    plan = []
    for user in recgaze_user_ids(n_users):
        for task in _check_tasks(tasks):
            if (user, task) in ABSENT_SESSIONS:
                continue
            outcome = "click"
            if task in FAILED_SEARCHES.get(user, ()):
                outcome = "failed_search"
            elif task in MISSING_CLICKS.get(user, ()):
                outcome = "missing_click"
            plan.append(PlannedSession(user, subject_id(user), task, outcome))
    if n_users < N_FULL_USERS:
        clicked = [i for i, p in enumerate(plan) if p.outcome == "click"]
        draw = {i: _rng(seed, "drop", plan[i].user_id, plan[i].task_id).random() for i in clicked}
        for i in sorted(clicked, key=draw.__getitem__)[: round(RANDOM_DROP_RATE * len(plan))]:
            plan[i] = replace(plan[i], outcome="missing_click")
    return plan


def genre_orders(seed: int) -> np.ndarray:
    """Genre index (into ``GENRES``) of carousels 1-10 for tasks 1-40, shape (40, 10).

    Built from four random Latin squares, like the study's balanced permutations: over tasks
    1-30 every genre sits three times at every carousel position, and over 31-40 once.
    """
    rng = _rng(seed, "genre-order")
    squares = []
    for _ in range(4):
        rows, cols, symbols = (rng.permutation(N_ROWS) for _ in range(3))
        squares.append(symbols[(rows[:, None] + cols[None, :]) % N_ROWS])
    return np.concatenate(squares)


def semi_free_rows(seed: int) -> dict[int, int]:
    """The carousel (1-10) whose genre each semi-free task 31-35 asks for; distinct per task."""
    rows = _rng(seed, "semi-free").choice(N_ROWS, size=len(SEMI_FREE_TASKS), replace=False) + 1
    return dict(zip(SEMI_FREE_TASKS, rows.tolist(), strict=True))


# --- items ---------------------------------------------------------------------------------------
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADJECTIVES = _words(
    "Silent Broken Hidden Last Lost Golden Dark Bright Secret Endless Burning Frozen Wild Quiet "
    "Crimson Hollow Distant Fading Restless Iron Velvet Midnight Electric Paper Glass Savage "
    "Gentle Stolen Forgotten Little Final Northern Southern Empty Perfect Rising Falling Second "
    "Blue Black White Red Lucky Lonely Brave Wicked Sweet Bitter Shattered Eternal"
)
_NOUNS = _words(
    "Harbor River Garden Road House City Kingdom Mirror Signal Storm Island Winter Summer Horizon "
    "Promise Letter Bridge Station Shadow Ocean Forest Valley Circle Echo Frontier Border Season "
    "Tide Crown Empire Game Code Line Room Door Window Night Morning Heart Journey Engine Harvest "
    "Ghost Hunter Stranger Witness Colony Coast Lighthouse Canyon Orchard Avenue Factory Voyage "
    "Legacy Verdict Pulse Dream Memory"
)
_GENRE_NOUNS = {
    "Action": _words("Strike Protocol Mercenary Siege Fury Extraction Outlaw Bullet"),
    "Animation": _words("Dragon Robot Penguin Kite Moonbeam Fox Balloon Snowflake"),
    "Comedy": _words("Wedding Roommate Vacation Neighbors Bachelor Reunion Mixup Roadtrip"),
    "Crime": _words("Heist Alibi Cartel Detective Ransom Informant Syndicate Motive"),
    "Drama": _words("Daughter Inheritance Silence Father Confession Sister Homecoming Widow"),
    "Fantasy": _words("Sorcerer Realm Prophecy Amulet Throne Enchantress Labyrinth Griffin"),
    "Horror": _words("Haunting Curse Ritual Possession Cellar Exorcism Nightmare Asylum"),
    "Romance": _words("Kiss Sweetheart Love Honeymoon Valentine Serenade Crush Affair"),
    "Sci-Fi": _words("Android Galaxy Orbit Paradox Starship Singularity Clone Nebula"),
    "Thriller": _words("Conspiracy Target Hostage Deception Pursuit Blackout Stalker Abduction"),
}
_TITLE_PATTERNS = (
    ("The {a} {n}", 0.28),
    ("{a} {n}", 0.18),
    ("The {n}", 0.14),
    ("{n}", 0.12),
    ("{n} of the {m}", 0.1),
    ("{a} {n}s", 0.08),
    ("A {a} {n}", 0.05),
    ("{n} and {m}", 0.05),
)
_SEQUELS = ("", " 2", " II", " 3")
_FIRST_NAMES = _words(
    "Ava Liam Mia Noah Lena Jonas Sofia Mateo Chloe Ethan Nora Lucas Isla Hugo Maya Oscar Elena "
    "Felix Zoe Leo Clara Adam Ines Marco Hana Yuki Priya Arjun Sven Freya Tomas Julia Omar Lina "
    "Diego Rosa Kai Nina Pavel Eva"
)
_LAST_NAMES = _words(
    "Moreau Berg Kovac Novak Rossi Silva Jensen Walsh Okafor Tanaka Kim Larsen Fischer Costa "
    "Meyer Brennan Dubois Horvath Ivanova Petrov Lindqvist Santos Nakamura Haddad Quinn Reyes "
    "Varga Holm Keller Duarte Sato Blake Carter Hughes Laurent Marsh Nilsen Ortega Pike Szabo"
)
_ROLES = _words(
    "detective teacher pilot widow hacker farmer chef soldier student musician nurse journalist "
    "thief scientist boxer architect"
)
_ROLE_ADJECTIVES = _words(
    "retired young reluctant ambitious grieving small-town disgraced brilliant restless stubborn"
)
_VERBS = (
    "must protect",
    "sets out to find",
    "tries to win back",
    "uncovers",
    "races to stop",
    "is drawn into",
    "fights to save",
    "learns the truth about",
)
_GOALS = (
    "a missing sister",
    "the family farm",
    "a stolen painting",
    "an old friend",
    "a dangerous secret",
    "a forgotten city",
    "the last train home",
    "a rival's plan",
    "a lost letter",
    "an ancient map",
)
_TWISTS = (
    " before time runs out",
    " while hiding a secret of their own",
    " with the help of an unlikely ally",
    "",
    " in a town that wants them gone",
    " as old loyalties unravel",
)
# IMDb genre vocabulary and rough frequencies of the co-listed genres on the study screens.
_IMDB_GENRES = (
    ("Drama", 0.17), ("Comedy", 0.11), ("Action", 0.11), ("Thriller", 0.08), ("Adventure", 0.08),
    ("Horror", 0.07), ("Crime", 0.07), ("Romance", 0.06), ("Mystery", 0.05), ("Sci-Fi", 0.05),
    ("Fantasy", 0.05), ("Animation", 0.04), ("Biography", 0.02), ("Family", 0.02),
    ("History", 0.01), ("Music", 0.01), ("Sport", 0.005), ("War", 0.003), ("Documentary", 0.002),
    ("Musical", 0.002), ("Western", 0.001),
)  # fmt: skip
_LANGUAGES = (
    ("en", 0.82), ("fr", 0.04), ("es", 0.03), ("ko", 0.03), ("ja", 0.02), ("de", 0.02),
    ("it", 0.015), ("hi", 0.015), ("da", 0.01), ("sv", 0.01),
)  # fmt: skip
_BASE62 = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


def _probabilities(pairs: Sequence[tuple[str, float]]) -> tuple[list[str], np.ndarray]:
    names = [name for name, _ in pairs]
    weights = np.array([w for _, w in pairs])
    return names, weights / weights.sum()


def _titles(rng: np.random.Generator, genre_idx: np.ndarray) -> list[str]:
    """Unique, genre-flavoured synthetic titles ("The Silent Harbor", "Curse of the Tide")."""
    patterns, pattern_p = _probabilities(_TITLE_PATTERNS)
    n = len(genre_idx)
    seen: set[str] = set()
    titles: list[str] = []
    while len(titles) < n:
        # One batch of candidates; a duplicate title just takes the next candidate.
        m = 2 * n
        pattern = rng.choice(len(patterns), size=m, p=pattern_p)
        adjective = rng.integers(len(_ADJECTIVES), size=m)
        flavoured = rng.random(m) < 0.5
        noun = rng.integers(1 << 20, size=m)
        other = rng.integers(len(_NOUNS), size=m)
        sequel = np.where(rng.random(m) < 0.05, rng.integers(1, len(_SEQUELS), size=m), 0)
        for j in range(m):
            if len(titles) == n:
                break
            genre = GENRES[genre_idx[len(titles)]]
            nouns = _GENRE_NOUNS[genre] if flavoured[j] else _NOUNS
            title = (
                patterns[pattern[j]].format(
                    a=_ADJECTIVES[adjective[j]], n=nouns[noun[j] % len(nouns)], m=_NOUNS[other[j]]
                )
                + _SEQUELS[sequel[j]]
            )
            if title.startswith("A ") and title[2] in "AEIOU":
                title = "An" + title[1:]
            if title not in seen:
                seen.add(title)
                titles.append(title)
    return titles


def _genre_lists(rng: np.random.Generator, genre_idx: np.ndarray) -> list[str]:
    """IMDb-style "Action, Crime, Drama" lists (1-3 genres, sorted) that hold the carousel genre."""
    names, p = _probabilities(_IMDB_GENRES)
    sizes = rng.choice([1, 2, 3], size=len(genre_idx), p=[0.04, 0.2, 0.76])
    extras = rng.choice(len(names), size=(len(genre_idx), 8), p=p)
    out = []
    for g, size, pool in zip(genre_idx, sizes, extras, strict=True):
        chosen = {GENRES[g]}
        for k in pool:
            if len(chosen) == size:
                break
            chosen.add(names[k])
        out.append(", ".join(sorted(chosen)))
    return out


def _overviews(rng: np.random.Generator, n: int) -> list[str]:
    picks = zip(
        *(
            rng.integers(len(options), size=n)
            for options in (_ROLE_ADJECTIVES, _ROLES, _VERBS, _GOALS, _TWISTS)
        ),
        strict=True,
    )
    out = []
    for adj, role, verb, goal, twist in picks:
        article = "An" if _ROLE_ADJECTIVES[adj][0] in "aeiou" else "A"
        out.append(
            f"{article} {_ROLE_ADJECTIVES[adj]} {_ROLES[role]} {_VERBS[verb]} {_GOALS[goal]}"
            f"{_TWISTS[twist]}."
        )
    return out


def _strictly_decreasing(values: np.ndarray) -> np.ndarray:
    """Sort each carousel's values high to low and break ties, keeping them positive."""
    ordered = -np.sort(-values, axis=1)
    return np.maximum(ordered - np.arange(values.shape[1]), 1)


def _make_items(seed: int, orders: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``item_features.csv`` for all 40 tasks and the MovieID grid, shape (40, 10, 15).

    Carousels were filled by number of IMDb votes, so votes (and popularity) fall with the
    position inside each carousel.
    """
    rng = _rng(seed, "items")
    n_tasks = len(ALL_TASKS)
    n = n_tasks * N_ROWS * ITEMS_PER_ROW
    task = np.repeat(np.arange(1, n_tasks + 1), N_ROWS * ITEMS_PER_ROW)
    row = np.tile(np.repeat(np.arange(1, N_ROWS + 1), ITEMS_PER_ROW), n_tasks)
    pos = np.tile(np.arange(1, ITEMS_PER_ROW + 1), n_tasks * N_ROWS)
    genre_idx = orders[task - 1, row - 1]

    tmdb_id = rng.choice(1_300_000, size=n, replace=False) + 1000
    imdb_id = rng.choice(9_000_000, size=n, replace=False) + 100_000
    first = rng.integers(len(_FIRST_NAMES), size=(n, 3))
    last = rng.integers(len(_LAST_NAMES), size=(n, 3))
    cast = [
        "["
        + ", ".join(f"'{_FIRST_NAMES[a]} {_LAST_NAMES[b]}'" for a, b in zip(f, g, strict=True))
        + "]"
        for f, g in zip(first, last, strict=True)
    ]
    year = 2024 - np.floor(rng.beta(1.6, 2.2, size=n) * 25).astype(int)
    month = rng.integers(1, 13, size=n)
    day = rng.integers(1, 29, size=n)
    languages, lang_p = _probabilities(_LANGUAGES)

    shape = (n_tasks * N_ROWS, ITEMS_PER_ROW)
    decay = np.exp(-rng.uniform(0.06, 0.2, size=(shape[0], 1)) * np.arange(ITEMS_PER_ROW))
    top_votes = rng.lognormal(np.log(350_000), 0.7, size=(shape[0], 1))
    votes = _strictly_decreasing(
        np.round(top_votes * decay * rng.lognormal(0, 0.1, size=shape)).astype(np.int64) + 500
    )
    tmdb_votes = _strictly_decreasing(
        np.round(votes * rng.uniform(0.015, 0.05, size=shape)).astype(np.int64) + 20
    )
    popularity = -np.sort(
        -rng.lognormal(np.log(45), 0.5, size=(shape[0], 1)) * decay * rng.lognormal(0, 0.15, shape),
        axis=1,
    )
    rating = 5.2 + 2.8 * rng.beta(3, 3, size=n)
    imdb_rating = np.clip(np.round(rating + rng.normal(0, 0.25, size=n), 1), 1, 10)
    chars = _BASE62[rng.integers(len(_BASE62), size=(n, 27))]
    poster_files = np.char.add(np.ascontiguousarray(chars).view("<U27").ravel(), ".jpg")

    items = pd.DataFrame(
        {
            "TMDB_id": tmdb_id,
            "TMDB_title": _titles(rng, genre_idx),
            "TMDB_original_language": np.asarray(languages)[
                rng.choice(len(languages), size=n, p=lang_p)
            ],
            "TMDB_genres": _genre_lists(rng, genre_idx),
            "TMDB_release_date": [
                f"{m:02d}-{d:02d}-{y:04d}" for m, d, y in zip(month, day, year, strict=True)
            ],
            "TMDB_cast": cast,
            "TMDB_overview": _overviews(rng, n),
            "TMDB_popularity": np.char.mod("%.3f", popularity.ravel()),
            "TMDB_rating_avg": np.char.mod("%.3f", rating),
            "TMDB_rating_count": tmdb_votes.ravel(),
            "TMDB_poster_path": np.char.add(POSTER_URL_PREFIX, poster_files),
            "TMDB_extraction_date": EXTRACTION_DATE,
            "IMDB_id": np.char.mod("tt%07d", imdb_id),
            "IMDB_rating_avg": np.char.mod("%.1f", imdb_rating),
            "IMDB_numVotes": votes.ravel(),
            "IMDB_extraction__date": EXTRACTION_DATE,
            "TaskID": task,
            "Carousel_position": row,
            "Carousel_genre": np.asarray(GENRES)[genre_idx],
            "MovieID": tmdb_id,
            "Movie_position_in_carousel": pos,
        }
    )
    return items[ITEM_FEATURES_COLUMNS], tmdb_id.reshape(n_tasks, N_ROWS, ITEMS_PER_ROW)


# --- users ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Style:
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
class _User:
    uid: str
    top: int
    preferred: np.ndarray  # bool (10,)
    ratings: np.ndarray  # int 1-5 (10,)
    first_free: bool
    reminder: int  # screens after which a speed reminder came (0 = none)
    notch: int  # wheel notch in px (hardware of the site)
    style: _Style
    record: dict = field(repr=False)


def _survey_times(base: pd.Timestamp, rng: np.random.Generator) -> tuple[str, str]:
    start = base + pd.Timedelta(
        days=int(rng.integers(0, 45)), hours=int(rng.integers(9, 17)), minutes=int(rng.integers(60))
    )
    end = start + pd.Timedelta(minutes=int(rng.integers(55, 106)))
    return start.strftime("%m-%d-%Y %H:%M"), end.strftime("%m-%d-%Y %H:%M")


def _make_user(seed: int, uid: str) -> _User:
    """Profile (the ``user_features.csv`` row) and gaze style of one participant."""
    rng = _rng(seed, "user", uid)
    site, number = uid.rsplit("_", 1)
    kinit = site == "KInIT"
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
    first_free = int(number) % 2 == 1  # counterbalanced block order
    reminder = int(rng.choice([0, 10, 20], p=[0.6, 0.2, 0.2]))

    col_decay = 0.45 + 0.5 * rng.beta(3, 2)
    peak = int(rng.choice(4, p=[0.5, 0.25, 0.15, 0.1]))
    cols = np.arange(N_COLS)
    col_w = col_decay ** np.abs(cols - peak) * np.where(cols < peak, 0.85, 1.0)
    top_boost, pref_boost = 1.3 + 0.7 * rng.random(), 1.1 + 0.3 * rng.random()
    genre_w = np.exp(0.12 * (ratings - 3)) * np.where(preferred, pref_boost, 1.0)
    genre_w[top] *= top_boost / pref_boost
    style = _Style(
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

    pre, post = _survey_times(pd.Timestamp("2024-11-04" if kinit else "2025-01-13"), rng)
    netflix = rng.random() < 0.7
    usage = ("Daily", "A few times a week", "Once a week", "A few times a month")
    watching = (
        "Several times a week",
        "Once a week",
        "A few times a month",
        "Once a month or less",
    )
    record = {
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
    return _User(
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


# --- session simulation ---------------------------------------------------------------------------
def _full_scroll_range(row: int) -> tuple[int, int]:
    """Scroll offsets that show carousel ``row`` entirely, with the gaze-noise margin."""
    top = ROW_TOPS[row - 1]
    return top + POSTER_H - (SCREEN_H - _FULL_MARGIN), top - _FULL_MARGIN


def _arrow_rows(scroll: int) -> np.ndarray:
    """0-based rows whose arrow buttons are on screen (and can be clicked) at ``scroll``."""
    arrow_top = _ARROW_TOPS - scroll
    return np.flatnonzero((arrow_top >= _VIEW_TOP) & (arrow_top + ARROW_SIZE <= _VIEW_BOTTOM))


def _aoi_boxes(genre_widths: np.ndarray) -> dict[str, np.ndarray]:
    """Every AOI of one task in page-local x and stimulus y: 50 posters (row-major), then the
    10 headings, 10 backward and 10 forward arrows."""
    rows = np.arange(N_ROWS)
    poster_row, poster_col = np.repeat(rows, N_COLS), np.tile(np.arange(N_COLS), N_ROWS)
    return {
        "x0": np.concatenate(
            [_COLX[poster_col], np.full(N_ROWS, 76.0), np.full(N_ROWS, float(BACKWARD_X[0])),
             np.full(N_ROWS, float(FORWARD_X[0]))]
        ),
        "x1": np.concatenate(
            [_COLX[poster_col] + POSTER_W, 76.0 + genre_widths,
             np.full(N_ROWS, float(BACKWARD_X[1])), np.full(N_ROWS, float(FORWARD_X[1]))]
        ),
        "y0": np.concatenate([_TOPS[poster_row], _GENRE_TOPS, _ARROW_TOPS, _ARROW_TOPS]),
        "y1": np.concatenate(
            [_TOPS[poster_row] + POSTER_H, _GENRE_TOPS + GENRE_TEXT_H, _ARROW_TOPS + ARROW_SIZE,
             _ARROW_TOPS + ARROW_SIZE]
        ),
        "type": np.concatenate(
            [np.full(N_ROWS * N_COLS, _MOVIE), np.full(N_ROWS, _GENRE), np.full(N_ROWS, _BWD),
             np.full(N_ROWS, _FWD)]
        ),
        "row": np.concatenate([poster_row, rows, rows, rows]),
        "col": np.concatenate([poster_col, np.zeros(3 * N_ROWS, dtype=int)]),
    }  # fmt: skip


@dataclass
class _Visit:
    """A stretch of constant scroll and page state, and the action that ends it."""

    scroll: int
    weight: float  # share of the screen's fixations
    pages: np.ndarray  # page (0-2) of each carousel during the visit
    start: int = -1  # slot (row0 * 5 + column) of the first glance; -1 = free
    boost_row: int = 0  # carousel just swiped, which draws the eyes
    action: int = _END
    swipe_row: int = 0
    swipe_dir: int = 0


@dataclass(frozen=True)
class _SessionLog:
    fix: np.ndarray  # (n, len(_FIX_FIELDS))
    cursor: np.ndarray  # (m, 5): start ms, duration ms, type, row, position
    clicks: np.ndarray  # (k, 4): ms, type, row, position


@dataclass(frozen=True)
class _PlanArrays:
    """The visits of a plan as arrays, one entry per visit."""

    scroll: np.ndarray
    pages: np.ndarray  # (nv, 10)
    action: np.ndarray
    start: np.ndarray
    boost_row: np.ndarray
    swipe_row: np.ndarray
    swipe_dir: np.ndarray

    @classmethod
    def of(cls, visits: Sequence[_Visit]) -> _PlanArrays:
        return cls(
            scroll=np.array([v.scroll for v in visits], dtype=np.int64),
            pages=np.stack([v.pages for v in visits]),
            action=np.array([v.action for v in visits]),
            start=np.array([v.start for v in visits]),
            boost_row=np.array([v.boost_row for v in visits]),
            swipe_row=np.array([v.swipe_row for v in visits]),
            swipe_dir=np.array([v.swipe_dir for v in visits]),
        )


@dataclass(frozen=True)
class _Fixations:
    """The fixations of some visits: where they are, what the eye tracker logs, how long."""

    visit_of: np.ndarray  # visit of each fixation
    v_first: np.ndarray  # first fixation of each visit
    regular: np.ndarray  # fixations of the scanpath (not the action's own)
    g_first: np.ndarray  # first regular fixation (index into ``regular``) of each glance
    g_visit: np.ndarray  # visit of each glance
    g_slot: np.ndarray  # poster slot (row0 * 5 + column) of each glance
    x: np.ndarray
    y: np.ndarray
    strict: np.ndarray  # (n, 3) logged AOI: type, row, position
    closest: np.ndarray  # (n, 3) closest AOI within 60 px
    shift: np.ndarray  # page shift of x (page of the nearest carousel x screen width)
    dur: np.ndarray  # ms


_FIX_FIELDS = (
    "t", "dur", "s_type", "s_row", "s_pos", "c_type", "c_row", "c_pos", "x", "y", "scroll",
    "shift", "n_gaze", "g1", "gx1", "gy1", "gx2", "gy2",
)  # fmt: skip
_F = {name: i for i, name in enumerate(_FIX_FIELDS)}


class _Session:
    """One screen of one user: plan the visits, then lay all fixations and events out in time."""

    def __init__(
        self,
        seed: int,
        user: _User,
        task: int,
        genres: np.ndarray,
        outcome: str,
        target: tuple[int, int] | None,
        semi_row: int,
    ) -> None:
        self.rng = _rng(seed, "session", user.uid, task)
        self.user, self.style, self.task = user, user.style, task
        if task in DIRECT_TASKS:
            self.kind = "direct"
        else:
            self.kind = "semi" if task in SEMI_FREE_TASKS else "free"
        self.outcome, self.target = outcome, target
        self.genre_w = user.style.genre_w[genres]
        if semi_row:  # the requested genre's carousel draws the eyes
            self.genre_w[semi_row - 1] *= 2.5
        widths = np.array([GENRE_TEXT_WIDTHS[GENRES[g]] for g in genres], dtype=float)
        self.boxes = _aoi_boxes(widths)
        self.genre_widths = widths
        # Searching for a named title spreads attention over the rows.
        self.row_decay = self.style.row_decay ** (0.5 if self.kind == "direct" else 1.0)
        self.visits: list[_Visit] = []  # the plan, once run

    # planning ---------------------------------------------------------------------------------
    def _step(self) -> int:
        return self.user.notch * int(min(5, 1 + self.rng.poisson(self.style.burst)))

    def _scroll_stops(self) -> list[int]:
        """Wheel bursts down to the deepest row explored, then back up to the chosen row."""
        rng, st = self.rng, self.style
        target_row = self.target[0] if self.target else 1
        depth = target_row
        if self.outcome == "failed_search":
            depth = N_ROWS
        elif rng.random() < {"free": st.p_deep, "semi": 0.6 * st.p_deep, "direct": 0.35}[self.kind]:
            depth = max(depth, min(N_ROWS, 3 + int(rng.geometric(st.depth_p))))
        stops, scroll = [0], 0
        while scroll < _full_scroll_range(depth)[0]:
            scroll = min(scroll + self._step(), MAX_SCROLL)
            stops.append(scroll)
        back_row = target_row if self.target else (1 if rng.random() < 0.5 else depth)
        while scroll > _full_scroll_range(back_row)[1]:
            scroll = max(scroll - self._step(), 0)
            stops.append(scroll)
        return stops

    @staticmethod
    def _swipe(visits: list[_Visit], row: int, direction: int, pages: np.ndarray) -> None:
        """End the current visit with a swipe; attention restarts at the leftmost new poster."""
        visit = visits[-1]
        visit.action, visit.swipe_row, visit.swipe_dir = _SWIPE, row, direction
        pages[row - 1] = (pages[row - 1] + direction) % N_PAGES
        visits.append(
            _Visit(visit.scroll, 0.8, pages.copy(), start=(row - 1) * N_COLS, boost_row=row)
        )

    def _plan(self) -> list[_Visit]:
        rng, st = self.rng, self.style
        stops = self._scroll_stops()
        n_explore = int(
            rng.random() < {"free": 0.6, "semi": 0.4, "direct": 0.0}[self.kind] * st.p_swipe
        )
        if self.kind == "direct":
            n_explore = int(rng.binomial(2, st.p_swipe))
        if self.outcome == "failed_search":
            n_explore = 1 + int(rng.binomial(3, 0.5))
        explore_at = np.bincount(rng.integers(len(stops), size=n_explore), minlength=len(stops))

        pages = np.zeros(N_ROWS, dtype=np.int64)
        # Golden triangle: the first glance goes to the top-left posters.
        visits = [_Visit(0, 3.0, pages.copy(), start=int(rng.choice(2, p=[0.75, 0.25])))]
        for i, scroll in enumerate(stops):
            if i:
                visits[-1].action = _SCROLL
                visits.append(_Visit(scroll, 1.0, pages.copy()))
            for _ in range(explore_at[i]):
                rows = _arrow_rows(scroll)
                w = self.row_decay ** np.arange(len(rows)) * self.genre_w[rows]
                row = int(rows[rng.choice(len(rows), p=w / w.sum())]) + 1
                self._swipe(visits, row, 1, pages)
                if rng.random() < 0.3:
                    self._swipe(visits, row, -1, pages)
        if self.target is not None:
            row, pos = self.target
            page = (pos - 1) // N_COLS
            forward = (page - pages[row - 1]) % N_PAGES
            backward = (pages[row - 1] - page) % N_PAGES
            use_forward = forward <= backward or rng.random() < 0.5
            for _ in range(forward if use_forward else backward):
                self._swipe(visits, row, 1 if use_forward else -1, pages)
            visits[-1].action = _CLICK
            visits[-1].weight += 0.5
        return visits

    def _duration_s(self, n_stops: int, z: float | np.ndarray) -> float | np.ndarray:
        """Target screen duration: task type, user speed, practice and the speed reminder.

        ``z`` is the standard normal draw of the session's own variability (an array of them
        gives as many durations)."""
        medians = {"free": (15.0, 0.55), "semi": (12.0, 0.5), "direct": (18.0, 0.4)}
        median, sigma = (45.0, 0.3) if self.outcome == "failed_search" else medians[self.kind]
        user, task = self.user, self.task
        if user.first_free:
            order = task - 1
        else:
            order = task - 31 if task >= SEMI_FREE_TASKS[0] else task + 9
        factor = 1.15 * np.exp(-0.008 * order) * self.style.speed * (1 + 0.06 * (n_stops - 1))
        if user.reminder and order >= user.reminder:
            factor *= 0.85
        return np.clip(median * factor * np.exp(sigma * z), 4, 90)

    # laying out -------------------------------------------------------------------------------
    def _attention(self, plan: _PlanArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Glance weight of every poster slot in every visit (nv, 10, 5), the rank of each row
        among the rows on screen, and each row's visible extent (y0, y1) per visit.

        The user's row and column decay, genre taste, how much of the poster is on screen, and
        the swiped row or the poster being chosen."""
        st = self.style
        y0 = np.maximum(_TOPS, plan.scroll[:, None] + _VIEW_TOP)
        y1 = np.minimum(_TOPS + POSTER_H, plan.scroll[:, None] + _VIEW_BOTTOM)
        cand = y1 - y0 >= _MIN_GLANCE_PX
        rank = np.cumsum(cand, axis=1) - 1
        w_row = np.where(cand, self.row_decay**rank * self.genre_w * (y1 - y0) / POSTER_H, 0.0)
        boosted = np.flatnonzero(plan.boost_row)
        w_row[boosted, plan.boost_row[boosted] - 1] *= 3.0
        w = w_row[:, :, None] * st.col_w * st.slot_w[np.minimum(rank, 2)]
        if self.target is not None:
            # The poster that will be chosen catches the eye whenever it is shown (a searched
            # title only once found).
            target_row, target_pos = self.target
            target_page, target_col = divmod(target_pos - 1, N_COLS)
            seen = 1.0 if self.kind == "direct" else 2.0
            shown = plan.pages[:, target_row - 1] == target_page
            factor = np.where(plan.action == _CLICK, 3.5, seen) * shown
            w[:, target_row - 1, target_col] *= np.maximum(factor, 1.0)
        return w, rank, np.stack([y0, y1])

    def _fixations(
        self, rng: np.random.Generator, plan: _PlanArrays, n_reg: np.ndarray
    ) -> _Fixations:
        """Every fixation of the visits of ``plan`` (``n_reg`` regular ones per visit, then the
        action's own), with its point, logged AOIs and duration.

        Glances are slots drawn by attention, ordered roughly in reading order within each visit
        (rows top down, left to right); each glance holds a geometric number of fixations. The
        visits are independent given ``n_reg``, so the same code lays out a whole session or many
        repetitions of one visit (the planted truth)."""
        st, nv = self.style, len(plan.scroll)
        is_swipe, is_click = plan.action == _SWIPE, plan.action == _CLICK
        w, rank, (y0, y1) = self._attention(plan)
        cdf = np.cumsum(w.reshape(nv, -1), axis=1)
        cdf /= cdf[:, -1:]

        n_regular = int(n_reg.sum())
        reg_visit = np.repeat(np.arange(nv), n_reg)
        reg_first = np.cumsum(n_reg) - n_reg
        new_glance = rng.random(n_regular) < 1 / st.refix
        new_glance[reg_first] = True
        glance_of = np.cumsum(new_glance) - 1
        g_first = np.flatnonzero(new_glance)
        g_visit = reg_visit[g_first]
        u = 1.0 - rng.random(len(g_first))
        g_slot = (cdf[g_visit] < u[:, None]).sum(axis=1)
        key = rank[g_visit, g_slot // N_COLS] * N_COLS + g_slot % N_COLS
        key = key + rng.normal(0, st.order_noise, len(g_slot))
        g_slot = g_slot[np.lexsort((key, g_visit))]
        fixed = np.flatnonzero(plan.start >= 0)
        g_slot[np.searchsorted(g_visit, fixed)] = plan.start[fixed]

        # All fixations in time order: each visit's regular ones, then the action's own
        # fixations (the arrow before a swipe, the chosen poster before the selection click).
        n_extra = np.zeros(nv, dtype=np.int64)
        n_extra[is_swipe] = 1 + (rng.random(is_swipe.sum()) < 0.4)
        n_extra[is_click] = rng.integers(2, 5, is_click.sum())
        per_visit = n_reg + n_extra
        visit_of = np.repeat(np.arange(nv), per_visit)
        v_first = np.cumsum(per_visit) - per_visit
        extra = np.arange(len(visit_of)) - v_first[visit_of] >= n_reg[visit_of]
        regular = np.flatnonzero(~extra)
        row = np.empty(len(visit_of), dtype=np.int64)
        col = np.zeros(len(visit_of), dtype=np.int64)
        mode = np.empty(len(visit_of), dtype=np.int64)
        slot = g_slot[glance_of]
        row[regular], col[regular] = slot // N_COLS, slot % N_COLS
        off = rng.random(n_regular) < st.p_off
        off[reg_first] = False
        missed = rng.choice([_NEAR, _HEADING, _ANY, _ARROW], n_regular, p=[0.55, 0.15, 0.28, 0.02])
        mode[regular] = np.where(off, missed, _ON)
        ev = visit_of[extra]
        target_row, target_pos = self.target or (1, 1)
        row[extra] = np.where(is_swipe[ev], plan.swipe_row[ev], target_row) - 1
        col[extra] = np.where(is_swipe[ev], 0, (target_pos - 1) % N_COLS)
        mode[extra] = np.where(is_swipe[ev], _SWIPE_ARROW, _SELECT)

        x, y = self._points(
            row,
            col,
            mode,
            plan.scroll[visit_of],
            y0[visit_of, row],
            y1[visit_of, row],
            plan.swipe_dir[visit_of],
            rng,
        )
        strict, closest, shift = self._classify(x, y, visit_of, plan.scroll, plan.pages)
        # Log-normal durations; the look at the poster about to be chosen lasts longer.
        n = len(visit_of)
        dur = np.clip(np.round(np.exp(st.dur_mu + st.dur_sigma * rng.standard_normal(n))), 60, 2000)
        dur = np.where(mode == _SELECT, np.minimum(np.round(dur * 1.25), 2000), dur)
        return _Fixations(
            visit_of=visit_of,
            v_first=v_first,
            regular=regular,
            g_first=g_first,
            g_visit=g_visit,
            g_slot=g_slot,
            x=x,
            y=y,
            strict=strict,
            closest=closest,
            shift=shift,
            dur=dur,
        )

    def run(self, visits: list[_Visit] | None = None) -> _SessionLog:
        """Lay the session out in time; ``visits`` replays a given plan instead of drawing one
        (repeated sessions of one screen, as the truth tests need)."""
        rng = self.rng
        self.visits = self._plan() if visits is None else visits
        plan = _PlanArrays.of(self.visits)
        nv = len(plan.scroll)
        scroll, pages, action = plan.scroll, plan.pages, plan.action
        swipe_dir = plan.swipe_dir
        is_swipe, is_click = action == _SWIPE, action == _CLICK
        n_stops = len(set(scroll.tolist()))
        n_total = max(nv + 2, round(float(self._duration_s(n_stops, rng.standard_normal())) * 2.9))
        weights = np.array([v.weight for v in self.visits])
        n_reg = 1 + rng.multinomial(n_total - nv, weights / weights.sum())
        fx = self._fixations(rng, plan, n_reg)
        visit_of, v_first, dur = fx.visit_of, fx.v_first, fx.dur
        v_last = v_first + np.bincount(visit_of, minlength=nv) - 1
        target_row, target_pos = self.target or (1, 1)

        # Timing: short saccades, occasional blinks; scrolling pauses the eyes, and after a
        # swipe the carousel animates before the next fixation.
        n = len(visit_of)
        gap = 22 + np.round(8 * np.exp(0.5 * rng.standard_normal(n)))
        gap += (rng.random(n) < 0.06) * rng.integers(80, 400, n)
        interval = dur + gap
        press = np.maximum(1, np.round(rng.uniform(0.3, 0.85, nv) * dur[v_last]))
        notches = np.maximum(1, np.abs(np.diff(scroll, append=scroll[-1])) // self.user.notch)
        pause = 150 + 70 * notches + rng.integers(0, 250, nv)
        anim = rng.integers(350, 650, nv)
        interval[v_last] = np.select(
            [action == _SCROLL, is_swipe],
            [interval[v_last] + pause, np.maximum(interval[v_last], press + anim)],
            interval[v_last],
        )
        t0 = int(rng.integers(500, 3001))
        onset = (t0 + np.concatenate([[0], np.cumsum(interval)[:-1]])).astype(np.int64)
        click_t = onset[v_last] + press.astype(np.int64)

        acts = np.flatnonzero(is_swipe | is_click)
        click_type = np.where(is_swipe, np.where(swipe_dir > 0, _FWD, _BWD), _MOVIE)
        click_row = np.where(is_swipe, plan.swipe_row, target_row)
        click_pos = np.where(is_swipe, 0, target_pos)
        clicks = np.stack(
            [click_t[acts], click_type[acts], click_row[acts], click_pos[acts]], axis=1
        ).astype(np.int64)
        if self.outcome == "missing_click":
            clicks = clicks[~is_click[acts]]

        cursor = self._cursor(
            onset=onset,
            dur=dur,
            v_first=v_first,
            v_last=v_last,
            n_reg=n_reg,
            click_t=click_t,
            is_swipe=is_swipe,
            is_click=is_click,
            g_onset=onset[fx.regular[fx.g_first]],
            g_visit=fx.g_visit,
            g_slot=fx.g_slot,
            pages=pages,
            action_aoi=np.stack([click_type, click_row, click_pos], axis=1),
        )

        record = np.empty((n, len(_FIX_FIELDS)), dtype=np.int64)
        record[:, _F["t"]] = onset
        record[:, _F["dur"]] = dur
        record[:, _F["s_type"] : _F["s_pos"] + 1] = fx.strict
        record[:, _F["c_type"] : _F["c_pos"] + 1] = fx.closest
        record[:, _F["x"]] = fx.x + fx.shift
        record[:, _F["y"]] = fx.y
        record[:, _F["scroll"]] = scroll[visit_of]
        record[:, _F["shift"]] = fx.shift
        record[:, _F["n_gaze"]] = 1 + (rng.random(n) < 0.4)
        record[:, _F["g1"]] = rng.integers(4, 17, n)
        record[:, _F["gx1"] : _F["gy2"] + 1] = rng.integers(-_GAZE_NOISE, _GAZE_NOISE + 1, (n, 4))
        return _SessionLog(record, cursor, clicks)

    def _points(
        self,
        row: np.ndarray,
        col: np.ndarray,
        mode: np.ndarray,
        s: np.ndarray,
        vis0: np.ndarray,
        vis1: np.ndarray,
        swipe_dir: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fixation points (page-local x, stimulus y) for each placement mode, on screen."""
        n = len(row)
        left, top = _COLX[col], _TOPS[row]
        # on a poster: centre-biased, inside its visible part
        lo, hi = vis0 + 3, vis1 - 3
        on_x = left + np.clip(POSTER_W / 2 + rng.normal(0, 65, n), 6, POSTER_W - 6)
        on_y = np.clip((lo + hi) / 2 + rng.normal(0, 0.22, n) * (hi - lo), lo, hi)
        # just outside a poster edge: below, above, left, right
        margin = rng.uniform(3, 58, n)
        side = rng.choice(4, size=n, p=[0.45, 0.3, 0.1, 0.15])
        near_x = np.select(
            [side < 2, side == 2],
            [left + rng.uniform(10, POSTER_W - 10, n), left - margin],
            left + POSTER_W + margin,
        )
        near_y = np.select(
            [side == 0, side == 1],
            [top + POSTER_H + margin, top - margin],
            top + rng.uniform(10, POSTER_H - 10, n),
        )
        heading_x = 76 + rng.uniform(0.1, 0.9, n) * self.genre_widths[row]
        heading_y = _GENRE_TOPS[row] + rng.uniform(5, GENRE_TEXT_H - 5, n)
        any_x = rng.uniform(0, SCREEN_W, n)
        any_y = s + rng.uniform(_VIEW_TOP, _VIEW_BOTTOM, n)
        in_arrow = rng.uniform(3, ARROW_SIZE - 3, (2, n))
        arrow_x = np.where(rng.random(n) < 0.8, FORWARD_X[0], BACKWARD_X[0]) + in_arrow[0]
        swipe_x = np.where(swipe_dir > 0, FORWARD_X[0], BACKWARD_X[0]) + in_arrow[0]
        arrow_y = _ARROW_TOPS[row] + in_arrow[1]
        x = np.choose(mode, [on_x, near_x, heading_x, any_x, arrow_x, swipe_x, on_x])
        y = np.choose(mode, [on_y, near_y, heading_y, any_y, arrow_y, arrow_y, on_y])
        return (
            np.clip(np.round(x), 0, SCREEN_W - 1),
            np.clip(np.round(y), s + _VIEW_TOP, s + _VIEW_BOTTOM),
        )

    def _classify(
        self,
        x: np.ndarray,
        y: np.ndarray,
        visit_of: np.ndarray,
        scroll: np.ndarray,
        pages: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Strict and closest AOI (type, row, position) per point, and its stimulus x shift.

        Candidates are the current page's posters of rows on screen, and the headings and arrows
        on screen; the closest AOI within 60 px replaces a Background hit, as in the released data.
        """
        b = self.boxes
        s = scroll[:, None]
        vis = np.clip(_TOPS + POSTER_H - s, 0, SCREEN_H) - np.clip(_TOPS - s, 0, SCREEN_H)
        eligible = np.concatenate(
            [
                np.repeat(vis >= _MIN_CLOSEST_PX, N_COLS, axis=1),
                (s < _GENRE_TOPS + GENRE_TEXT_H) & (s + SCREEN_H > _GENRE_TOPS),
                np.tile((s < _ARROW_TOPS + ARROW_SIZE) & (s + SCREEN_H > _ARROW_TOPS), 2),
            ],
            axis=1,
        )[visit_of]
        dx = np.maximum(np.maximum(b["x0"] - x[:, None], x[:, None] - b["x1"]), 0)
        dy = np.maximum(np.maximum(b["y0"] - y[:, None], y[:, None] - b["y1"]), 0)
        dist = np.where(eligible, np.hypot(dx, dy), np.inf)
        inside = dist == 0
        hit = inside.any(axis=1)
        nearest = dist.argmin(axis=1)
        strict_box = np.where(hit, inside.argmax(axis=1), -1)
        near_ok = dist[np.arange(len(x)), nearest] <= _CLOSEST_PX
        closest_box = np.where(hit, strict_box, np.where(near_ok, nearest, -1))
        page_of_box = pages[visit_of[:, None], b["row"][None, :]]

        def triple(box: np.ndarray) -> np.ndarray:
            found = box >= 0
            aoi_type = np.where(found, b["type"][box], _BG)
            page = page_of_box[np.arange(len(box)), box]
            pos = np.where(aoi_type == _MOVIE, page * N_COLS + b["col"][box] + 1, 0)
            return np.stack([aoi_type, np.where(found, b["row"][box] + 1, 0), pos], axis=1)

        shift = page_of_box[np.arange(len(x)), nearest] * SCREEN_W
        return triple(strict_box), triple(closest_box), shift

    def _cursor(
        self,
        onset: np.ndarray,
        dur: np.ndarray,
        v_first: np.ndarray,
        v_last: np.ndarray,
        n_reg: np.ndarray,
        click_t: np.ndarray,
        is_swipe: np.ndarray,
        is_click: np.ndarray,
        g_onset: np.ndarray,
        g_visit: np.ndarray,
        g_slot: np.ndarray,
        pages: np.ndarray,
        action_aoi: np.ndarray,
    ) -> np.ndarray:
        """Cursor dwells: trailing some glances by the user's lag, sometimes parked on the
        background, then on the arrow before a swipe and on the chosen poster before the click.
        Consecutive samples in one AOI form one event, as in the released log."""
        rng, st = self.rng, self.style
        nv = len(v_first)
        visit_start = onset[v_first]
        limit = onset[v_last] + dur[v_last]
        on_arrow = np.maximum(click_t - rng.integers(250, 700, nv), visit_start)
        lag = np.round(st.lag * rng.uniform(0.5, 1.0, nv)).astype(np.int64)
        on_choice = np.minimum(onset[np.minimum(v_first + n_reg, v_last)] + lag, click_t - 80)
        limit = np.select([is_swipe, is_click], [on_arrow, on_choice], limit)

        # follow enough glances for 5-60 cursor events per screen
        n_glances = len(g_slot)
        follow = np.clip(st.follow, 9 / n_glances, max(9 / n_glances, 36 / n_glances))
        # the lag shrinks in short visits, where the hand has less time to follow
        lag = np.minimum(
            st.lag * rng.lognormal(0, 0.25, n_glances), 0.6 * (limit[g_visit] - g_onset)
        )
        start = g_onset + np.round(lag).astype(np.int64)
        keep = (rng.random(n_glances) < follow) & (start < limit[g_visit] - 50)
        order = np.argsort(start[keep], kind="stable")
        t, visit, slot = start[keep][order], g_visit[keep][order], g_slot[keep][order]
        repeat = np.zeros(len(t), dtype=bool)
        repeat[1:] = (visit[1:] == visit[:-1]) & (slot[1:] == slot[:-1])
        t, visit, slot = t[~repeat], visit[~repeat], slot[~repeat]
        row = slot // N_COLS
        aoi = np.stack(
            [np.full(len(t), _MOVIE), row + 1, pages[visit, row] * N_COLS + slot % N_COLS + 1],
            axis=1,
        )

        def stops(times: np.ndarray, visits: np.ndarray) -> np.ndarray:
            same = np.append(visits[1:] == visits[:-1], False)
            return np.where(same, np.append(times[1:], 0), limit[visits])

        split = rng.random(len(t)) < 0.35
        mid = t + np.round((stops(t, visit) - t) * rng.uniform(0.4, 0.8, len(t))).astype(np.int64)
        t = np.concatenate([t, mid[split]])
        visit = np.concatenate([visit, visit[split]])
        aoi = np.concatenate([aoi, np.tile([_BG, 0, 0], (int(split.sum()), 1))])
        order = np.lexsort((t, visit))
        t, visit, aoi = t[order], visit[order], aoi[order]
        event_dur = stops(t, visit) - t

        acts = np.flatnonzero(is_swipe | is_click)
        act_t = limit[acts]
        act_dur = (
            click_t[acts] - act_t + np.where(is_swipe[acts], rng.integers(80, 250, len(acts)), 0)
        )
        events = np.column_stack(
            [np.concatenate([t, act_t]), np.concatenate([event_dur, act_dur]),
             np.concatenate([aoi, action_aoi[acts]])]
        )  # fmt: skip
        events = events[events[:, 1] >= 50]
        events[:, 1] = np.minimum(events[:, 1], 10_000)
        return events.astype(np.int64)


def _choose_target(
    rng: np.random.Generator, user: _User, task: int, genres: np.ndarray, semi_row: int
) -> tuple[int, int]:
    """The poster the user will select: their own top-left bias, genre taste and swipe habit."""
    if task in DIRECT_TARGETS:
        return DIRECT_TARGETS[task]
    st = user.style
    page = 0
    if rng.random() < 0.6 * st.p_swipe:
        page = 1 if rng.random() < 2 / 3 else 2
    col_p = st.col_w**1.5
    col = int(rng.choice(N_COLS, p=col_p / col_p.sum()))
    if semi_row:
        row = semi_row
    else:
        row_p = np.clip(st.row_decay, 0.55, 0.85) ** np.arange(N_ROWS) * st.genre_w[genres] ** 1.5
        row = int(rng.choice(N_ROWS, p=row_p / row_p.sum())) + 1
    return row, page * N_COLS + col + 1


# --- output tables --------------------------------------------------------------------------------
def _ms_text(ms: np.ndarray) -> np.ndarray:
    """Integer milliseconds as "%.3f" seconds text (exact, so files can be joined on it)."""
    sec, milli = np.divmod(np.asarray(ms, dtype=np.int64), 1000)
    return np.array(
        [f"{a}.{b:03d}" for a, b in zip(sec.tolist(), milli.tolist(), strict=True)], dtype=object
    )


def _ints(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Whole numbers as text, with empty cells where ``present`` is false."""
    return np.where(present, np.asarray(values, dtype=np.int64).astype(str), "")


def _text_frame(columns: dict[str, np.ndarray], order: list[str]) -> pd.DataFrame:
    """A frame of plain text cells in ``order`` (object columns write fastest)."""
    return pd.DataFrame({name: pd.Series(columns[name], dtype=object) for name in order})


def _aoi_group(
    prefix: str,
    aoi: np.ndarray,
    task: np.ndarray,
    user: np.ndarray,
    ctx: dict[str, np.ndarray],
    present: np.ndarray,
) -> dict[str, np.ndarray]:
    """The eight ``<prefix>*`` columns from (type, row, position) codes, denormalising the item
    and user tables the way the released log does."""
    a_type, a_row, a_pos = aoi[:, 0], aoi[:, 1], aoi[:, 2]
    movie = present & (a_type == _MOVIE)
    carousel = present & (a_type < _BG)
    row0 = np.maximum(a_row - 1, 0)
    genre = ctx["orders"][task - 1, row0]
    movie_id = ctx["movie_ids"][task - 1, row0, np.maximum(a_pos - 1, 0)]
    is_top = ctx["top"][user] == genre
    is_pref = ctx["preferred"][user, genre]
    names = np.array([*AOI_TYPES, ""], dtype=object)
    cols = aoi_columns(prefix)
    return {
        cols[0]: names[np.where(present, a_type, len(AOI_TYPES))],
        cols[1]: _ints(movie_id, movie),
        cols[2]: _ints(a_pos, movie),
        cols[3]: _ints(a_row, carousel),
        cols[4]: np.where(carousel, np.array(GENRES, dtype=object)[genre], ""),
        cols[5]: np.where(carousel, np.where(is_top, "Top_Genre", "Not_Top_Genre"), ""),
        cols[6]: np.where(
            carousel, np.where(is_pref, "Preferred_Genre", "Not_Preferred_Genre"), ""
        ),
        cols[7]: _ints(ctx["ratings"][user, genre], carousel),
    }


def _session_keys(plan: list[PlannedSession], sess: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "UserID": np.array([p.user_id for p in plan], dtype=object)[sess],
        "SubjectID": np.array([p.subject_id for p in plan])[sess],
        "TaskID": np.array([p.task_id for p in plan])[sess],
        "StimulusID": np.array(
            [f"{p.user_id}_task{p.task_id:02d}.mp4" for p in plan], dtype=object
        )[sess],
    }


def _summary_frame(
    plan: list[PlannedSession],
    logs: list[_SessionLog],
    ctx: dict[str, np.ndarray],
    user_ids: list[str],
) -> pd.DataFrame:
    """All events in ``SUMMARY_COLUMNS`` order: sessions contiguous, rows chronological."""
    fix = np.concatenate([log.fix for log in logs])
    cur = np.concatenate([log.cursor for log in logs])
    clk = np.concatenate([log.clicks for log in logs])
    sess = np.concatenate(
        [
            np.repeat(np.arange(len(logs)), [len(log.fix) for log in logs]),
            np.repeat(np.arange(len(logs)), [len(log.clicks) for log in logs]),
            np.repeat(np.arange(len(logs)), [len(log.cursor) for log in logs]),
        ]
    )
    kind = np.repeat([0, 1, 2], [len(fix), len(clk), len(cur)])
    t = np.concatenate([fix[:, _F["t"]], clk[:, 0], cur[:, 0]])
    dur = np.concatenate([fix[:, _F["dur"]], np.zeros(len(clk), np.int64), cur[:, 1]])
    aoi = np.concatenate([fix[:, _F["s_type"] : _F["s_pos"] + 1], clk[:, 1:], cur[:, 2:]])
    closest = np.concatenate(
        [fix[:, _F["c_type"] : _F["c_pos"] + 1], np.zeros((len(clk) + len(cur), 3), np.int64)]
    )
    order = np.lexsort((kind, t, sess))
    sess, kind, t, dur, aoi, closest = (a[order] for a in (sess, kind, t, dur, aoi, closest))

    user_index = {uid: i for i, uid in enumerate(user_ids)}
    user = np.array([user_index[p.user_id] for p in plan])[sess]
    columns: dict[str, np.ndarray] = {**_session_keys(plan, sess), "Timestamp": _ms_text(t)}
    task = columns["TaskID"]
    is_fix, is_click, is_cur = kind == 0, kind == 1, kind == 2
    columns["Fixation_Duration"] = _ints(dur, is_fix)
    columns.update(_aoi_group("Fixation_AOI_", aoi, task, user, ctx, is_fix))
    columns.update(_aoi_group("Fixation_AOI_Closest_", closest, task, user, ctx, is_fix))
    columns.update(_aoi_group("Click_AOI_", aoi, task, user, ctx, is_click))
    columns["Cursor_Duration"] = np.where(is_cur, _ms_text(dur), "")
    columns.update(_aoi_group("Cursor_AOI_", aoi, task, user, ctx, is_cur))
    return _text_frame(columns, SUMMARY_COLUMNS)


def _non_public_frame(plan: list[PlannedSession], logs: list[_SessionLog]) -> pd.DataFrame:
    """Each fixation (stimulus coordinates) followed by one or two raw gaze samples (screen
    coordinates), so that Fixation_LocY - Gaze_LocY recovers the scroll offset."""
    fix = np.concatenate([log.fix for log in logs])
    sess = np.repeat(np.arange(len(logs)), [len(log.fix) for log in logs])
    n_rows = 1 + fix[:, _F["n_gaze"]]
    src = np.repeat(np.arange(len(fix)), n_rows)
    sub = np.arange(len(src)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    f = fix[src]
    is_fix, second = sub == 0, sub == 2
    t = f[:, _F["t"]] + np.where(is_fix, 0, f[:, _F["g1"]] + np.where(second, 17, 0))
    gx = f[:, _F["x"]] - f[:, _F["shift"]] + np.where(second, f[:, _F["gx2"]], f[:, _F["gx1"]])
    gy = f[:, _F["y"]] - f[:, _F["scroll"]] + np.where(second, f[:, _F["gy2"]], f[:, _F["gy1"]])
    columns = {
        **_session_keys(plan, sess[src]),
        "Timestamp": _ms_text(t),
        "Fixation_Duration": _ints(f[:, _F["dur"]], is_fix),
        "Fixation_LocX": _ints(f[:, _F["x"]], is_fix),
        "Fixation_LocY": _ints(f[:, _F["y"]], is_fix),
        "Gaze_LocX": _ints(gx, ~is_fix),
        "Gaze_LocY": _ints(gy, ~is_fix),
    }
    return _text_frame(columns, NON_PUBLIC_COLUMNS)


# --- posters --------------------------------------------------------------------------------------
_GENRE_COLORS = {
    "Action": ((90, 10, 10), (240, 120, 30)),
    "Animation": ((20, 90, 160), (250, 210, 60)),
    "Comedy": ((200, 110, 0), (255, 235, 110)),
    "Crime": ((10, 15, 35), (80, 100, 140)),
    "Drama": ((40, 10, 60), (160, 100, 170)),
    "Fantasy": ((10, 60, 60), (130, 210, 170)),
    "Horror": ((5, 5, 5), (130, 0, 0)),
    "Romance": ((120, 20, 60), (250, 165, 195)),
    "Sci-Fi": ((0, 20, 60), (0, 200, 230)),
    "Thriller": ((10, 30, 20), (100, 150, 90)),
}


def _wrap(title: str, width: int = 20) -> str:
    lines, line = [], ""
    for word in title.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:2])


def render_posters(items: pd.DataFrame, poster_dir: str | Path, seed: int) -> int:
    """Write one small JPEG per movie, named as the basename of its ``TMDB_poster_path``.

    Real posters are copyrighted TMDB images, so stand-ins must still look different per genre
    (a tinted gradient) and per title (a shape and the title text) for an image model to tell
    posters apart. Gradients are cached per (genre, direction, tint) to keep this fast. Returns
    the number of files written.
    """
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    title_font = ImageFont.truetype(str(font_path), 24)
    tag_font = ImageFont.truetype(str(font_path), 13)
    poster_dir = Path(poster_dir)
    poster_dir.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed, "posters")
    n = len(items)
    yy, xx = np.mgrid[0:POSTER_H, 0:POSTER_W].astype(np.float32)
    ramps = [
        xx / POSTER_W,
        yy / POSTER_H,
        (xx / POSTER_W + yy / POSTER_H) / 2,
        np.minimum(np.hypot(xx - POSTER_W / 2, yy - POSTER_H / 2) / 200, 1),
    ]
    tints = rng.integers(-30, 31, size=(4, 2, 3))
    bases: dict[tuple[str, int, int], Image.Image] = {}

    def base(genre: str, ramp: int, tint: int) -> Image.Image:
        if (genre, ramp, tint) not in bases:
            dark, light = np.clip(np.array(_GENRE_COLORS[genre]) + tints[tint], 0, 255)
            pixels = dark + (light - dark) * ramps[ramp][..., None]
            bases[genre, ramp, tint] = Image.fromarray(pixels.astype(np.uint8))
        return bases[genre, ramp, tint]

    ramp_idx = rng.integers(len(ramps), size=n)
    tint_idx = rng.integers(len(tints), size=n)
    shape_kind = rng.integers(3, size=n)
    centre = rng.uniform([40, 20], [POSTER_W - 40, POSTER_H - 60], size=(n, 2))
    radius = rng.uniform(18, 70, size=n)
    shape_rgb = rng.integers(0, 256, size=(n, 3))
    names = items["TMDB_poster_path"].str.rsplit("/", n=1).str[-1].tolist()
    genres = items["Carousel_genre"].tolist()
    for i, title in enumerate(items["TMDB_title"].tolist()):
        image = base(genres[i], ramp_idx[i], tint_idx[i]).copy()
        draw = ImageDraw.Draw(image)
        (cx, cy), rad = centre[i], radius[i]
        fill = tuple(shape_rgb[i].tolist())
        if shape_kind[i] == 0:
            draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=fill)
        elif shape_kind[i] == 1:
            draw.rectangle((cx - rad, cy - rad * 0.6, cx + rad, cy + rad * 0.6), fill=fill)
        else:
            draw.polygon([(cx, cy - rad), (cx + rad, cy + rad), (cx - rad, cy + rad)], fill=fill)
        draw.text((12, 10), genres[i].upper(), font=tag_font, fill=(235, 235, 235))
        text = _wrap(title)
        y = POSTER_H - 14 - 28 * (text.count("\n") + 1)
        draw.rectangle((0, y - 8, POSTER_W, POSTER_H), fill=(12, 12, 12))
        draw.multiline_text((12, y), text, font=title_font, fill=(255, 255, 255), spacing=4)
        image.save(poster_dir / names[i], format="JPEG", quality=80)
    return n


# --- entry point ----------------------------------------------------------------------------------
def _simulate(
    n_users: int, seed: int, tasks: Sequence[int]
) -> tuple[list[PlannedSession], list[_Session], list[_SessionLog], list[_User], np.ndarray]:
    """Plan and simulate every session; also return the sessions (with their visit plans), the
    users and the genre orders."""
    tasks = _check_tasks(tasks)
    orders = genre_orders(seed)
    users = {uid: _make_user(seed, uid) for uid in recgaze_user_ids(n_users)}
    semi_rows = semi_free_rows(seed)
    plan = plan_sessions(n_users, seed, tasks)
    sessions, logs = [], []
    for planned in plan:
        user, task = users[planned.user_id], planned.task_id
        genres, semi_row = orders[task - 1], semi_rows.get(task, 0)
        target = None
        if planned.outcome != "failed_search":
            target = _choose_target(
                _rng(seed, "target", user.uid, task), user, task, genres, semi_row
            )
        sessions.append(_Session(seed, user, task, genres, planned.outcome, target, semi_row))
        logs.append(sessions[-1].run())
    return plan, sessions, logs, list(users.values()), orders


def generate_recgaze(
    out_dir: str | Path,
    n_users: int = 12,
    seed: int = 7,
    posters: bool = True,
    tasks: Sequence[int] = ALL_TASKS,
    truth: bool = True,
) -> dict:
    """Write a synthetic RecGaze raw folder and return a summary of what was written.

    Files: ``summary_feedback.csv``, ``non_public_feedback_dataset.csv``, ``aoi_data.csv``,
    ``item_features.csv`` (all 40 tasks, whatever ``tasks`` is), ``user_features.csv``, with
    ``posters`` the ``posters/<basename of TMDB_poster_path>`` images and, with ``truth``, the
    users' planted gaze in ``truth/`` (beside the released formats, which it never changes).
    Equal arguments give byte-identical files.
    """
    # the truth module builds on this one's session simulator, hence imported here
    from fixate.data.synthetic.recgaze_truth import write_truth

    out = Path(out_dir)
    plan, sessions, logs, users, orders = _simulate(n_users, seed, tasks)
    items, movie_ids = _make_items(seed, orders)
    ctx = {
        "orders": orders,
        "movie_ids": movie_ids,
        "top": np.array([u.top for u in users]),
        "preferred": np.array([u.preferred for u in users]),
        "ratings": np.array([u.ratings for u in users]),
    }
    summary = _summary_frame(plan, logs, ctx, [u.uid for u in users])
    non_public = _non_public_frame(plan, logs)
    user_table = pd.DataFrame([u.record for u in users])[USER_FEATURES_COLUMNS]
    write_csv(summary, out / "summary_feedback.csv")
    write_csv(non_public, out / "non_public_feedback_dataset.csv")
    write_csv(aoi_table(), out / "aoi_data.csv")
    write_csv(items, out / "item_features.csv")
    write_csv(user_table, out / "user_features.csv")
    n_posters = render_posters(items, out / "posters", seed) if posters else 0
    n_truth = write_truth(sessions, out, seed) if truth else 0

    selections = sum(bool(len(log.clicks)) and log.clicks[-1, 1] == _MOVIE for log in logs)
    return {
        "n_users": len(users),
        "n_tasks": len(_check_tasks(tasks)),
        "n_sessions": len(plan),
        "n_sessions_without_click": int(len(plan) - selections),
        "n_summary_rows": len(summary),
        "n_fixations": sum(len(log.fix) for log in logs),
        "n_clicks": sum(len(log.clicks) for log in logs),
        "n_cursor_rows": sum(len(log.cursor) for log in logs),
        "n_non_public_rows": len(non_public),
        "n_items": len(items),
        "n_posters": n_posters,
        "n_truth_rows": n_truth,
        "seed": seed,
    }
