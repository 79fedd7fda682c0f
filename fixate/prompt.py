"""The factorised soft prompt: M shared basis prompts of N vectors, mixed per user.

P_u = sum_m softmax(z_u)_m * basis_m. The mixing logits z_u start at zero, so
every user starts from the uniform mixture, and a user never seen in training keeps it. Unlike the
reference, the parameters stay in fp32 on the compute device (bf16 bases on the CPU swallowed AdamW
updates of lr 1e-3 on weights of magnitude 0.01, 9.2 item 14); `Backbone.embed` casts the composed
prompt to the model dtype where it is inserted.

Modes (the ablations of the reference):
- "personal": trainable bases and per-user logits (FixATE);
- "shared": trainable bases, no per-user logits, everyone gets the uniform mixture (z_u = 1);
- "frozen": the random initial bases and uniform mixture, nothing trainable (Rand. SP).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from fixate.data.tables import atomic_path

MODES = ("personal", "shared", "frozen")
_FORMAT = "fixate-soft-prompt/1"


def _to_device(values: list[int], device: torch.device) -> Tensor:
    """A host list on `device`; to a GPU from pinned memory, asynchronously: a plain copy from
    pageable memory waits for the GPU, which a training step should never do."""
    if device.type != "cuda":
        return torch.tensor(values, device=device)
    return torch.tensor(values).pin_memory().to(device, non_blocking=True)


class SoftPrompt(nn.Module):
    """Basis (M, N, D) and per-user mixing logits (U, M), both fp32."""

    def __init__(
        self,
        hidden_size: int,
        user_ids: Sequence[str] = (),
        *,
        n_basis: int = 8,
        n_tokens: int = 16,
        mode: str = "personal",
        init_scale: float = 0.01,
        seed: int = 0,
        device: torch.device | str | None = None,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown soft-prompt mode {mode!r}; choose one of {MODES}")
        if len(set(user_ids)) != len(user_ids):
            raise ValueError("user ids must be unique")
        self.mode = mode
        self.user_ids = [str(user) for user in user_ids]
        self._index = {user: i for i, user in enumerate(self.user_ids)}
        generator = torch.Generator().manual_seed(seed)
        basis = init_scale * torch.randn(n_basis, n_tokens, hidden_size, generator=generator)
        self.basis = nn.Parameter(basis.to(device), requires_grad=mode != "frozen")
        logits = torch.zeros(len(self.user_ids), n_basis, device=device)
        self.user_logits = nn.Parameter(logits, requires_grad=mode == "personal")

    @property
    def n_tokens(self) -> int:
        return self.basis.shape[1]

    def _logits(self, user_ids: Sequence[str]) -> Tensor:
        """(B, M) mixing logits; zeros (the uniform mixture) for unknown users and shared modes."""
        rows = _to_device([self._index.get(str(user), -1) for user in user_ids], self.basis.device)
        if self.mode != "personal" or not self.user_ids:
            return torch.zeros(len(rows), self.basis.shape[0], device=self.basis.device)
        known = (rows >= 0)[:, None]
        return torch.where(known, self.user_logits[rows.clamp(min=0)], 0.0)

    def mixture(self, user_ids: Sequence[str]) -> Tensor:
        """(B, M) mixing weights softmax(z_u)."""
        return torch.softmax(self._logits(user_ids), dim=-1)

    def population_mixture(self) -> Tensor:
        """(M,) the mean mixing weights of the trained users: the prompt of a typical user, for a
        screen whose user is unknown and as the start of a new user's enrollment."""
        if self.mode != "personal" or not self.user_ids:
            return torch.full(
                (self.basis.shape[0],), 1 / self.basis.shape[0], device=self.basis.device
            )
        return torch.softmax(self.user_logits.detach(), dim=-1).mean(0)

    def compose(self, mixture: Tensor) -> Tensor:
        """(B, N, D) the prompts of (B, M) mixing weights, fp32."""
        return torch.einsum("bm,mnd->bnd", mixture, self.basis)

    def forward(self, user_ids: Sequence[str]) -> Tensor:
        """(B, N, D) the composed prompt of each user, fp32."""
        return self.compose(self.mixture(user_ids))

    def with_new_users(self, user_ids: Sequence[str]) -> SoftPrompt:
        """A prompt for users never trained: this one's bases, frozen, and trainable mixing logits
        that start at the population's mean weights (enrollment, `fixate.enroll`).

        Nothing of this prompt is shared with the new one, so fitting the new users can never move
        a trained user's weights or the bases.
        """
        if self.mode != "personal":
            raise ValueError(f"a {self.mode!r} prompt has no per-user weights to enroll users into")
        new = SoftPrompt(
            self.basis.shape[2],
            user_ids,
            n_basis=self.basis.shape[0],
            n_tokens=self.n_tokens,
            device=self.basis.device,
        )
        with torch.no_grad():
            new.basis.copy_(self.basis)
            logits = self.population_mixture().log()  # centred: the same mixture, least penalty
            new.user_logits.copy_((logits - logits.mean()).expand_as(new.user_logits))
        new.basis.requires_grad_(False)
        return new

    def merged(self, other: SoftPrompt) -> SoftPrompt:
        """One prompt holding the users of both (enrolled users beside the trained ones); the
        bases must be the same, bit for bit."""
        if self.mode != other.mode or not torch.equal(self.basis.cpu(), other.basis.cpu()):
            raise ValueError("the prompts do not share their basis prompts: not from one run")
        clash = sorted(set(self.user_ids) & set(other.user_ids))
        if clash:
            raise ValueError(f"users {clash} are in both prompts")
        merged = SoftPrompt(
            self.basis.shape[2],
            [*self.user_ids, *other.user_ids],
            n_basis=self.basis.shape[0],
            n_tokens=self.n_tokens,
            mode=self.mode,
            device=self.basis.device,
        )
        with torch.no_grad():
            merged.basis.copy_(self.basis)
            logits = torch.cat([self.user_logits, other.user_logits.to(self.basis.device)])
            merged.user_logits.copy_(logits)
        return merged

    def penalty(self, user_ids: Sequence[str]) -> Tensor:
        """Mean squared norm of the batch users' mixing logits (the reference's L_reg)."""
        return self._logits(user_ids).pow(2).sum(-1).mean()

    def save(self, path: str | Path) -> None:
        """Write basis, user logits and the user id list to a safetensors file, atomically."""
        metadata = {
            "format": _FORMAT,
            "mode": self.mode,
            "user_ids": json.dumps(self.user_ids),
        }
        tensors = {
            "basis": self.basis.detach().cpu(),
            "user_logits": self.user_logits.detach().cpu(),
        }
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> SoftPrompt:
        """Read a file written by `save`; a damaged or foreign file is a ValueError naming it."""
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{path}: not a readable soft prompt file ({err})") from err
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a soft prompt written by fixate ({_FORMAT})")
        n_basis, n_tokens, hidden = tensors["basis"].shape
        prompt = cls(
            hidden,
            json.loads(metadata["user_ids"]),
            n_basis=n_basis,
            n_tokens=n_tokens,
            mode=metadata["mode"],
            device=device,
        )
        with torch.no_grad():
            prompt.basis.copy_(tensors["basis"])
            prompt.user_logits.copy_(tensors["user_logits"])
        return prompt
