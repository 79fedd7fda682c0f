"""Work done ahead in threads (`fixate.prefetch`) and the evaluation that uses it."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from model_fixtures import make_samples

from fixate.data.samples import read_samples
from fixate.evaluate import ProbeSettings, evaluate_model
from fixate.models import Screen, load_backbone
from fixate.models.cache import FeatureCache
from fixate.prefetch import prefetched
from fixate.sample_encoder import SampleEncoder

pytest_plugins = ["model_fixtures"]


def test_results_come_in_order_and_the_items_are_read_only_ahead_of_the_caller():
    read: list[int] = []

    def items():
        for i in range(10):
            read.append(i)
            yield i

    results = prefetched(lambda i: i * i, items(), ahead=2)
    assert next(results) == 0
    assert len(read) <= 4  # the current item, two ahead, and one queued
    assert list(results) == [i * i for i in range(1, 10)]


def test_work_runs_in_background_threads_and_without_ahead_in_the_caller():
    def thread(_):
        return threading.current_thread()

    assert set(prefetched(thread, range(4), ahead=0)) == {threading.current_thread()}
    assert threading.current_thread() not in set(prefetched(thread, range(4), ahead=2))


def test_an_error_reaches_the_caller_at_its_item():
    def work(i):
        if i == 3:
            raise ValueError(f"item {i}")
        return i

    results = prefetched(work, range(6), ahead=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="item 3"):
        next(results)


def test_evaluation_through_a_feature_cache_scores_the_same_and_reads_each_screen_once(
    tiny_models, tmp_path, monkeypatch
):
    backbone = load_backbone(tiny_models["tiny-qwen3vl"], "qwen3vl", device="cpu")
    samples = read_samples(make_samples(tmp_path, per_split=(1, 1, 3)))
    samples = samples[samples["split"] == "test"]
    settings = ProbeSettings("attnlrp", window=2)
    plain = evaluate_model(backbone, samples, None, settings, batch_size=2, progress=False)
    cache = FeatureCache(backbone)
    encoder = SampleEncoder(backbone, settings.instruction, cache)
    read: list[int] = []
    from_sample = Screen.from_sample

    def counted_read(row, **kwargs):
        read.append(1)
        return from_sample(row, **kwargs)

    monkeypatch.setattr(Screen, "from_sample", counted_read)
    cached = []
    for _ in range(2):
        misses = cache.misses
        cached.append(
            evaluate_model(
                backbone, samples, None, settings, batch_size=2, progress=False, encoder=encoder
            )
        )
    assert 0 < len(cache) == cache.misses == misses <= len(samples)  # the second pass: all hits
    assert cache.hits + cache.misses == 2 * len(samples)
    assert len(read) == len(samples)  # the second pass reads no image
    for frame in cached:
        pd.testing.assert_frame_equal(frame, plain, check_exact=False, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="the settings' instruction"):
        evaluate_model(
            backbone, samples, None, ProbeSettings(instruction="Which?"), encoder=encoder
        )
