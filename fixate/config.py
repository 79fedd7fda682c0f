"""Checking the workflow's configuration against rules/schemas/config.schema.yaml.

A violation stops the workflow with one line naming the configuration files (a value may come
from any of them) and the key, instead of Snakemake's dump of the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jsonschema


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


def check_config(
    config: dict,
    schema: str | Path,
    files: Sequence[str | Path],
) -> None:
    """Validate ``config`` (read from ``files``) and fill in the schema's defaults, as
    ``snakemake.utils.validate`` does; a violation is a WorkflowError naming the files and key."""
    from snakemake.utils import validate
    from snakemake_interface_common.exceptions import WorkflowError

    try:
        validate(config, schema=str(schema))
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
