"""Work on the items of a sequence done ahead, in background threads, while the caller uses the
results in order.

Why: the training loop and the evaluation both turn rows into model inputs on the CPU (reading
screens, the image processor, tokenising, hashing pixels) and then run the model on the device.
Done in turn, the device waits for every block's CPU work; at the 4B scale the evaluation left the
GPU idle half of the time that way (`benchmarks/README.md`, "Full-scale rehearsal"). PIL, numpy and
the tokenisers release the GIL, so threads overlap that work with the device's, and with each other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def prefetched(
    work: Callable[[Item], Result], items: Iterable[Item], ahead: int
) -> Iterator[Result]:
    """``work(item)`` for every item, in order, with up to ``ahead`` items worked on in background
    threads while the caller uses the current result (``ahead`` 0: in the calling thread).

    ``items`` may be lazy and is read only ``ahead`` items ahead of the caller. Closing the iterator
    early (an early stop, an error) shuts the threads down; results worked ahead are dropped. An
    exception raised by ``work`` reaches the caller when it asks for that item's result.
    """
    if ahead < 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(max_workers=ahead) as pool:
        futures = (pool.submit(work, item) for item in items)
        pending = deque(islice(futures, ahead))
        while pending:
            pending.extend(islice(futures, 1))  # queued before the caller gets this result
            yield pending.popleft().result()
