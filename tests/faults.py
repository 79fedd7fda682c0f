"""The fault table (tests/fault_cases.yaml) read into cases, and the damages it names.

A damage edits one target path in place, the way a file goes wrong in practice: a spreadsheet
re-saving text as Latin-1, an export repeating or reordering rows, a copy cut short, a renamed
column, a payload that runs code when loaded the unsafe way. Code payloads would create a file
named ``EXECUTED`` beside their target if they ever ran.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file
from snakemake_interface_common.exceptions import WorkflowError

from fixate.checkpoint import CheckpointError
from fixate.data.errors import RawDataError
from fixate.models import ModelFolderError
from fixate.simulate.screens import ScreenSpecError

TABLE = Path(__file__).with_name("fault_cases.yaml")
EXECUTED = "EXECUTED"
ERRORS = {
    error.__name__: error
    for error in (
        RawDataError,
        CheckpointError,
        ModelFolderError,
        ScreenSpecError,
        WorkflowError,
        ValueError,
    )
}
Damage = Callable[[Path], None]


@dataclass(frozen=True)
class Refused:
    """The run stops with ``error`` naming the target and holding ``where``; ``upstream``
    explains a refusal by another program whose message cannot name the target."""

    where: str
    error: type[BaseException]
    upstream: str = ""


@dataclass(frozen=True)
class Reported:
    """The run finishes with ``value`` under ``key`` in its report (a string: within it), and
    every result equals the clean run's except the samples the report lists as dropped."""

    key: tuple[str, ...]
    value: object


@dataclass(frozen=True)
class Case:
    """One kind of fault: ``damage`` applied to ``target`` of the area's clean folder."""

    name: str
    area: str
    target: str
    damage: Damage
    expect: Refused | Reported
    stage: str = ""
    options: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- lines, cells, bytes
def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def header_only(path: Path) -> None:
    path.write_text(lines_of(path)[0])


def rename_column(column: str) -> Damage:
    def damage(path: Path) -> None:
        lines = lines_of(path)
        path.write_text(lines[0].replace(column, column.lower() + "_x", 1) + "".join(lines[1:]))

    return damage


def repeat_line(line: int) -> Damage:
    """Line ``line`` (the header is line 1) written twice."""

    def damage(path: Path) -> None:
        lines = lines_of(path)
        path.write_text("".join([*lines[:line], lines[line - 1], *lines[line:]]))

    return damage


def reverse_rows(path: Path) -> None:
    lines = lines_of(path)
    path.write_text("".join([lines[0], *reversed(lines[1:])]))


def edit_table(path: Path, edit: Callable[[pd.DataFrame], None]) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(path, index=False)


def add_column(name: str, value: str) -> Damage:
    def edit(frame: pd.DataFrame) -> None:
        frame[name] = value

    return lambda path: edit_table(path, edit)


def set_column(column: str, value: str) -> Damage:
    """Every row's ``column`` set to ``value``."""
    return add_column(column, value)


def set_cell(line: int, column: str, value: str) -> Damage:
    def edit(frame: pd.DataFrame) -> None:
        frame.loc[line - 2, column] = value

    return lambda path: edit_table(path, edit)


def latin1(line: int, column: str) -> Damage:
    """The cell's text re-saved as Latin-1, as a spreadsheet might, the rest kept."""

    def damage(path: Path) -> None:
        set_cell(line, column, "Amélie")(path)
        path.write_bytes(path.read_bytes().replace("é".encode(), "é".encode("latin-1")))

    return damage


def replace(old: str, new: str) -> Damage:
    def damage(path: Path) -> None:
        text = path.read_text()
        assert old in text, f"{old!r} is not in {path}"
        path.write_text(text.replace(old, new))

    return damage


def replace_bytes(old: str, new: str) -> Damage:
    """``replace`` on the bytes, the texts given as Latin-1 (to write bytes that are not UTF-8)."""

    def damage(path: Path) -> None:
        data = path.read_bytes()
        assert old.encode("latin-1") in data, f"{old!r} is not in {path}"
        path.write_bytes(data.replace(old.encode("latin-1"), new.encode("latin-1")))

    return damage


def replace_in(name: str, old: str, new: str) -> Damage:
    """``replace`` in the file ``name`` of a folder (for faults that the folder must be named
    for: the run as a whole, not one file)."""
    return lambda folder: replace(old, new)(folder / name)


def drop_lines_with(text: str) -> Damage:
    return lambda path: path.write_text("".join(x for x in lines_of(path) if text not in x))


def cut_end(n_bytes: int) -> Damage:
    return lambda path: path.write_bytes(path.read_bytes()[:-n_bytes])


