"""The per-screen vision feature cache gives what the uncached path gives, in every batch shape."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from model_fixtures import filler_prompt, make_screen, tolerance

from fixate.models import load_backbone
from fixate.models.cache import FeatureCache, screen_key
from fixate.probe import probe

pytest_plugins = ["model_fixtures"]


def assert_same_features(cached, uncached, device):
    torch.testing.assert_close(cached.image, uncached.image, **tolerance(device))
    assert len(cached.deepstack) == len(uncached.deepstack)
    for ours, theirs in zip(cached.deepstack, uncached.deepstack, strict=True):
        torch.testing.assert_close(ours, theirs, **tolerance(device))


def keys_of(screens):
    return [screen_key(screen) for screen in screens]


def assert_same_probe(backbone, batch, features, device):
    """Slots and logits (training's default operator) equal those through the vision tower."""
    soft = filler_prompt(backbone, batch.n_soft) + 0.01
    ours = probe(backbone, batch, soft, operator="attnlrp", window=2, features=features)
    plain = probe(backbone, batch, soft, operator="attnlrp", window=2)
    torch.testing.assert_close(ours.slots, plain.slots, **tolerance(device))
    torch.testing.assert_close(ours.logits, plain.logits, **tolerance(device))


def test_mixed_and_padded_batches_match_the_vision_tower(backbone, device):
    cache = FeatureCache(backbone)
    first = [make_screen(1, profile="Top_genre: Horror"), make_screen(7)]
    batch = backbone.encode(first, n_soft=2)
    features = cache.features(batch, keys_of(first))
    assert (cache.misses, cache.hits, len(cache)) == (2, 0, 2)
    assert_same_features(features, backbone.image_features(batch), device)

    # a new screen between two cached ones (one of them with another profile and answer), and
    # prompts of three lengths, so the batch is left-padded
    second = [
        make_screen(12, profile="Top_genre: Comedy, Preferred_genres: Drama|Romance|Horror"),
        make_screen(1, profile="Top_genre: Horror"),
        dataclasses.replace(first[1], profile="", answer="D"),
    ]
    assert screen_key(second[2]) == screen_key(first[1])
    batch = backbone.encode(second, n_soft=2)
    assert not batch.attention_mask.bool().all()
    features = cache.features(batch, keys_of(second))
    assert (cache.misses, cache.hits, len(cache)) == (3, 2, 3)
    assert_same_features(features, backbone.image_features(batch), device)
    assert_same_probe(backbone, batch, features, device)

    hit = cache.features(batch, keys_of(second))  # now entirely from the cache
    assert (cache.misses, cache.hits) == (3, 5)
    assert_same_features(hit, features, device)


def test_memory_bounds(backbone, device):
    screens = [make_screen(lit) for lit in (0, 5, 10)]
    batch = backbone.encode(screens)
    full = backbone.image_features(batch)
    per_screen = sum(level.nbytes for level in (full.image, *full.deepstack)) // 3
    # one screen fits on the device, one on the host, the third is computed but not kept
    cache = FeatureCache(backbone, device_bytes=per_screen, host_bytes=per_screen)
    assert_same_features(cache.features(batch, keys_of(screens)), full, device)
    assert len(cache) == 2 and cache.used_bytes == {"device": per_screen, "host": per_screen}
    again = cache.features(batch, keys_of(screens))
    assert (cache.hits, cache.misses) == (2, 4)
    assert_same_features(again, full, device)
    with pytest.raises(ValueError, match="2 screen keys for a batch of 3"):
        cache.features(batch, keys_of(screens[:2]))


def _cache_of_one_process(rank: int, model_dir: str, port: int, out: str, full: int) -> None:
    """One of two gloo processes: cache its own screens (screen 7 in both), then share; the
    process `full` has no room left by then."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        backbone = load_backbone(model_dir, "qwen3vl", device="cpu")
        cache = FeatureCache(backbone)
        for slot in ((1, 7), (7, 9))[rank]:
            screen = make_screen(slot)
            cache.features(backbone.encode([screen]), keys_of([screen]))
        if rank == full:
            cache.device_bytes, cache.host_bytes = cache.used_bytes["device"], 0
        received = cache.share()
        torch.save({"received": received, "entries": cache._entries}, Path(out) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("full", [-1, 0])
def test_processes_share_their_cached_features(tiny_models, tmp_path, full):
    """After `share`, each process holds the screens either has seen, as computed, unless it
    has no room for them (then nothing is sent to it)."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    mp.spawn(
        _cache_of_one_process,
        args=(str(tiny_models["tiny-qwen3vl"]), port, str(tmp_path), full),
        nprocs=2,
    )
    first, second = (torch.load(tmp_path / f"{r}.pt", weights_only=False) for r in (0, 1))
    keys = {slot: screen_key(make_screen(slot)) for slot in (1, 7, 9)}
    assert (first["received"], second["received"]) == ((0 if full == 0 else 1), 1)
    assert set(first["entries"]) == {keys[1], keys[7]} | ({keys[9]} if full != 0 else set())
    assert set(second["entries"]) == set(keys.values())
    for key in first["entries"]:
        for ours, theirs in zip(first["entries"][key], second["entries"][key], strict=True):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
