"""Configuration checks and the helpers every rule file uses."""

import os
from pathlib import Path


from fixate.data.adserp.raw import ORGANIC_FOLDER as ADSERP_ORGANIC_FOLDER
from fixate.data.adserp.raw import TRIAL_FOLDERS as ADSERP_TRIAL_FOLDERS
from fixate.data.adserp.instruction import INSTRUCTION as ADSERP_INSTRUCTION
from fixate.data.adserp.instruction import MAX_IMAGE_WIDTH as ADSERP_MAX_IMAGE_WIDTH
from fixate.data.adserp.instruction import MAX_TILES as ADSERP_MAX_TILES
from fixate.data.adserp.raw import participants_with_trials
from fixate.data.adserp.truth import TRUTH_FILE as ADSERP_TRUTH_FILE
from fixate.data.adserp.truth import TRUTH_INFO as ADSERP_TRUTH_INFO
from fixate.data.errors import RawDataError
from fixate.data.recgaze.raw import user_ids as recgaze_raw_user_ids
from fixate.data.synthetic.adserp.design import adserp_user_ids
from fixate.data.synthetic.recgaze.design import recgaze_user_ids
from fixate.config import check_config
from fixate.names import BACKBONES, DATASETS, OPERATORS, alternatives
from fixate.workflow import code_digest
from fixate.data.samples import held_out_users
from fixate.simulate.new_screens import SPEC_NAME as NEW_SCREENS_SPEC

ROOT = Path(workflow.basedir)
# the schema's defaults are filled in; a violation names the configuration files and the key
check_config(config, ROOT / "rules" / "schemas" / "config.schema.yaml", [*workflow.configfiles])

# One spelling of each raw folder: `~` expanded, a trailing slash and `.` parts dropped, so the
# inputs built from it name the files (`data/` gave `data//user_features.csv`, which Snakemake
# reports missing). A relative folder stays relative to the working directory.
for _dataset in ("recgaze", "adserp"):
    if config[_dataset].get("raw_dir"):
        config[_dataset]["raw_dir"] = os.path.normpath(
            os.path.expanduser(config[_dataset]["raw_dir"])
        )

RESULTS = "results"


wildcard_constraints:
    user=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",
    dataset=alternatives(DATASETS),


def script_path(step):
    """A rule's script relative to the workflow folder (`script:` is relative to its rule file)."""
    folder = Path(step.basedir.get_path_or_uri(secret_free=True))
    return Path(os.path.normpath(folder / step.script)).relative_to(ROOT)


def derive_code_digests():
    """Add a `code` param to each scripted rule, the digest of the library modules that its
    script imports, transitively (`fixate.workflow.code_digest`). Snakemake sees only the script
    file, so without it a library edit would rerun nothing; derived from the imports, the list of
    modules cannot drift from the code. Called once, after the last rule is defined."""
    for step in workflow.rules:
        if step.script:
            step.set_params(code=code_digest(ROOT, script_path(step)))


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


def recgaze_truth():
    """The planted gaze truth as an input when the data is synthetic (released data has none)."""
    return (
        [recgaze_raw("truth/gaze_truth.csv")] if config["recgaze"]["source"] == "synthetic" else []
    )


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
    try:
        return recgaze_raw_user_ids(users_csv)
    except RawDataError as err:
        raise WorkflowError(f"recgaze.raw_dir: {err}") from err


def recgaze_outputs():
    """Samples of every user and the preprocessing report."""
    return [
        f"{RESULTS}/recgaze/report.json",
        *expand(f"{RESULTS}/recgaze/samples/{{user}}.parquet", user=recgaze_users()),
    ]


def adserp_raw_dir():
    """The AdSERP data/ folder: generated under results/ for the demo, the user's folder otherwise."""
    if config["adserp"]["source"] == "synthetic":
        return f"{RESULTS}/adserp/raw"
    return config["adserp"]["raw_dir"]


def adserp_truth():
    """The planted gaze truth as an input of the shards: synthetic users only."""
    return [adserp_raw(ADSERP_TRUTH_FILE)] if config["adserp"]["source"] == "synthetic" else []


