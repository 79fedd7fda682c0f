"""Random generators keyed by name, shared by the synthetic datasets.

Why keyed generators: each part of a synthetic dataset (a user's profile, one session, one trial)
draws from its own generator named by the seed and that part, so a user or a trial does not
change when more users, fewer tasks or other trials are generated, and equal arguments give
byte-identical files.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(part: int | str) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def keyed_rng(seed: int, *parts: int | str) -> np.random.Generator:
    """A generator keyed by the seed and named parts, independent of every other key."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(_key, parts)]))
