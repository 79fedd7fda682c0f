"""The study design of synthetic AdSERP: participants, their query batches, trial slots and
reading styles.

47 participants ``p004``-``p050`` with the study's value sets (``pref_website`` and
``online_shopping_freq`` swapped as in the real file); blocks 1-6 x trials 1-10 per participant, a
few missing; each block runs one batch of 10 queries (``buy-<brand>-<product>``) drawn from a
shared pool, so several participants search the same query. Every participant has a stable style
(how fast attention decays down the page, how much ads draw gaze and clicks, how often they scroll
past, their fixation length), drawn once from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from fixate.data.adserp.raw import PARTICIPANT_COLUMNS
from fixate.data.synthetic.seeding import keyed_rng

N_PARTICIPANTS = 47
FIRST_PARTICIPANT = 4
N_BLOCKS = 6
TRIALS_PER_BLOCK = 10
MISSING_RATE = 0.016  # 2,776 of 47 x 60 trials were logged
STUDY_START = datetime(2022, 12, 12, 9, 0, tzinfo=timezone.utc)

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


def adserp_user_ids(n_users: int) -> list[str]:
    """The first ``n_users`` participant ids of the study, ``p004`` onwards."""
    if not 1 <= n_users <= N_PARTICIPANTS:
        raise ValueError(f"n_users must be 1-{N_PARTICIPANTS}, not {n_users}")
    return [f"p{FIRST_PARTICIPANT + i:03d}" for i in range(n_users)]


def query_slug(seed: int, batch: int, trial: int) -> str:
    """The query of one (batch, trial) slot; every participant running the batch searches it."""
    rng = keyed_rng(seed, "query", batch, trial)
    brand = str(rng.choice(_BRANDS))
    model = f"{rng.choice(list('abcdefgh'))}{rng.integers(100, 99999)}"
    parts = [brand, brand, model] if rng.random() < 0.6 else [brand, brand]
    return "-".join(["buy", *parts, str(rng.choice(_PRODUCTS))])


@dataclass(frozen=True)
class Style:
    """A participant's stable way of reading a results page."""

    decay: float  # gaze weight falls by exp(-decay) per 100 px down the viewport
    ad_gaze: float  # weight of ads relative to organic results
    ad_click: float  # odds of choosing an ad rather than an organic result
    rank_decay: float  # click odds fall by exp(-rank_decay) per organic rank
    overshoot: float  # probability of scrolling past the target and back
    fix_median: float  # ms
    pace: float  # multiplier of reading times


def user_style(seed: int, user: str) -> Style:
    rng = keyed_rng(seed, "style", user)
    return Style(
        decay=float(rng.uniform(0.08, 0.3)),
        ad_gaze=float(rng.uniform(0.5, 1.6)),
        ad_click=float(rng.uniform(0.1, 0.6)),
        rank_decay=float(rng.uniform(0.35, 0.8)),
        overshoot=float(rng.uniform(0.05, 0.35)),
        fix_median=float(rng.uniform(185, 235)),
        pace=float(rng.uniform(0.7, 1.4)),
    )


def participants_table(seed: int, users: list[str]) -> pd.DataFrame:
    rows = []
    for user in users:
        rng = keyed_rng(seed, "participant", user)
        row = {"participant_id": user, "age": int(rng.integers(19, 45))}
        for column, pairs in _PARTICIPANT_VALUES.items():
            values, counts = zip(*pairs, strict=True)
            row[column] = str(rng.choice(values, p=np.array(counts) / sum(counts)))
        rows.append(row)
    return pd.DataFrame(rows, columns=PARTICIPANT_COLUMNS)


def trial_slots(seed: int, user: str, trials_per_user: int) -> list[tuple[int, int]]:
    """(block, trial) of a participant's logged trials: the first ``trials_per_user`` of blocks
    1-6 x trials 1-10 in order, a few missing."""
    rng = keyed_rng(seed, "slots", user)
    slots = [(b, t) for b in range(1, N_BLOCKS + 1) for t in range(1, TRIALS_PER_BLOCK + 1)]
    kept = [s for s in slots if rng.random() >= MISSING_RATE]
    return kept[:trials_per_user]