def adserp_raw(role):
    """A per-trial folder of the data/ folder by role (fixations, mouse, ads, metadata,
    screenshot), or a file by name."""
    name = ADSERP_TRIAL_FOLDERS[role][0] if role in ADSERP_TRIAL_FOLDERS else role
    return f"{adserp_raw_dir()}/{name}"


def adserp_organic():
    """organic-aoi-data/ as an input when there is one (AdSERP has none; users may add it)."""
    folder = adserp_raw(ADSERP_ORGANIC_FOLDER)
    if config["adserp"]["source"] == "synthetic" or Path(folder).is_dir():
        return [folder]
    return []


def adserp_trials():
    """Trials whose saved result page (serps/<trial>.html) can be rendered for organic boxes."""
    if config["adserp"]["source"] == "synthetic" or not config["adserp"].get("render_serps", True):
        return []
    return sorted(p.stem for p in Path(adserp_raw("serps")).glob("*.html"))


def adserp_serp_aoi():
    """The rendered SERP boxes as an input of the trial stage (empty when nothing is rendered)."""
    return expand(f"{RESULTS}/adserp/serp_aoi/{{trial}}.json", trial=adserp_trials())


def adserp_users():
    """Participant ids known before any job runs (from the trial file names for real data), so
    the per-user fan-out is visible in a dry run."""
    cfg = config["adserp"]
    if cfg["source"] == "synthetic":
        return adserp_user_ids(cfg["synthetic"]["n_users"])
    try:
        users = participants_with_trials(cfg["raw_dir"])
    except RawDataError as err:
        raise WorkflowError(f"adserp.raw_dir: {err}") from err
    if not users:
        raise WorkflowError("adserp.raw_dir: no trial files (p<id>-b<block>-t<trial>.*) found")
    return users


def adserp_outputs():
    """Samples of every user and the preprocessing report."""
    return [
        f"{RESULTS}/adserp/report.json",
        *expand(f"{RESULTS}/adserp/samples/{{user}}.parquet", user=adserp_users()),
    ]


TINY_MODELS = tuple(f"tiny-{kind}" for kind in BACKBONES)
# tiny models trained by the workflow to see the synthetic screens (rule model_seeing)
WORKFLOW_MODELS = (*TINY_MODELS, *(f"{name}-seeing" for name in TINY_MODELS))


def model_dir(backbone):
    """The checkpoint folder of a backbone kind: made under results/ for the workflow's models."""
    name = config["backbones"][backbone]["model"]
    if name in WORKFLOW_MODELS:
        return f"{RESULTS}/models/{name}"
    if not Path(name, "config.json").exists():
        raise WorkflowError(
            f"backbones.{backbone}.model: {name} is neither a model the workflow makes "
            f"({', '.join(WORKFLOW_MODELS)}) nor a local checkpoint folder with a config.json"
        )
    return name


def variants():
    """Run variants: each signal, and each configured ablation of each signal."""
    exp = config["experiment"]
    unknown = set(exp.get("ablations", [])) - set(config.get("ablations", {}))
    if unknown:
        raise WorkflowError(f"experiment.ablations names unknown ablations: {sorted(unknown)}")
    return [
        f"{s}-{a}" if a else s for s in exp["signals"] for a in [None, *exp.get("ablations", [])]
    ]


def train_settings(variant):
    """The train section with the variant's signal and ablation applied."""
    signal, _, ablation = variant.partition("-")
    settings = {**config.get("train", {}), "signal": signal}
    if ablation:
        settings.update(config["ablations"][ablation])
    return settings


def dataset_shards(dataset):
    users = {"recgaze": recgaze_users, "adserp": adserp_users}[dataset]()
    return expand(f"{RESULTS}/{dataset}/samples/{{user}}.parquet", user=users)


# What the model is asked, per dataset, when it is not RecGaze's (the backbones' default); each
# dataset's text lives in its data package.
INSTRUCTIONS = {"adserp": ADSERP_INSTRUCTION}
# How the backbone sees a dataset's screens where it is not the default (1,100 pixels wide, the
# processor's own tile cap): each dataset's values live in its data package.
SCREEN_FIT = {"adserp": {"max_image_width": ADSERP_MAX_IMAGE_WIDTH, "max_tiles": ADSERP_MAX_TILES}}


