"""A trained tiny simulator on new screens, and enrolling a held-out user: what is written, that
batching across users changes nothing, and that enrolling moves only the new user's weights."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from model_fixtures import SMALL, interface, make_samples, slot_boxes

from fixate.data.samples import read_samples
from fixate.enroll import EnrollConfig, enroll, first_sessions, save_enrolled
from fixate.simulate.gallery import inspect_gallery
from fixate.simulate.outputs import simulate_to_folder
from fixate.simulate.screens import read_spec
from fixate.simulate.simulator import POPULATION, TrainedRun, simulate
from fixate.train import TrainConfig, run

pytest_plugins = ["model_fixtures"]
USERS = ("u1", "u2", "u3")


@pytest.fixture(scope="module")
def trained(tiny_models, tmp_path_factory) -> tuple[Path, list[Path]]:
    """A run on u1 and u2, with u3 held out of training."""
    folder = tmp_path_factory.mktemp("sim")
    shards = make_samples(folder / "data", users=USERS, per_split=(4, 1, 2))
    config = TrainConfig.from_dict(
        {
            "epochs": 1,
            "batch_size": 2,
            "grad_accum": 1,
            "n_basis": 2,
            "n_tokens": 4,
            "user_lr": 0.5,
            "lambda_warmup": 1,
            "holdout_users": 1,
            "probe": {"operator": "attnlrp", "window": 2},
        }
    )
    out = folder / "run"
    run(shards, tiny_models["tiny-qwen3vl"], "qwen3vl", config, 5, out, "toy")
    return out, shards


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screens")
    boxes = slot_boxes(SMALL, rows=2, cols=3)
    entries = []
    for i, lit in enumerate((1, 4)):
        interface(lit=lit, size=SMALL).save(folder / f"s{i}.png")
        slots = [{"label": "ABCDEF"[j], "box": box.tolist()} for j, box in enumerate(boxes)]
        entries.append({"id": f"s{i}", "image": f"s{i}.png", "slots": slots})
    path = folder / "screens.yaml"
    path.write_text(yaml.safe_dump({"screens": entries}))
    return path


def test_the_run_holds_out_the_last_user_and_keeps_everyone_profile(trained):
    loaded = TrainedRun.load(trained[0])
    assert loaded.users == ["u1", "u2"]
    assert loaded.profiles == {"u1": "Top_genre: Comedy", "u2": "Top_genre: Drama"}


def test_simulate_writes_distributions_overlays_and_a_gallery_that_opens(trained, spec, tmp_path):
    out = tmp_path / "sim"
    gallery = simulate_to_folder(trained[0], spec, ["u2", "u1"], out, batch_size=2)
    table = pd.read_parquet(out / "simulated.parquet")
    assert len(table) == 2 * 3 and set(table["user_id"]) == {"u1", "u2", POPULATION}
    for row in table.to_dict("records"):
        assert len(row["attention"]) == len(row["click_probs"]) == 6
        assert np.isclose(sum(row["attention"]), 1) and np.isclose(sum(row["click_probs"]), 1)
        assert row["click"] == "ABCDEF"[int(np.argmax(row["click_probs"]))]
        assert (out / "overlays" / row["screen_id"] / f"{row['user_id']}.jpg").is_file()
    assert json.loads((out / "simulated.json").read_text())[0]["user_id"] == "u2"
    html = gallery.read_text()
    assert html.count("<img ") == 6 and "overlays/s1/u1.jpg" in html
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sim.")]  # staging removed
    try:
        counts = inspect_gallery(gallery, tmp_path / "gallery.png")
    except RuntimeError as err:  # no Chromium on this machine
        pytest.skip(str(err))
    assert counts == {"images": 6, "loaded": 6, "rows": 3}
    assert (tmp_path / "gallery.png").stat().st_size > 10_000


def test_batching_across_users_and_the_users_weights(trained, spec):
    loaded = TrainedRun.load(trained[0])
    backbone = loaded.backbone()
    screens = read_spec(spec)
    one = simulate(loaded, backbone, screens, ["u1", "u2"], batch_size=1, progress=False)
    many = simulate(loaded, backbone, screens, ["u1", "u2"], batch_size=8, progress=False)
    for column in ("attention", "click_probs"):
        np.testing.assert_allclose(np.stack(one[column]), np.stack(many[column]), atol=1e-5)
    by_user = one[one["screen_id"] == "s0"].set_index("user_id")["attention"]
    assert not np.allclose(by_user["u1"], by_user["u2"], atol=1e-6)  # weights (and profile) differ
    swapped = replace(loaded, profiles={"u1": "", "u2": ""})
    again = simulate(swapped, backbone, screens[:1], ["u1"], progress=False)
    assert not np.allclose(again["attention"][0], by_user["u1"], atol=1e-6)  # the profile is read


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_enrolling_moves_only_the_new_users_weights(trained):
    run_dir, shards = trained
    before = {p.name: digest(p) for p in run_dir.iterdir() if p.is_file()}
    loaded = TrainedRun.load(run_dir)
    backbone = loaded.backbone()
    weights = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    samples = read_samples(shards[2])  # u3, held out
    config = EnrollConfig(steps=3, lr=0.5, batch_size=2)
    prompt = enroll(loaded, backbone, samples, 2, config)
    assert prompt.user_ids == ["u3"]
    assert torch.equal(prompt.basis.cpu(), loaded.prompt.basis.cpu())
    start = loaded.prompt.population_mixture().log()
    assert not torch.allclose(prompt.user_logits[0].cpu(), start - start.mean())
    assert {p.name: digest(p) for p in run_dir.iterdir() if p.is_file()} == before
    assert all(torch.equal(v, weights[k]) for k, v in backbone.model.state_dict().items())
    merged = loaded.prompt.merged(prompt)
    assert torch.equal(merged.user_logits[:2], loaded.prompt.user_logits)
    with pytest.raises(ValueError, match=r"users \['u1'\] were trained"):
        enroll(loaded, backbone, read_samples(shards[0]), 1, config)


def test_zero_sessions_give_the_population_and_enrolled_users_can_be_simulated(
    trained, spec, tmp_path
):
    run_dir, shards = trained
    loaded = TrainedRun.load(run_dir)
    samples = read_samples(shards[2])
    prompt = enroll(loaded, loaded.backbone(), samples, 0, EnrollConfig())
    torch.testing.assert_close(prompt.mixture(["u3"])[0], loaded.prompt.population_mixture())
    path = tmp_path / "enrolled" / "k0.safetensors"
    save_enrolled(prompt, samples, 0, EnrollConfig(), path)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["profiles"] == {"u3": "Top_genre: Drama"} and record["fitted_on"] == {}
    simulate_to_folder(run_dir, spec, ["u3"], tmp_path / "sim", enrolled=[path])
    table = pd.read_parquet(tmp_path / "sim" / "simulated.parquet")
    assert list(table["user_id"][:2]) == ["u3", POPULATION]


def test_first_sessions_are_the_earliest_screens_of_the_fitting_splits(trained):
    samples = read_samples(trained[1][2])
    picked = first_sessions(samples, 3)
    assert list(picked["screen_id"]) == ["S0", "S1", "S2"]
    assert set(first_sessions(samples, 99)["split"]) == {"train", "val"}
