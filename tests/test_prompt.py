"""The factorised soft prompt: uniform start, per-user mixing, ablations, safetensors round trip."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from fixate.prompt import SoftPrompt

USERS = ["u1", "u2", "u3"]


def test_starts_as_the_uniform_mixture():
    prompt = SoftPrompt(32, USERS, n_basis=4, n_tokens=5)
    assert prompt.basis.shape == (4, 5, 32) and prompt.basis.dtype == torch.float32
    assert prompt.user_logits.shape == (3, 4) and not prompt.user_logits.any()
    torch.testing.assert_close(prompt.mixture(USERS), torch.full((3, 4), 0.25))
    composed = prompt(["u1", "u3"])
    assert composed.shape == (2, 5, 32)
    torch.testing.assert_close(composed[0], prompt.basis.mean(0))
    assert prompt.penalty(USERS).item() == 0.0


def test_users_mix_the_bases_and_unknown_users_stay_uniform():
    prompt = SoftPrompt(8, USERS, n_basis=3, n_tokens=2)
    with torch.no_grad():
        prompt.user_logits[1] = torch.tensor([10.0, 0.0, 0.0])
    weights = prompt.mixture(["u2", "nobody"])
    assert weights[0, 0] > 0.99
    torch.testing.assert_close(weights[1], torch.full((3,), 1 / 3))
    torch.testing.assert_close(prompt.penalty(["u2", "u1"]), torch.tensor(50.0))
    expected = (weights[0] @ prompt.basis.flatten(1)).reshape(2, 8)
    torch.testing.assert_close(prompt(["u2"])[0], expected)


def test_gradient_reaches_only_the_batch_users():
    prompt = SoftPrompt(8, USERS, n_basis=3, n_tokens=2)
    target = torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(1))
    ((prompt(["u1", "u3"]) - target) ** 2).sum().backward()
    assert prompt.basis.grad.abs().sum() > 0
    grad = prompt.user_logits.grad
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0 and not grad[1].any()


@pytest.mark.parametrize(
    ("mode", "basis_trains", "logits_train"),
    [("personal", True, True), ("shared", True, False), ("frozen", False, False)],
)
def test_ablation_modes(mode, basis_trains, logits_train):
    prompt = SoftPrompt(8, USERS, n_basis=3, n_tokens=2, mode=mode)
    assert prompt.basis.requires_grad is basis_trains
    assert prompt.user_logits.requires_grad is logits_train
    with torch.no_grad():
        prompt.user_logits[0] = torch.tensor([5.0, 0.0, 0.0])
    expected = torch.tensor([5.0, 0.0, 0.0]) if mode == "personal" else torch.zeros(3)
    torch.testing.assert_close(prompt.mixture(["u1"])[0], torch.softmax(expected, 0))


def test_seeded_initial_basis():
    a, b = SoftPrompt(8, USERS, seed=3), SoftPrompt(8, USERS, seed=3)
    assert torch.equal(a.basis, b.basis)
    assert not torch.equal(a.basis, SoftPrompt(8, USERS, seed=4).basis)
    assert a.basis.abs().max() < 0.1  # randn * 0.01


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        SoftPrompt(8, USERS, mode="random")
    with pytest.raises(ValueError, match="unique"):
        SoftPrompt(8, ["u1", "u1"])


def test_save_load_round_trip(tmp_path):
    prompt = SoftPrompt(16, USERS, n_basis=2, n_tokens=3, mode="shared", seed=5)
    with torch.no_grad():
        prompt.user_logits.add_(torch.arange(6.0).reshape(3, 2))
    path = tmp_path / "prompt.safetensors"
    prompt.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["prompt.safetensors"]
    loaded = SoftPrompt.load(path)
    assert loaded.user_ids == USERS and loaded.mode == "shared"
    assert torch.equal(loaded.basis, prompt.basis)
    assert torch.equal(loaded.user_logits, prompt.user_logits)
    assert loaded.basis.requires_grad and not loaded.user_logits.requires_grad
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a soft prompt"):
        SoftPrompt.load(tmp_path / "other.safetensors")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_lives_in_fp32_on_the_compute_device():
    prompt = SoftPrompt(8, USERS, device="cuda")
    assert prompt.basis.device.type == "cuda" and prompt.basis.dtype == torch.float32
    assert prompt(["u1", "x"]).device.type == "cuda"