def run_dir(dataset, backbone, operator, variant, seed):
    return f"{RESULTS}/runs/{dataset}/{backbone}/{operator}/{variant}/seed{seed}"


def experiment_outputs():
    """The aggregate result of every configured (dataset, operator)."""
    exp = config["experiment"]
    return expand(
        f"{RESULTS}/{{dataset}}_{{operator}}.json",
        dataset=exp["datasets"],
        operator=exp["operators"],
    )


def aggregates_of(dataset):
    return expand(
        f"{RESULTS}/{dataset}_{{operator}}.json", operator=config["experiment"]["operators"]
    )


def main_run(dataset, backbone, operator, seed=None):
    """The first seed's run of the main variant (the first signal, no ablation)."""
    exp = config["experiment"]
    return run_dir(dataset, backbone, operator, exp["signals"][0], seed or exp["seeds"][0])


def study_runs():
    """metrics.json of every run of the known-truth study: each operator and seed on each dataset
    (the main signal), and the control ablation of the main operator."""
    study = config["study"]
    if study["control"] not in config.get("ablations", {}):
        raise WorkflowError(f"study.control names an unknown ablation: {study['control']}")
    runs = [
        (dataset, operator, "fixation", seed)
        for dataset in study["datasets"]
        for operator in study["operators"]
        for seed in study["seeds"]
    ]
    runs += [
        (dataset, study["main_operator"], f"fixation-{study['control']}", seed)
        for dataset in study["datasets"]
        for seed in study["seeds"]
    ]
    return [
        f"{run_dir(dataset, study['backbone'], operator, variant, seed)}/metrics.json"
        for dataset, operator, variant, seed in runs
    ]


def table_outputs(dataset):
    names = [dataset] + ([f"{dataset}_ablations"] if config["experiment"].get("ablations") else [])
    return [f"{RESULTS}/tables/{n}.{ext}" for n in names for ext in ("csv", "md")]


def report_outputs():
    exp = config["experiment"]
    outputs = []
    for dataset in exp["datasets"]:
        outputs += table_outputs(dataset)
        outputs.append(f"{RESULTS}/plots/{dataset}_metrics.png")
        outputs += expand(
            f"{RESULTS}/plots/{dataset}_{{backbone}}_{{operator}}_{{kind}}.png",
            backbone=exp["backbones"],
            operator=exp["operators"],
            kind=["training", "screens"],
        )
    return outputs


# Simulating users and enrolling them (rules/simulate.smk)
NEW_SCREENS = f"{RESULTS}/screens/new_carousels"


def simulation(name):
    """The `simulate:` entry ``name``, with its run's folder and its screens' path."""
    if name not in config.get("simulate", {}):
        raise WorkflowError(f"simulate.{name} is not configured (config.yaml, simulate:)")
    entry = config["simulate"][name]
    run = entry["run"]
    folder = run_dir(run["dataset"], run["backbone"], run["operator"], run["variant"], run["seed"])
    screens = f"{NEW_SCREENS}/{NEW_SCREENS_SPEC}" if entry["screens"] == "new" else entry["screens"]
    return {**entry, "run_dir": folder, "screens_path": screens, "backbone": run["backbone"]}


def run_files(folder):
    return [f"{folder}/{name}" for name in ("metrics.json", "prompt.safetensors", "profiles.json")]


def enrolled_users(dataset, variant):
    """The users a variant's run leaves out of training, to be enrolled (`held_out_users`)."""
    users = {"recgaze": recgaze_users, "adserp": adserp_users}[dataset]()
    return held_out_users(users, train_settings(variant).get("holdout_users", 0))


def curve_inputs(dataset, operator):
    """Every enrolled scoring of the learning curve: each seed's held-out run, each k."""
    cfg = config["enroll"]
    variant = f"fixation-{cfg['ablation']}"
    if cfg["ablation"] not in config.get("ablations", {}):
        raise WorkflowError(f"enroll.ablation names an unknown ablation: {cfg['ablation']}")
    return [
        f"{run_dir(dataset, cfg['backbone'], operator, variant, seed)}/enrolled/k{k}_test.parquet"
        for seed in cfg["seeds"]
        for k in cfg["sessions"]
    ]


ENROLL_RUN = f"{RESULTS}/runs/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}"
