"""Sample rows to screen encodings for one run, reading and processing each screen once while the
feature cache holds its visual features.

Why: reading and decoding a screen's image, hashing its pixels (`screen_key`) and running the
image processor cost tens of milliseconds per screen on a CPU, as much as a tiny model's training
step, and the same screens come back every epoch and in every evaluation pass (validation, the
backbone, FixATE, the identity test's shifted prompts). A screen whose features the cache holds
needs only its token layout (`ScreenEncoding.without_pixels`), and within a run the sample files
do not change (the workflow wrote them before training), so a file's `screen_key` is computed
once and its layouts are kept per prompt: profile, slot names, answer and soft-prompt length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fixate.data.samples import image_file
from fixate.models.base import Backbone
from fixate.models.cache import FeatureCache, screen_key
from fixate.models.records import Screen, ScreenEncoding


class SampleEncoder:
    """Encodes sample rows (`fixate.data.samples`) for ``backbone`` with ``instruction``.

    Without ``feature_cache`` every row is read and encoded (nothing would serve its features);
    with it, a row whose screen's features are cached and whose layout was made before is served
    from that layout without opening its image. Safe to call from several threads: a race costs
    at most one encoding twice.
    """

    def __init__(
        self, backbone: Backbone, instruction: str, feature_cache: FeatureCache | None = None
    ):
        self.backbone = backbone
        self.instruction = instruction
        self.feature_cache = feature_cache
        self._keys: dict[Path, str] = {}
        self._layouts: dict[tuple, ScreenEncoding] = {}

    def encode_rows(
        self, rows: Sequence[Mapping], n_soft: int, teacher_forced: bool
    ) -> tuple[list[str | None], list[ScreenEncoding]]:
        """`encode` of each row: their keys and their encodings."""
        pairs = [self.encode(row, n_soft, teacher_forced) for row in rows]
        return [key for key, _ in pairs], [encoding for _, encoding in pairs]

    def encode(
        self, row: Mapping, n_soft: int, teacher_forced: bool
    ) -> tuple[str | None, ScreenEncoding]:
        """The row's `screen_key` (None without a feature cache) and its encoding, with the
        clicked slot's name as the answer when ``teacher_forced``."""
        path = image_file(row)
        key = self._keys.get(path)
        layout = (
            key,
            str(row["profile"]),
            tuple(str(name) for name in row["slot_names"]),
            int(row["label"]) if teacher_forced else None,
            np.asarray([list(box) for box in row["slot_boxes"]], dtype=np.float32).tobytes(),
            n_soft,
        )
        known = self._layouts.get(layout)
        if known is not None and key in self.feature_cache:
            return key, known
        screen = Screen.from_sample(row, teacher_forced=teacher_forced)
        encoding = self.backbone.encode_screen(screen, n_soft, self.instruction)
        if self.feature_cache is None:
            return None, encoding
        if key is None:
            key = self._keys.setdefault(path, screen_key(screen))
            layout = (key, *layout[1:])
        self._layouts[layout] = encoding.without_pixels()
        return key, encoding
