"""The dataset, backbone and operator names that the workflow and its config accept.

The library's registries are the truth (operators: `fixate.probe.OPERATORS`; backbones:
`fixate.models._BACKBONES` and `fixate.models.tiny.TINY_KINDS`; datasets: the packages of
`fixate/data` with a `pipeline.py`), but importing them loads torch and transformers, seconds on
every workflow start. The rules read these tuples instead, and tests/test_registry_names.py fails
when they, or the enums of rules/schemas/config.schema.yaml, disagree with the registries. Only
when `FIXATE_PLUGINS` names plugin modules (`fixate.plugins`) is the operator registry imported,
to add the operators they register.
"""

import re

from fixate.plugins import plugin_modules

DATASETS = ("recgaze", "adserp")
BACKBONES = ("qwen3vl", "internvl")
BUILTIN_OPERATORS = ("rollout", "glimpse", "attnlrp", "attnlrp-rules")


def _operators() -> tuple[str, ...]:
    if not plugin_modules():
        return BUILTIN_OPERATORS
    from fixate.probe import OPERATORS as registry

    return tuple(registry)


OPERATORS = _operators()


def alternatives(names: tuple[str, ...]) -> str:
    """A wildcard constraint matching exactly one of ``names``."""
    return "|".join(re.escape(name) for name in names)