def write(text: str) -> Damage:
    def damage(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return damage


def write_latin1(text: str) -> Damage:
    return lambda path: path.write_bytes(text.encode("latin-1"))


def delete(path: Path) -> None:
    path.unlink()


def remove_folder(path: Path) -> None:
    shutil.rmtree(path)


def folder_in_place(path: Path) -> None:
    path.unlink()
    path.mkdir()


# -------------------------------------------------------------------------------- images
def new_image(width: int, height: int) -> Damage:
    def damage(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (width, height), "orange").save(path)

    return damage


def truncated_image(path: Path) -> None:
    if not path.exists():
        new_image(342, 193)(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ----------------------------------------------------------------- checkpoints and models
class Payload:
    """Unpickled, it creates ``marker``: a malicious pickle can run anything this way."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


PYTHON_PAYLOAD = "import pathlib\npathlib.Path({!r}).touch()\n"  # loaders may copy it elsewhere
TOUCH = "!!python/object/apply:builtins.open ['{}', 'w']"  # opening for writing creates it
YTE_PAYLOAD = "__use_yte__: true\nseen: ?__import__('pathlib').Path('{}').touch()\n"


def payload(kind: str) -> Damage:
    """A file that runs code (creating EXECUTED beside it) if loaded the unsafe way: a pickle
    for ``torch.load``, or a YAML tag for ``yaml.unsafe_load``."""

    def damage(path: Path) -> None:
        marker = path.parent / EXECUTED
        if kind == "pickle":
            path.write_bytes(pickle.dumps({"epoch": 3, "prompt": Payload(marker)}))
        else:
            path.write_text(f"screens: {TOUCH.format(marker)}\n")

    return damage


def old_checkpoint(path: Path) -> None:
    """An honest checkpoint of an earlier version: a pickle of plain numbers."""
    path.write_bytes(pickle.dumps({"epoch": 3, "best_score": 0.5}))


def metadata_list(path: Path) -> None:
    """A safetensors file whose checkpoint metadata is JSON, but not an object."""
    save_file({"x": torch.zeros(1)}, str(path), metadata={"fixate": "[1, 2]"})


def edit_json(path: Path, **entries: object) -> None:
    config = json.loads(path.read_text())
    config.update(entries)
    path.write_text(json.dumps(config))


def remote_code_folder(path: Path) -> None:
    """A `trust_remote_code`-style folder: modelling code beside the weights, named by auto_map."""
    (path.parent / "modeling_fault.py").write_text(
        PYTHON_PAYLOAD.format(str(path.parent / EXECUTED))
    )
    edit_json(path, auto_map={"AutoModel": "modeling_fault.FaultModel"})


def original_internvl(folder: Path) -> None:
    """The config of the original InternVL release (InternVLChatModel, remote-code layout)."""
    (folder / "config.json").write_text(
        json.dumps({"architectures": ["InternVLChatModel"], "vision_config": {}})
    )


def remote_code_tokenizer(path: Path) -> None:
    """The original InternVL layout whose tokenizer exists only as the folder's own code."""
    payload = PYTHON_PAYLOAD.format(str(path.parent / EXECUTED))
    (path.parent / "tokenization_fault.py").write_text(payload + "FaultTokenizer = None\n")
    edit_json(
        path,
        tokenizer_class="FaultTokenizer",
        auto_map={"AutoTokenizer": ["tokenization_fault.FaultTokenizer", None]},
    )
    original_internvl(path.parent)


DAMAGES = {
    function.__name__: function
    for function in (
        add_column,
        cut_end,
        delete,
        drop_lines_with,
        folder_in_place,
        header_only,
        latin1,
        metadata_list,
        new_image,
        old_checkpoint,
        original_internvl,
        payload,
        remote_code_folder,
        remote_code_tokenizer,
        remove_folder,
        rename_column,
        repeat_line,
        replace,
        replace_bytes,
        replace_in,
        reverse_rows,
        set_cell,
        set_column,
        truncated_image,
        write,
        write_latin1,
    )
}


def damage_of(spec: list) -> Damage:
    """``[name, arguments...]`` of the table as a damage (a name alone: the damage itself)."""
    name, *arguments = spec
    return DAMAGES[name](*arguments) if arguments else DAMAGES[name]


def case_of(entry: dict) -> Case:
    if "refused" in entry:
        where, error = entry["refused"]
        expect: Refused | Reported = Refused(where, ERRORS[error], entry.get("upstream", ""))
    else:
        key, value = entry["reported"]
        expect = Reported(tuple(key), value)
    return Case(
        entry["name"],
        entry["area"],
        entry["target"],
        damage_of(entry["damage"]),
        expect,
        entry.get("stage", ""),
        entry.get("options", {}),
    )


def load_table() -> tuple[list[Case], dict[str, str]]:
    """The cases of the table, and the faults tested elsewhere (name: test node id)."""
    table = yaml.safe_load(TABLE.read_text())
    return [case_of(entry) for entry in table["cases"]], table["elsewhere"]
