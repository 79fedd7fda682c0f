"""The AdSERP stages through Snakemake: tiny synthetic data, then the real sample folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from adserp_raw import copy_trials, real_sample
from PIL import Image
from workflow_helpers import edited_config, planned_jobs, scratch_workflow, snakemake

from fixate.data.samples import read_samples

pytestmark = pytest.mark.workflow
TINY = {"adserp": {"synthetic": {"n_users": 2, "trials_per_user": 3, "n_batches": 1}}}
USERS = ["p004", "p005"]
TARGETS = ["results/adserp/report.json", *(f"results/adserp/samples/{u}.parquet" for u in USERS)]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    work = scratch_workflow(tmp_path_factory.mktemp("wf"), TINY)
    snakemake(work, *TARGETS)
    return work


def test_the_demo_plans_one_job_per_stage_and_user(tmp_path):
    work = scratch_workflow(tmp_path, TINY)
    assert planned_jobs(work, *TARGETS) == {
        "adserp_synthetic": 1,
        "adserp_trials": 2,
        "adserp_render": 2,
        "adserp_split": 1,
        "adserp_shard": 2,
    }


def test_run_writes_shards_numbered_images_split_and_a_reconciled_report(workflow):
    results = workflow / "results" / "adserp"
    report = json.loads((results / "report.json").read_text())
    trials = report["trials"]
    assert trials["raw"] == len(list((results / "raw" / "fixation-data").glob("*.csv"))) == 6
    assert trials["raw"] == trials["kept"] + sum(report["dropped_by_reason"].values())
    samples = read_samples(sorted((results / "samples").glob("*.parquet")))
    assert len(samples) == trials["kept"] > 0
    assert sorted(samples["user_id"].unique()) == USERS
    split = json.loads((results / "split.json").read_text())
    assert split["unit"] == "query"
    for row in samples.itertuples():
        assert row.content_id in split[row.split]
    row = samples.iloc[0]
    with Image.open(Path(row["dataset_dir"]) / row["labelled_image_path"]) as image:
        assert image.size == (1280, row["image_height"])
    for user in USERS:
        assert (workflow / "results" / "logs" / "adserp" / "trials" / f"{user}.log").exists()
        assert (workflow / "results" / "benchmarks" / "adserp" / "render" / f"{user}.tsv").exists()


def test_nothing_reruns_without_a_change(workflow):
    assert planned_jobs(workflow, *TARGETS) == {}


def test_a_setting_reruns_its_stage_and_what_follows_only(workflow):
    assert edited_config(workflow, {"adserp": {"split": {"seed": 1}}}, *TARGETS) == {
        "adserp_split": 1,
        "adserp_shard": 2,
    }
    assert edited_config(workflow, {"adserp": {"render": {"jpeg_quality": 80}}}, *TARGETS) == {
        "adserp_render": 2,
        "adserp_shard": 2,
    }
    assert edited_config(
        workflow, {"adserp": {"preprocess": {"decision_end": "click"}}}, *TARGETS
    ) == {
        "adserp_trials": 2,
        "adserp_render": 2,
        "adserp_split": 1,
        "adserp_shard": 2,
    }


def test_a_library_edit_reruns_only_the_stages_that_use_it(workflow):
    split = workflow / "fixate" / "data" / "adserp" / "split.py"
    original = split.read_text()
    try:
        split.write_text(original + "\n# edited\n")
        # the trials and render scripts import it too, through fixate.data.adserp.pipeline
        assert planned_jobs(workflow, *TARGETS) == {
            "adserp_trials": 2,
            "adserp_render": 2,
            "adserp_split": 1,
            "adserp_shard": 2,
        }
    finally:
        split.write_text(original)


def test_pointed_at_a_folder_laid_out_like_the_dataset_it_runs_on_real_data(tmp_path):
    sample = {"adserp": {"source": "raw", "raw_dir": str(real_sample())}}
    assert planned_jobs(
        scratch_workflow(tmp_path / "all", sample), "results/adserp/report.json"
    ) == {
        "adserp_serp_aoi": 1,
        "adserp_trials": 7,
        "adserp_split": 1,
    }
    raw = copy_trials(tmp_path / "data", ("p004-b1-t3", "p007-b3-t8"))  # kept short: 2 users
    work = scratch_workflow(tmp_path / "wf", {"adserp": {"source": "raw", "raw_dir": str(raw)}})
    targets = ["results/adserp/report.json", "results/adserp/samples/p007.parquet"]
    snakemake(work, *targets)
    report = json.loads((work / "results" / "adserp" / "report.json").read_text())
    assert report["trials"] == {"raw": 2, "kept": 1, "dropped": 1}
    assert report["dropped_by_reason"]["no_organic_boxes"] == 1
    samples = read_samples([work / "results" / "adserp" / "samples" / "p007.parquet"])
    assert samples["screen_id"].tolist() == ["p007-b3-t8"]
    assert samples["label"].tolist() == [1]  # the first top text ad, below the carousel


def test_rendered_result_pages_keep_the_organic_click_trials(tmp_path):
    trials = ("p004-b1-t3", "p007-b3-t8")
    raw = copy_trials(tmp_path / "data", trials)
    (raw / "serps").mkdir()
    for trial in trials:
        shutil.copy2(real_sample() / "serps" / f"{trial}.html", raw / "serps")
    work = scratch_workflow(tmp_path / "wf", {"adserp": {"source": "raw", "raw_dir": str(raw)}})
    snakemake(work, "results/adserp/report.json")
    report = json.loads((work / "results" / "adserp" / "report.json").read_text())
    assert report["trials"] == {"raw": 2, "kept": 2, "dropped": 0}
    checked = json.loads((work / "results" / "adserp" / "serp_aoi" / "p004-b1-t3.json").read_text())
    assert checked["check"]["ok"] and checked["check"]["click"]["inside"]
    assert report["serp_checks"]["rendered"] == report["serp_checks"]["passed"] == 2
    assert report["serp_checks"]["max_ad_error_px"] <= 2


def test_bad_adserp_config_is_refused_with_the_key_or_folder_named(tmp_path):
    work = scratch_workflow(tmp_path / "a", {"adserp": {"source": "raw"}})
    result = snakemake(work, "--dry-run", check=False)
    assert result.returncode != 0
    assert "should be non-empty" in result.stdout + result.stderr
    missing = tmp_path / "nowhere"
    work = scratch_workflow(tmp_path / "c", {"adserp": {"source": "raw", "raw_dir": str(missing)}})
    result = snakemake(work, "--dry-run", check=False)
    assert f"adserp.raw_dir: {missing}/fixation-data: folder not found" in (
        result.stdout + result.stderr
    )
