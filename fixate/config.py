"""Checking the workflow's configuration against rules/schemas/config.schema.yaml.

The schema's operator enums name the built-in operators; when plugins register more
(`fixate.plugins`), the configuration is checked against a copy of the schema that names them
too. A violation stops the workflow with one line naming the configuration files (a value may
come from any of them) and the key, instead of Snakemake's dump of the schema.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from fixate.names import BUILTIN_OPERATORS, OPERATORS


def with_operators(node: Any, builtin: frozenset[str], operators: Sequence[str]) -> Any:
    """``node`` (a parsed schema) with every enum of the built-in operators naming
    ``operators`` instead (a null that an optional setting allows is kept)."""
    if isinstance(node, dict):
        out = {key: with_operators(value, builtin, operators) for key, value in node.items()}
        enum = node.get("enum")
        if enum is not None and set(enum) - {None} == builtin:
            out["enum"] = [*operators, *([None] if None in enum else [])]
        return out
    if isinstance(node, list):
        return [with_operators(value, builtin, operators) for value in node]
    return node


def schema_file(schema: str | Path, builtin: Sequence[str], operators: Sequence[str]) -> Path:
    """``schema`` itself, or, when ``operators`` go beyond the ``builtin`` ones, a temporary copy
    (removed at exit) whose operator enums name them all."""
    schema = Path(schema)
    if set(operators) == set(builtin):
        return schema
    parsed = with_operators(yaml.safe_load(schema.read_text()), frozenset(builtin), operators)
    handle, name = tempfile.mkstemp(prefix="config.schema.", suffix=".yaml")
    with os.fdopen(handle, "w") as out:
        yaml.safe_dump(parsed, out, sort_keys=False)
    atexit.register(os.unlink, name)
    return Path(name)


def named(files: Sequence[str | Path]) -> str:
    """The configuration files, for a message (a value may come from any of them)."""
    return ", ".join(map(str, files)) or "configuration"


def config_problem(error: BaseException, files: Sequence[str | Path]) -> str:
    """The schema violation behind Snakemake's validation ``error`` (raised while handling it),
    as one line: ``config.yaml, more.yaml: train.epochs: '3' is not of type 'integer'``."""
    cause = error.__cause__ or error.__context__
    if not isinstance(cause, jsonschema.ValidationError):
        return str(error)
    key = ".".join(str(part) for part in cause.absolute_path) or "top level"
    return f"{named(files)}: {key}: {cause.message}"


def check_config(config: dict, schema: str | Path, files: Sequence[str | Path]) -> None:
    """Validate ``config`` (read from ``files``) and fill in the schema's defaults, as
    ``snakemake.utils.validate`` does; a violation is a WorkflowError naming the files and key.
    Operators registered by plugins are accepted (`fixate.names.OPERATORS`)."""
    from snakemake.utils import validate
    from snakemake_interface_common.exceptions import WorkflowError

    try:
        validate(config, schema=str(schema_file(schema, BUILTIN_OPERATORS, OPERATORS)))
    except WorkflowError as err:
        raise WorkflowError(config_problem(err, files)) from None
    problem = probe_options_problem(config)
    if problem:
        raise WorkflowError(f"{named(files)}: {problem}")


def probe_options_problem(config: dict) -> str:
    """What is wrong with the operator options (``probe.options`` of ``train`` and of each
    ablation) for the experiment's operators; "" when nothing is. The schema cannot say: the
    options depend on the operator. The operator registry (torch) is imported only when options
    are set."""
    sections = {
        "train": config.get("train", {}),
        **{f"ablations.{name}": section for name, section in config.get("ablations", {}).items()},
    }
    options = {
        key: (section.get("probe") or {}).get("options") or {} for key, section in sections.items()
    }
    if not any(options.values()):
        return ""
    from fixate.probe import check_options

    for key, chosen in options.items():
        for operator in config["experiment"]["operators"]:
            try:
                check_options(operator, chosen)
            except ValueError as err:
                return f"{key}.{err}"
    return ""
