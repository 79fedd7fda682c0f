"""An operator added from outside the library, as README "Extending" describes: a module that
registers it, named by FIXATE_PLUGINS, runs through the whole workflow (tiny data, one seed, one
epoch) and shows up in the results under its name."""

from __future__ import annotations

import json
import os

import pytest
from workflow_helpers import scratch_workflow, snakemake

pytestmark = pytest.mark.workflow

# The recipe's module: an Operator subclass registered under its name when imported. This toy
# reads no attention at all: every position is equally relevant, so each screen's slots get the
# same share (a uniform simulator, trained only by its answer loss).
TOY_OPERATOR = """
import torch

from fixate.probe import register_operator
from fixate.probe.operators import Operator, Trace, target_scalar


class Uniform(Operator):
    needs_backward = False

    def trace(self, backbone, batch, inputs_embeds, features, *, window, create_graph):
        out = backbone.forward(batch, inputs_embeds, features, window=0)
        relevance = torch.ones(inputs_embeds.shape[:2], device=inputs_embeds.device)
        return Trace(relevance, out.logits, target_scalar(out.logits, batch.answer_ids))


register_operator("toy-uniform", Uniform())
"""
TINY = {
    "recgaze": {"synthetic": {"n_users": 2, "posters": False}},
    "experiment": {"datasets": ["recgaze"], "operators": ["toy-uniform"], "seeds": [1]},
    "train": {
        "epochs": 1,
        "n_basis": 2,
        "n_tokens": 4,
        "batch_size": 8,
        "grad_accum": 1,
        "free_generation": False,
    },
}
TARGET = "results/recgaze_toy-uniform.json"


def test_a_plugin_operator_runs_through_the_workflow(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_operator.py").write_text(TOY_OPERATOR)
    work = scratch_workflow(tmp_path / "wf", TINY)
    refused = snakemake(work, "--dry-run", TARGET, check=False)
    assert "operators.0: 'toy-uniform' is not one of" in refused.stdout + refused.stderr
    path = os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
    snakemake(work, TARGET, env={"FIXATE_PLUGINS": "toy_operator", "PYTHONPATH": path})
    result = json.loads((work / TARGET).read_text())
    run = work / "results/runs/recgaze/qwen3vl/toy-uniform/fixation/seed1"
    assert json.loads((run / "metrics.json").read_text())["config"]["probe"]["operator"] == (
        "toy-uniform"
    )
    assert result["operator"] == "toy-uniform"
    assert result["results"]["qwen3vl"]["fixation"]["seeds"] == [1]
