"""Registrations from outside the library: the modules that ``FIXATE_PLUGINS`` names.

An operator (or anything else a registry takes) can live in a module of its own, outside
``fixate/``, that registers itself when imported (``fixate.probe.register_operator``). Listing
that module in the environment variable ``FIXATE_PLUGINS`` (comma-separated module names,
importable from ``sys.path``/``PYTHONPATH``) makes every process that imports ``fixate.probe``
import it, and makes the workflow accept the names it registers (`fixate.names`), so the module
works in the rules' scripts as well as in the process that plans the jobs.

A plugin is code the user chose to run, like a module on ``PYTHONPATH``; it is named by the
environment, never by a configuration file, which stays data.
"""

from __future__ import annotations

import importlib
import os

PLUGINS_ENV = "FIXATE_PLUGINS"


def plugin_modules() -> list[str]:
    """The module names listed in ``FIXATE_PLUGINS`` (none when it is unset)."""
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


def load_plugins() -> None:
    """Import every plugin module (each once; importing registers what it defines)."""
    for name in plugin_modules():
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(f"{PLUGINS_ENV}: cannot import plugin {name!r} ({err})") from err
