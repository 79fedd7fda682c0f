"""The fault suite: every kind of bad input in tests/fault_cases.yaml, fed to the stage that reads
it, must end as declared: refused with an error that names the damaged file (and where in it), or
finished with the fault in the report and every other result as the clean run's.

Two counts summarise the suite and must be 0: silent changes (a finished run whose results differ
from the clean run's beyond what its report says it dropped, or that does not report the fault)
and errors without their file (a refusal whose message does not name the damaged file or folder,
or a traceback of a type the project does not raise for it). Payloads that would run code when
loaded the unsafe way must never run. The faults that need processes killed are tested where the
processes are made (``elsewhere`` in the table) and are checked to exist.
"""

from __future__ import annotations

import ast
import json
import logging
import pickle
import runpy
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import torch
import yaml
from adserp_raw import write_trial
from faults import EXECUTED, PYTHON_PAYLOAD, TOUCH, YTE_PAYLOAD, Case, Payload, Refused, load_table
from recgaze_raw import Session, write_raw
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config

from fixate.checkpoint import checkpoint_path, restore_checkpoint, save_checkpoint
from fixate.config import check_config
from fixate.data.adserp.pipeline import read_trials, run_split, run_trials, samples_from_trials
from fixate.data.adserp.pipeline import run_render as render_adserp
from fixate.data.adserp.raw import participants_with_trials
from fixate.data.adserp.split import QuerySplit
from fixate.data.recgaze.pipeline import raw_files, run_events, run_screens
from fixate.data.recgaze.pipeline import run_render as render_recgaze
from fixate.data.recgaze.raw import user_ids
from fixate.models import load_backbone
from fixate.models.tiny import materialise
from fixate.prompt import SoftPrompt
from fixate.simulate.screens import read_spec
from fixate.simulate.simulator import TrainedRun
from fixate.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CASES, ELSEWHERE = load_table()
DIGEST = "0123456789ab"  # the configuration digest whose checkpoint the checkpoint area resumes


@dataclass(frozen=True)
class Result:
    """What a stage produced: one row per sample (``key`` names it), its report, and the keys of
    the samples the report lists as dropped."""

    samples: pd.DataFrame
    report: dict
    dropped: frozenset[str] = frozenset()


NOTHING = Result(pd.DataFrame({"key": []}), {})


# ------------------------------------------------------------------ clean inputs, per area
def make_recgaze(folder: Path) -> None:
    """Three sessions that each give a sample (line numbers in the table count on this order)."""
    write_raw(
        folder,
        [
            Session("U1", 2).fix(1, 1).fix(1, 2).click("Movie", 1, 2),
            Session("U2", 3).fix(2, 1).cursor(2, 1, 0.4).click("Movie", 2, 1),
            Session("U3", 13).fix(1, 1).click("Movie", 1, 1),
        ],
    )


def make_adserp(folder: Path) -> None:
    """Three hand-made trials of two participants, each kept: a fixation and the pointer on the
    clicked ad."""
    link = "//*[@id='tads']/div[1]/a"
    mouse = [
        (1000, 0, 0, "load", "/"),
        (1500, 310, 210, "mousemove", "/"),
        (5000, 300, 200, "mousedown", link),
        (5100, 300, 200, "mouseup", link),
        (7000, 300, 200, "click", link),
    ]
    for trial in ("p101-b1-t1", "p101-b1-t2", "p102-b1-t1"):
        fixations = [(2000, 300, 190, 200), (2300, 320, 195, 150)]
        write_trial(folder, trial, mouse, fixations, {"native_ad": [(162, 163, 540, 69)]})


def small_prompt() -> tuple[SoftPrompt, torch.optim.Optimizer]:
    prompt = SoftPrompt(8, ["u1", "u2"], n_basis=2, n_tokens=4)
    return prompt, torch.optim.AdamW(prompt.parameters())


def make_checkpoint(folder: Path) -> None:
    prompt, optimizer = small_prompt()
    save_checkpoint(checkpoint_path(folder, DIGEST), DIGEST, {"epoch": 1}, prompt, optimizer)


