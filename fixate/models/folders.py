"""What a local model folder may make the loaders do: read its files, never run its code.

A Hugging Face folder may ship Python (modelling, configuration or tokenizer code, named by an
``auto_map``) that ``trust_remote_code=True`` would import. Every backbone here is built from
transformers' own classes, so such code is never needed: it is left unread and said so, and a
loader that would otherwise ask whether to run it (transformers prompts in an interactive
terminal) is told no. Problems are :class:`ModelFolderError`, naming the folder or the file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

TINY_HINT = " (materialise tiny models first: fixate.models.tiny.materialise)"


class ModelFolderError(ValueError):
    """A model folder that cannot be loaded; the message names the folder or the file."""


def read_config(path: Path) -> dict:
    """The folder's ``config.json``, parsed; a missing or unreadable one is named."""
    file = path / "config.json"
    if not file.is_file():
        raise ModelFolderError(
            f"{path} is not a local checkpoint folder (no config.json){TINY_HINT}"
        )
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"{file}: not a readable JSON file ({err})") from err
    if not isinstance(config, dict):
        raise ModelFolderError(f"{file}: not a JSON object")
    return config


def note_own_code(path: Path) -> list[str]:
    """The folder's Python files, logged as not run: the native classes are loaded instead."""
    files = sorted(file.name for file in path.glob("*.py"))
    if files:
        log.warning(
            "%s ships its own code (%s); it is not run: the folder is loaded with transformers' "
            "own classes",
            path,
            ", ".join(files),
        )
    return files
