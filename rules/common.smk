"""Configuration checks and the helpers every rule file uses."""

from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from fixate.data.synthetic.recgaze import recgaze_user_ids
from fixate.workflow import code_digest


validate(config, schema="schemas/config.schema.yaml")

ROOT = Path(workflow.basedir)
RESULTS = "results"


wildcard_constraints:
    user=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",


def library(*parts):
    """Digest of the named library sources, passed as a param so code edits rerun the rule."""
    return code_digest(ROOT, *parts)


def recgaze_raw_dir():
    """The raw RecGaze folder: generated under results/ for the demo, the user's folder otherwise."""
    if config["recgaze"]["source"] == "synthetic":
        return f"{RESULTS}/recgaze/raw"
    return config["recgaze"]["raw_dir"]


def recgaze_raw(name):
    return f"{recgaze_raw_dir()}/{name}"


def recgaze_posters():
    """The poster folder as an input when there is one (it is optional for the released data)."""
    folder = recgaze_raw("posters")
    if config["recgaze"]["source"] == "synthetic" or Path(folder).is_dir():
        return [folder]
    return []


def recgaze_users():
    """User ids known before any job runs, so the per-user fan-out is visible in a dry run."""
    cfg = config["recgaze"]
    if cfg["source"] == "synthetic":
        return recgaze_user_ids(cfg["synthetic"]["n_users"])
    users_csv = Path(recgaze_raw("user_features.csv"))
    if not users_csv.exists():
        raise WorkflowError(
            f"recgaze.raw_dir: {users_csv} not found; point recgaze.raw_dir at the folder holding "
            "summary_feedback.csv, non_public_feedback_dataset.csv, aoi_data.csv, "
            "item_features.csv and user_features.csv"
        )
    return sorted(pd.read_csv(users_csv, usecols=["UserID"], dtype=str)["UserID"].dropna())


def recgaze_outputs():
    """Samples of every user and the preprocessing report."""
    return [
        f"{RESULTS}/recgaze/report.json",
        *expand(f"{RESULTS}/recgaze/samples/{{user}}.parquet", user=recgaze_users()),
    ]
