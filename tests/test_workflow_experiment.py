"""The whole DAG on tiny data: samples -> tiny model -> training runs -> aggregate -> tables,
plots and the HTML report; and what a training setting reruns."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import edited_config, planned_jobs, scratch_workflow, snakemake

from fixate.processes import pid_alive

pytestmark = pytest.mark.workflow
TINY = {
    "recgaze": {"synthetic": {"n_users": 2, "posters": False}},
    "adserp": {"synthetic": {"n_users": 2}},
    "experiment": {
        "datasets": ["recgaze"],
        "seeds": [1, 2],
        "operators": ["attnlrp"],
        "ablations": ["shared_prompt"],
    },
    "train": {"epochs": 1, "n_basis": 2, "n_tokens": 4, "batch_size": 8, "grad_accum": 1},
    # the known-truth study over the same runs, so its target only summarises them
    "study": {"datasets": ["recgaze"], "operators": ["attnlrp"], "seeds": [1, 2]},
    # a trained run on new screens, and enrolling the user a run held out
    "screens": {"n": 2},
    "simulate": {"demo": {"run": {"seed": 1}, "users": "all"}},
    "ablations": {"holdout": {"holdout_users": 1}},
    "enroll": {"seeds": [1], "sessions": [0, 1], "steps": 2},
}
TARGET = "results/recgaze_attnlrp.json"


RUN = Path("results/runs/recgaze/qwen3vl/attnlrp/fixation/seed1")


def start(work: Path) -> subprocess.Popen:
    log = (work / "killed_run.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    """The tiny experiment with only its Snakemake process killed (SIGKILL) right after a
    training checkpoint, as when a terminal dies; its trainer must stop by itself. Then the
    workflow is unlocked and rerun."""
    work = scratch_workflow(tmp_path_factory.mktemp("experiment"), TINY)
    process = start(work)
    deadline = time.monotonic() + 600
    while not list((work / RUN).glob("checkpoint-*.safetensors")) and time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                "the run ended before its first checkpoint:\n"
                + (work / "killed_run.log").read_text()[-3000:]
            )
        time.sleep(0.2)
    trainer = json.loads((work / RUN / "train.lock").read_text())["pid"]
    try:
        process.kill()  # Snakemake only: its jobs are processes of their own
        process.wait()
        deadline = time.monotonic() + 15
        while pid_alive(trainer):
            assert time.monotonic() < deadline, "the trainer outlived its Snakemake process"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever else the killed run left
    assert not (work / RUN / "metrics.json").exists()
    snakemake(work, "--unlock")  # a SIGKILL leaves Snakemake's lock behind, as after a power loss
    snakemake(work)
    return work


def test_a_killed_run_reruns_and_resumes_from_its_checkpoint(workflow):
    log = workflow / "results" / "logs" / "train" / "recgaze" / "qwen3vl" / "attnlrp"
    text = (log / "fixation" / "seed1.log").read_text()
    assert "resumed from" in text
    assert "taking over the lock of PID" in text  # the orphan had stopped: one trainer at a time
    assert json.loads((workflow / RUN / "metrics.json").read_text())["seed"] == 1


def test_the_target_a_user_types_builds_only_what_it_needs(tmp_path):
    work = scratch_workflow(tmp_path, TINY)
    jobs = planned_jobs(work, TARGET)
    assert jobs["train"] == 4  # 2 seeds x (main variant + one ablation)
    assert jobs["model_tiny"] == 1 and jobs["aggregate"] == 1
    assert not any(rule.startswith(("plot", "tables", "adserp")) for rule in jobs)


def test_aggregate_has_seed_statistics_baselines_and_tests(workflow):
    result = json.loads((workflow / TARGET).read_text())
    run = result["results"]["qwen3vl"]["fixation"]
    assert run["seeds"] == [1, 2]
    assert run["modes"]["fixate_tf"]["micro_js"]["n"] == 2
    assert run["modes"]["fixate_tf"]["micro_js"]["std"] is not None
    # synthetic users carry their planted truth: its baseline, the truth metrics, the identity test
    assert set(run["baselines"]) == {"uniform", "position_prior", "user_prior", "planted_truth"}
    assert run["baselines"]["position_prior"]["micro_truth_r"]["mean"] == 0.0
    assert run["modes"]["fixate_tf"]["micro_truth_r"]["n"] == 2
    assert "truth_kl" in run["wilcoxon"]["tf_vs_user_prior"]
    assert run["identity"]["metric"] == "truth_kl" and run["identity"]["n_users"] >= 1
    assert "micro_js" in run["margin_over_user_prior"]
    assert set(run["wilcoxon"]) == {"tf", "fg", "tf_vs_user_prior", "fg_vs_user_prior"}
    assert "fixation-shared_prompt" in result["results"]["qwen3vl"]
    for seed in (1, 2):
        folder = workflow / "results" / "runs" / "recgaze" / "qwen3vl" / "attnlrp" / "fixation"
        files = {p.name for p in (folder / f"seed{seed}").iterdir()}
        assert {
            "metrics.json",
            "per_sample.parquet",
            "prompt.safetensors",
            "profiles.json",
            "train_log.csv",
        } <= files


def test_tables_plots_and_report(workflow):
    table = pd.read_csv(workflow / "results" / "tables" / "recgaze.csv", keep_default_na=False)
    assert list(table["method"]) == [
        "Uniform",
        "Position prior",
        "Per-user prior",
        "Planted truth",
        "Backbone TF",
        "Backbone FG",
        "FixATE TF",
        "FixATE FG",
    ]
    assert " ± " in table.loc[table["method"] == "FixATE TF", "js"].item()
    assert " ± " in table.loc[table["method"] == "FixATE TF", "truth_r"].item()
    assert "identity Δtruth_kl" in table
    assert (workflow / "results" / "tables" / "recgaze.md").read_text().startswith("# recgaze")
    ablations = pd.read_csv(workflow / "results" / "tables" / "recgaze_ablations.csv")
    assert set(ablations["variant"]) == {"fixation-shared_prompt"}
    for name in (
        "recgaze_metrics",
        "recgaze_qwen3vl_attnlrp_training",
        "recgaze_qwen3vl_attnlrp_screens",
    ):
        assert (workflow / "results" / "plots" / f"{name}.png").stat().st_size > 10_000
    snakemake(workflow, "--report", "report.html")
    assert (workflow / "report.html").stat().st_size > 100_000


def test_a_training_setting_reruns_training_and_what_follows(workflow):
    jobs = edited_config(workflow, {"train": {"gamma": 1.0}})
    assert jobs["train"] == 4 and jobs["aggregate"] == 1
    assert not any(rule.startswith(("recgaze", "model")) for rule in jobs)


def test_a_seeing_backbone_is_trained_before_the_runs_that_use_it(workflow):
    """`model: tiny-qwen3vl-seeing` makes the workflow train the tiny model on the RecGaze screens
    (rule model_seeing, after the tiny model and every user's renders) and retrain the runs."""
    jobs = edited_config(workflow, {"backbones": {"qwen3vl": {"model": "tiny-qwen3vl-seeing"}}})
    assert jobs["model_seeing"] == 1 and jobs["train"] == 4
    assert not any(rule.startswith("recgaze") for rule in jobs)


def test_a_job_with_two_devices_trains_data_parallel(workflow):
    """`--set-resources train:gpu=2` makes the same rule launch two processes (gloo on a CPU
    machine), and the run's metrics match the one-process run."""
    before = json.loads((workflow / RUN / "metrics.json").read_text())
    for checkpoint in (workflow / RUN).glob("checkpoint-*.safetensors"):
        checkpoint.unlink()
    target = str(RUN / "metrics.json")
    snakemake(
        workflow,
        target,
        "--forcerun",
        target,
        "--set-resources",
        "train:gpu=2",
        "--resources",
        "gpu=2",
    )
    log = workflow / "results/logs/train/recgaze/qwen3vl/attnlrp/fixation/seed1.log"
    text = log.read_text()
    assert "data parallel over 2 processes" in text and "[rank 0]" in text, text[-3000:]
    after = json.loads((workflow / RUN / "metrics.json").read_text())
    assert after["n_samples"] == before["n_samples"]
    for mode, values in before["modes"].items():
        for metric, value in values.items():
            assert after["modes"][mode][metric] == pytest.approx(value, rel=1e-3, abs=1e-5)


def test_the_known_truth_study_summarises_its_runs_against_the_truth(workflow):
    """The study target reuses the trained runs (the main signal and the shared-prompt control),
    and writes R per method, the checks with their p-values, the table and the figure."""
    jobs = planned_jobs(workflow, "results/study/known_truth.json")
    assert jobs == {"known_truth": 1}
    snakemake(workflow, "results/study/known_truth.json")
    study = json.loads((workflow / "results" / "study" / "known_truth.json").read_text())
    rows = {(r["method"], r["operator"]): r for r in study["table"]}
    assert rows[("Position prior", "")]["truth_r"] == 0.0
    assert rows[("FixATE TF", "attnlrp")]["seeds"] == 2
    assert ("FixATE TF, shared_prompt", "attnlrp") in rows
    checks = study["checks"]
    assert set(checks) == {
        "recgaze: fixate_tf_beats_backbone_on_truth_kl",
        "recgaze: fixate_tf_beats_user_prior_on_truth_kl",
        "recgaze: identity_positive",
        "recgaze: identity_of_shared_prompt",
    }
    # two users cannot make a paired test significant: no check passes on this data
    assert not any(c.get("passed") for c in checks.values())
    control = checks["recgaze: identity_of_shared_prompt"]
    assert abs(control["mean_delta"]) < 1e-6  # one prompt for everyone: no identity at all
    page = (workflow / "results" / "study" / "known_truth.md").read_text()
    assert page.startswith("# Known-truth study") and "| FixATE TF | attnlrp |" in page
    assert (workflow / "results" / "study" / "known_truth.png").stat().st_size > 10_000


def test_a_trained_run_simulates_new_screens_and_enrolls_held_out_users(workflow):
    """The simulation reuses the trained run (only the new pages and the simulation run); the
    learning curve trains the held-out variant, enrolls its held-out user for each k and scores."""
    jobs = planned_jobs(workflow, "results/simulate/demo")
    assert jobs == {"new_screens": 1, "simulate": 1}
    snakemake(workflow, "results/simulate/demo", "results/enroll/recgaze_attnlrp.json")
    out = workflow / "results" / "simulate" / "demo"
    table = pd.read_parquet(out / "simulated.parquet")
    assert set(table["user_id"]) == {"KInIT_1", "UvA_1", "population"}
    assert set(table["screen_id"]) == {"new-carousel-01", "new-carousel-02"}
    assert (out / "index.html").read_text().count("<img ") == 6
    curve = json.loads((workflow / "results" / "enroll" / "recgaze_attnlrp.json").read_text())
    assert curve["users"] == ["UvA_1"]  # the last user in id order is held out
    assert [p["sessions"] for p in curve["curve"]["truth_kl"]] == [0, 1]
    enrolled = workflow / "results/runs/recgaze/qwen3vl/attnlrp/fixation-holdout/seed1/enrolled"
    assert {p.name for p in enrolled.iterdir()} >= {"k0.safetensors", "k1.json", "k1_test.parquet"}
    assert (workflow / "results" / "enroll" / "recgaze_attnlrp.png").stat().st_size > 10_000
