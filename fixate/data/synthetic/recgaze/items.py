"""``item_features.csv`` of synthetic RecGaze: the movies of every carousel of all 40 tasks.

Real items are TMDB/IMDb records, so stand-ins need believable, unique, genre-flavoured titles,
genre lists that hold the carousel genre, and votes and popularity that fall with the position in
the carousel (carousels were filled by number of IMDb votes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fixate.data.recgaze.layout import GENRES, ITEMS_PER_ROW, N_ROWS
from fixate.data.recgaze.raw import ITEM_FEATURES_COLUMNS
from fixate.data.synthetic.recgaze.design import ALL_TASKS
from fixate.data.synthetic.seeding import keyed_rng

POSTER_URL_PREFIX = "https://image.tmdb.org/t/p/w500/"
EXTRACTION_DATE = "10-03-2024"


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


def make_items(seed: int, orders: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``item_features.csv`` for all 40 tasks and the MovieID grid, shape (40, 10, 15).

    Carousels were filled by number of IMDb votes, so votes (and popularity) fall with the
    position inside each carousel.
    """
    rng = keyed_rng(seed, "items")
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
