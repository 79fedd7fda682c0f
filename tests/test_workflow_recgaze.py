"""The RecGaze stages through Snakemake on tiny synthetic data, and what reruns after a change."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from recgaze_raw import Session, write_raw
from workflow_helpers import edited_config, planned_jobs, scratch_workflow, snakemake

from fixate.data.samples import read_samples

pytestmark = pytest.mark.workflow
TINY = {"recgaze": {"synthetic": {"n_users": 3, "posters": False}}}
USERS = ["KInIT_1", "KInIT_2", "UvA_1"]
TARGETS = ["results/recgaze/report.json", *(f"results/recgaze/samples/{u}.parquet" for u in USERS)]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    work = scratch_workflow(tmp_path_factory.mktemp("wf"), TINY)
    snakemake(work, *TARGETS)
    return work


def test_default_config_plans_the_demo(tmp_path):
    work = scratch_workflow(tmp_path)
    jobs = planned_jobs(work)
    assert jobs == {
        "all": 1,
        "recgaze_synthetic": 1,
        "recgaze_events": 1,
        "recgaze_screens": 1,
        "recgaze_render": 12,
        "recgaze_shard": 12,
        "adserp_synthetic": 1,
        "adserp_trials": 6,
        "adserp_render": 6,
        "adserp_split": 1,
        "adserp_shard": 6,
        "model_tiny": 1,
        "train": 4,  # 2 datasets x 2 seeds
        "aggregate": 2,
        "tables": 2,
        "plot_metrics": 2,
        "plot_training": 2,
        "plot_screens": 2,
    }


def test_run_writes_shards_images_split_and_a_reconciled_report(workflow):
    results = workflow / "results" / "recgaze"
    report = json.loads((results / "report.json").read_text())
    sessions = report["sessions"]
    assert sessions["raw"] == sessions["kept"] + sum(report["dropped_by_reason"].values())
    raw = pd.read_csv(results / "raw" / "summary_feedback.csv", usecols=["UserID", "TaskID"])
    assert sessions["raw"] == len(raw.drop_duplicates())
    samples = read_samples(sorted((results / "samples").glob("*.parquet")))
    assert sorted(samples["user_id"].unique()) == USERS
    assert len(samples) == sessions["kept"] > 0
    assert set(samples["split"]) == {"train", "val", "test"}
    row = samples.iloc[0]
    with Image.open(Path(row["dataset_dir"]) / row["labelled_image_path"]) as image:
        assert image.size == (1920, 1080)
    split = json.loads((results / "split.json").read_text())
    assert split["test"] == [1, 4, 9, 21, 24, 32]
    for user in USERS:
        assert (workflow / "results" / "logs" / "recgaze" / "render" / f"{user}.log").exists()
        assert (workflow / "results" / "benchmarks" / "recgaze" / "render" / f"{user}.tsv").exists()


def test_nothing_reruns_without_a_change(workflow):
    assert planned_jobs(workflow, *TARGETS) == {}


def test_a_setting_reruns_its_stage_and_what_follows_only(workflow):
    assert edited_config(workflow, {"recgaze": {"render": {"jpeg_quality": 80}}}, *TARGETS) == {
        "recgaze_render": 3,
        "recgaze_shard": 3,
    }
    assert edited_config(
        workflow, {"recgaze": {"preprocess": {"visit_scroll_px": 25}}}, *TARGETS
    ) == {
        "recgaze_events": 1,
        "recgaze_screens": 1,
        "recgaze_render": 3,
        "recgaze_shard": 3,
    }
    assert (
        edited_config(workflow, {"recgaze": {"synthetic": {"seed": 8}}}, *TARGETS)[
            "recgaze_synthetic"
        ]
        == 1
    )


def test_a_library_edit_reruns_only_the_stages_that_use_it(workflow):
    render = workflow / "fixate" / "data" / "recgaze" / "render.py"
    original = render.read_text()
    try:
        render.write_text(original + "\n# edited\n")
        # the events and screens scripts import it too, through fixate.data.recgaze.pipeline
        assert planned_jobs(workflow, *TARGETS) == {
            "recgaze_events": 1,
            "recgaze_screens": 1,
            "recgaze_render": 3,
            "recgaze_shard": 3,
        }
    finally:
        render.write_text(original)
    split = workflow / "fixate" / "data" / "recgaze" / "split.py"
    original = split.read_text()
    try:
        split.write_text(original + "\n# edited\n")
        assert planned_jobs(workflow, *TARGETS) == {
            "recgaze_events": 1,
            "recgaze_screens": 1,
            "recgaze_render": 3,
            "recgaze_shard": 3,
        }
    finally:
        split.write_text(original)
    unrelated = workflow / "fixate" / "data" / "adserp" / "serp_check.py"
    original = unrelated.read_text()
    try:
        unrelated.write_text(original + "\n# edited\n")
        assert planned_jobs(workflow, *TARGETS) == {}
    finally:
        unrelated.write_text(original)


def test_settings_are_changed_with_a_configfile_as_the_readme_shows(tmp_path):
    """A nested --config value arrives as text and is refused; the README's --configfile is
    merged into the checked configuration (an out-of-range value in it is refused, a valid one
    plans the run)."""
    work = scratch_workflow(tmp_path)
    target = "results/recgaze_attnlrp.json"
    refused = snakemake(work, "--dry-run", target, "--config", "train={'epochs': 12}", check=False)
    assert "'12' is not of type 'integer'" in refused.stdout + refused.stderr
    (work / "no_epochs.yaml").write_text("train:\n  epochs: 0\n")
    checked = snakemake(work, "--dry-run", target, "--configfile", "no_epochs.yaml", check=False)
    assert "0 is less than the minimum of 1" in checked.stdout + checked.stderr
    (work / "more_epochs.yaml").write_text("train:\n  epochs: 12\n")
    assert planned_jobs(work, target, "--configfile", "more_epochs.yaml")["train"] == 2


def test_bad_config_is_refused_with_the_key_named(tmp_path):
    work = scratch_workflow(tmp_path, {"recgaze": {"synthetic": {"n_users": "twelve"}}})
    result = snakemake(work, "--dry-run", check=False)
    assert result.returncode != 0
    assert "'twelve' is not of type 'integer'" in result.stdout + result.stderr
    work2 = scratch_workflow(tmp_path / "b", {"recgaze": {"sourse": "raw"}})
    result = snakemake(work2, "--dry-run", check=False)
    assert "Additional properties are not allowed ('sourse' was unexpected)" in (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda text: text.replace("UserID", "User_ID", 1),
            ", line 1: missing column(s) 'UserID' (found 'User_ID': renamed?)",
        ),
        (lambda text: text.splitlines(keepends=True)[0], ": no data rows"),
    ],
)
def test_a_broken_user_table_is_named_while_the_jobs_are_planned(tmp_path, edit, message):
    raw = write_raw(tmp_path / "raw", [Session("U1", 2).fix(1, 1).click("Movie", 1, 1)])
    users = raw / "user_features.csv"
    users.write_text(edit(users.read_text()))
    work = scratch_workflow(tmp_path / "wf", {"recgaze": {"source": "raw", "raw_dir": str(raw)}})
    result = snakemake(work, "--dry-run", check=False)
    assert result.returncode != 0
    assert f"recgaze.raw_dir: {users}{message}" in result.stdout + result.stderr


def test_raw_dir_may_end_in_a_slash_start_with_a_tilde_or_be_relative(tmp_path, monkeypatch):
    """Each spelling of the same raw folder plans the same jobs (a trailing slash used to give
    `...//user_features.csv`, which Snakemake reported missing)."""
    session = Session("UvA_1", 2).fix(3, 2, 300, scroll=500).click("Movie", 3, 2)
    raw = write_raw(tmp_path / "home" / "recgaze", [session])
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = scratch_workflow(tmp_path / "wf")
    target = "results/recgaze/samples/UvA_1.parquet"
    plans = {
        spelling: edited_config(work, {"recgaze": {"source": "raw", "raw_dir": spelling}}, target)
        for spelling in (str(raw), f"{raw}/", "~/recgaze/", "../home/./recgaze/")
    }
    assert plans[str(raw)]["recgaze_shard"] == 1
    assert all(plan == plans[str(raw)] for plan in plans.values()), plans
