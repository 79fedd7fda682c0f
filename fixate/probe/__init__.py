"""The one probing pipeline, shared by training, evaluation and baselines.

probe(backbone, batch, soft_prompt, operator=..., window=..., differentiable=...) runs the model
once, takes the target scalar (the answer's logit, or the top logit when there is no answer) and
the query row (the position predicting the last answer token), lets the operator turn the model's
internals into relevance of every position, and pools |relevance| over the visual tokens into a
distribution over each screen's slots. The reference copied this pipeline five times and the
copies drifted; everything that needs a slot distribution calls this.

Operators: "rollout", "glimpse", "attnlrp" (the reference's gradient x attention, stable by
default) and "attnlrp-rules" (rule-based AttnLRP); see `fixate.probe.operators`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from fixate.models.base import Backbone
from fixate.models.records import ModelBatch, VisualFeatures
from fixate.plugins import load_plugins
from fixate.probe import attnlrp_rules  # noqa: F401  (registers "attnlrp-rules")
from fixate.probe.operators import OPERATORS, check_options, get_operator, register_operator
from fixate.probe.slots import slot_distribution

__all__ = ["OPERATORS", "ProbeResult", "check_options", "probe", "register_operator"]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe of a batch."""

    slots: Tensor  # (B, S_max) distribution over each screen's slots, zero beyond its own
    slot_mask: Tensor  # (B, S_max) bool, True for a screen's own slots
    relevance: Tensor  # (B, T) the operator's relevance of every position for the query
    logits: Tensor  # (B, max(A, 1), V), position j predicts answer token j
    target: Tensor  # (B,) the probed scalar


def probe(
    backbone: Backbone,
    batch: ModelBatch,
    soft_prompt: Tensor | None = None,
    *,
    operator: str = "glimpse",
    window: int | None = None,
    differentiable: bool = False,
    features: VisualFeatures | None = None,
    **options,
) -> ProbeResult:
    """Slot distributions of a batch under one operator.

    window: the last `window` layers the attention operators read (default: the backbone's, 6 for
        Qwen3-VL and 5 for InternVL as in the reference); eager attention runs only there.
    differentiable: keep the graph down to the soft prompt (second order: the gradients of the
        target are taken with create_graph=True) for training; otherwise everything is detached
        and no second-order graph is built. Both modes compute the same values.
    features: precomputed `backbone.image_features(batch)`, to skip the vision tower.
    options: operator parameters (rollout: discard_ratio; glimpse: head_temperature,
        depth_temperature; attnlrp: stable, relu; attnlrp-rules: rule).
    """
    op = get_operator(operator)
    window = backbone.default_window if window is None else window
    features = backbone.image_features(batch) if features is None else features
    with torch.set_grad_enabled(differentiable or op.needs_backward):
        inputs_embeds = backbone.embed(batch, soft_prompt)
        if not differentiable:
            inputs_embeds = inputs_embeds.detach().requires_grad_(op.needs_backward)
        trace = op.trace(
            backbone,
            batch,
            inputs_embeds,
            features,
            window=window,
            create_graph=differentiable,
            **options,
        )
        slots, mask = slot_distribution(trace.relevance, batch)
    result = ProbeResult(slots, mask, trace.relevance, trace.logits, trace.target)
    if differentiable:
        return result
    return ProbeResult(**{f.name: getattr(result, f.name).detach() for f in fields(result)})


load_plugins()  # operators registered by the modules FIXATE_PLUGINS names (`fixate.plugins`)
