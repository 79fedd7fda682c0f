"""Random generators keyed by name, shared by the synthetic datasets.

Why keyed generators: each part of a synthetic dataset (a user's profile, one session, one trial)
draws from its own generator named by the seed and that part, so a user or a trial does not
change when more users, fewer tasks or other trials are generated, and equal arguments give
byte-identical files. It is also what lets users or sessions be simulated in several processes
(:func:`map_in_processes`) without changing a byte.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def _key(part: int | str) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def keyed_rng(seed: int, *parts: int | str) -> np.random.Generator:
    """A generator keyed by the seed and named parts, independent of every other key."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(_key, parts)]))


def map_in_processes(function: Callable, items: Sequence, workers: int = 1) -> list:
    """``[function(item) for item in items]``, in up to ``workers`` processes when more than one.

    Only for parts that draw from their own keyed generators: then the results, and the files
    written from them, do not depend on ``workers``. ``function`` must be picklable (a
    module-level function or a ``functools.partial`` of one)."""
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    if workers == 1 or len(items) < 2:
        return [function(item) for item in items]
    with ProcessPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(function, items, chunksize=max(1, len(items) // (4 * workers))))
