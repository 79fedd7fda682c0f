"""The dataset, backbone and operator names that the workflow and its config accept.

The library's registries are the truth (operators: `fixate.probe.OPERATORS`; backbones:
`fixate.models._BACKBONES` and `fixate.models.tiny.TINY_KINDS`; datasets: the packages of
`fixate/data` with a `pipeline.py`), but importing them loads torch and transformers, seconds on
every workflow start. The rules read these tuples instead, and tests/test_registry_names.py fails
when they, or the enums of rules/schemas/config.schema.yaml, disagree with the registries.
"""

import re

DATASETS = ("recgaze", "adserp")
BACKBONES = ("qwen3vl", "internvl")
OPERATORS = ("rollout", "glimpse", "attnlrp", "attnlrp-rules")


def alternatives(names: tuple[str, ...]) -> str:
    """A wildcard constraint matching exactly one of ``names``."""
    return "|".join(re.escape(name) for name in names)