def make_run(folder: Path) -> None:
    small_prompt()[0].save(folder / "prompt.safetensors")
    (folder / "metrics.json").write_text(json.dumps({"backbone": "qwen3vl", "config": {}}))
    (folder / "profiles.json").write_text(json.dumps({"u1": "likes drama", "u2": "likes film"}))


def make_model(folder: Path) -> None:
    materialise("tiny-qwen3vl", folder)


SPEC = {
    "screens": [
        {
            "id": f"page-{n}",
            "image": f"page-{n}.png",
            "slots": [
                {"label": "A", "box": [10, 10, 110, 90]},
                {"label": "B", "box": [290, 10, 390, 90]},
            ],
        }
        for n in (1, 2)
    ]
}


def make_screens(folder: Path) -> None:
    from PIL import Image

    for n in (1, 2):
        Image.new("RGB", (400, 200), "grey").save(folder / f"page-{n}.png")
    (folder / "screens.yaml").write_text(yaml.safe_dump(SPEC))


# ------------------------------------------------------------------------- stages, per area
def keyed(samples: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    key = samples[columns].astype(str).agg("/".join, axis=1) if len(samples) else []
    return samples.assign(key=key)


def stage_recgaze(folder: Path, case: Case, out: Path) -> Result:
    """The events and screens stages (and U1's render for poster faults); while planning, what
    the workflow reads then."""
    raw = raw_files(folder)
    if case.stage == "plan":
        user_ids(raw["users"])
        return NOTHING
    run_events(raw["summary"], raw["non_public"], raw["aoi"], out / "ev.parquet", out / "ev.json")
    outputs = [out / name for name in ("screens.parquet", "split.json", "report.json")]
    report = run_screens(
        out / "ev.parquet", out / "ev.json", raw["aoi"], raw["items"], raw["users"], *outputs
    )
    if case.stage == "render":
        render_recgaze(
            outputs[0], raw["aoi"], raw["items"], raw["posters"], "U1", out, out / "U1.json"
        )
    screens = keyed(pd.read_parquet(outputs[0]), ["user_id", "task_id", "subject_id"])
    dropped = {
        f"{d['user_id']}/{d['task_id']}/{d['subject_id']}" for d in report["dropped_sessions"]
    }
    return Result(screens, report, frozenset(dropped))


def stage_adserp(folder: Path, case: Case, out: Path) -> Result:
    """The trials and split stages of every participant the workflow lists (and p101's render for
    screenshot faults), and the samples the shards would hold."""
    users = participants_with_trials(folder)
    if case.stage == "plan":
        return NOTHING
    tables = [out / f"{user}.parquet" for user in users]
    for user, table in zip(users, tables, strict=True):
        run_trials(folder, user, table)
    report = run_split(tables, folder, out / "split.json", out / "report.json")
    if case.stage == "render":
        render_adserp(out / "p101.parquet", folder, "p101", out, out / "p101.json")
    trials = read_trials(tables)
    split = QuerySplit.from_dict(json.loads((out / "split.json").read_text())).mapping()
    samples = pd.concat([samples_from_trials(trials, split, user) for user in users])
    dropped = {d["trial_id"] for d in report["dropped_trials"]}
    return Result(keyed(samples, ["screen_id"]), report, frozenset(dropped))


def stage_config(folder: Path, case: Case, out: Path) -> Result:
    """config.yaml with the case's file over it, read by Snakemake's loader and checked as the
    workflow starts (rules/common.smk)."""
    files = [ROOT / "config.yaml", folder / case.target]
    config = load_configfile(files[0])
    update_config(config, load_configfile(files[1]))
    schema = ROOT / "rules" / "schemas" / "config.schema.yaml"
    check_config(config, schema, files)
    return NOTHING


def stage_checkpoint(folder: Path, case: Case, out: Path) -> Result:
    """A training run resuming its checkpoint (``restore_checkpoint`` refuses old pickles first)."""
    prompt, optimizer = small_prompt()
    restore_checkpoint(checkpoint_path(folder, DIGEST), DIGEST, prompt, optimizer)
    return NOTHING


def stage_run(folder: Path, case: Case, out: Path) -> Result:
    """A finished run opened as a simulator (``python -m fixate simulate``, enrollment)."""
    TrainedRun.load(folder)
    return NOTHING


@contextmanager
def captured_log() -> Iterator[list[str]]:
    """The messages the library logs in the block."""
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("fixate")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def stage_model(folder: Path, case: Case, out: Path) -> Result:
    """The folder loaded as a backbone by a user who answers yes to any question (transformers
    asks in a terminal whether to run a folder's code); the samples are its weights, the report
    what it logged."""
    kind = case.options.get("kind", "qwen3vl")
    with captured_log() as log, mock.patch("builtins.input", return_value="y"):
        backbone = load_backbone(folder, kind, "cpu", case.options.get("trust_remote_code", False))
    weights = backbone.model.state_dict()
    sums = [float(value.double().sum()) for value in weights.values()]
    return Result(pd.DataFrame({"key": list(weights), "sum": sums}), {"log": log})


def stage_screens(folder: Path, case: Case, out: Path) -> Result:
    """The spec read for ``simulate`` (every screen checked, labels drawn)."""
    screens = read_spec(folder / "screens.yaml")
    boxes = [screen.slot_boxes.tolist() for screen in screens]
    return Result(pd.DataFrame({"key": [s.screen_id for s in screens], "boxes": boxes}), {})


Area = tuple[Callable[[Path], None], Callable[[Path, Case, Path], Result]]
AREAS: dict[str, Area] = {
    "recgaze": (make_recgaze, stage_recgaze),
    "adserp": (make_adserp, stage_adserp),
    "config": (lambda folder: None, stage_config),
    "checkpoint": (make_checkpoint, stage_checkpoint),
    "run": (make_run, stage_run),
    "model": (make_model, stage_model),
    "screens": (make_screens, stage_screens),
}


# --------------------------------------------------------------------------------- judging
@dataclass(frozen=True)
class Outcome:
    """How a case ended: ``kind`` is "ok", "silent change", "error without its file",
    "code ran", or "other" (a wrong outcome of another sort); ``problem`` says what went wrong."""

    case: Case
    kind: str
    problem: str = ""


class Inputs:
    """Clean input folders and clean results per area, made once and copied for each case."""

    def __init__(self, root: Path):
        self.root = root
        self.clean: dict[str, Result] = {}

    def fresh(self, area: str, work: Path) -> Path:
        template = self.root / area / f"{area}-input"
        if not template.exists():
            template.mkdir(parents=True)
            AREAS[area][0](template)
        folder = work / template.name
        shutil.copytree(template, folder)
        return folder

    def clean_result(self, area: str, case: Case) -> Result:
        if area not in self.clean:
            work = self.root / area / "clean"
            work.mkdir()
            clean_case = Case("clean", area, "", lambda path: None, case.expect)
            self.clean[area] = AREAS[area][1](self.fresh(area, work), clean_case, work)
        return self.clean[area]


def error_outcome(case: Case, err: Exception, target: Path) -> Outcome:
    expect = case.expect
    message = str(err)
    if not isinstance(expect, Refused):
        return Outcome(case, "other", f"stopped although it should finish: {err!r}")
    if not isinstance(err, expect.error):
        return Outcome(case, "error without its file", f"{type(err).__name__}: {message}")
    if target.name not in message and not expect.upstream:
        return Outcome(case, "error without its file", f"{target.name} not named in: {message}")
    if expect.where not in message:
        return Outcome(case, "other", f"{expect.where!r} not in: {message}")
    return Outcome(case, "ok")


def reported_value(report: dict, key: tuple[str, ...]) -> object:
    for part in key:
        report = report.get(part, {}) if isinstance(report, dict) else {}
    return report


def result_outcome(case: Case, result: Result, clean: Result) -> Outcome:
    expect = case.expect
    if isinstance(expect, Refused):
        return Outcome(case, "other", f"finished although it should stop ({expect.where!r})")
    found = reported_value(result.report, expect.key)
    reported = found == expect.value or (
        isinstance(expect.value, str) and expect.value in str(found)
    )
    if not reported:
        return Outcome(
            case, "silent change", f"report {expect.key} is {found!r}, not {expect.value!r}"
        )
    lost = set(clean.samples["key"]) - set(result.samples["key"])
    if lost != result.dropped:
        return Outcome(
            case, "silent change", f"lost {sorted(lost)}, reported {sorted(result.dropped)}"
        )
    kept = clean.samples[~clean.samples["key"].isin(lost)]
    if as_records(result.samples) != as_records(kept):
        return Outcome(case, "silent change", "the kept results differ from the clean run's")
    return Outcome(case, "ok")


def as_records(samples: pd.DataFrame) -> str:
    return samples.sort_values("key").reset_index(drop=True).to_json(orient="records")


OUTCOMES: dict[str, Outcome] = {}


def outcome_of(case: Case, inputs: Inputs) -> Outcome:
    """Damage a fresh copy of the area's input, run the area's stage and judge the end (each case
    once per session)."""
    if case.name in OUTCOMES:
        return OUTCOMES[case.name]
    work = inputs.root / "cases" / str(CASES.index(case))
    work.mkdir(parents=True)
    folder = inputs.fresh(case.area, work)
    target = folder / case.target
    case.damage(target)
    try:
        result = AREAS[case.area][1](folder, case, work)
    except Exception as err:  # judged: the point of the suite is what the error says
        outcome = error_outcome(case, err, target)
    else:
        outcome = result_outcome(case, result, inputs.clean_result(case.area, case))
    if any(folder.rglob(EXECUTED)):
        outcome = Outcome(case, "code ran", "a payload in the damaged input was executed")
    OUTCOMES[case.name] = outcome
    return outcome


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    return Inputs(tmp_path_factory.mktemp("faults"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_fault_ends_as_the_table_declares(case, inputs):
    outcome = outcome_of(case, inputs)
    assert outcome.kind == "ok", f"{outcome.kind}: {outcome.problem}"


def test_no_silent_change_and_no_error_without_its_file(inputs):
    outcomes = [outcome_of(case, inputs) for case in CASES]
    counts = {kind: [o.case.name for o in outcomes if o.kind == kind] for kind in KINDS}
    assert len({case.name for case in CASES}) + len(ELSEWHERE) >= 40  # kinds of fault
    assert counts == {kind: [] for kind in KINDS}, counts
    upstream = [case.name for case in CASES if getattr(case.expect, "upstream", "")]
    assert upstream == ["config: a Python object tag"]  # the one refusal that names no file


KINDS = ("silent change", "error without its file", "code ran", "other")


def test_every_fault_tested_elsewhere_is_there():
    for name, node in ELSEWHERE.items():
        file, function = node.split("::")
        tree = ast.parse((ROOT / "tests" / file).read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert function in defined, f"{name}: {node} is gone"


def test_the_payloads_would_run_if_loaded_the_unsafe_way(tmp_path):
    """What the suite's 'never run' checks rest on: each payload is live."""
    marker = tmp_path / EXECUTED
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()
    marker.unlink()
    yaml.unsafe_load(TOUCH.format(marker))
    assert marker.exists()
    marker.unlink()
    (tmp_path / "modeling_fault.py").write_text(PYTHON_PAYLOAD.format(str(marker)))
    runpy.run_path(str(tmp_path / "modeling_fault.py"))
    assert marker.exists()


def test_a_misspelt_probe_option_stops_a_run_before_its_model_loads():
    """Outside the workflow too (``fixate.train.run``, a run opened by ``simulate``)."""
    with pytest.raises(ValueError, match=r"operator 'rollout' takes no option \['upcast'\]"):
        TrainConfig.from_dict({"probe": {"operator": "rollout", "options": {"upcast": True}}})


def test_a_config_file_that_opts_into_yte_runs_python(tmp_path):
    """Snakemake reads config files (config.yaml and every --configfile) through YTE: a file with
    ``__use_yte__: true`` evaluates its ``?`` values as Python. A config file from someone else is
    code, like the Snakefile (README, "Extending")."""
    marker = tmp_path / EXECUTED
    (tmp_path / "more.yaml").write_text(YTE_PAYLOAD.format(marker))
    load_configfile(tmp_path / "more.yaml")
    assert marker.exists()
