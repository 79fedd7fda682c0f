"""The dataset, backbone and operator names of the workflow (`fixate.names`, read by the rules'
wildcard constraints) and of the config schema's enums agree with the library's registries, as do
the schema's settings with the library's defaults and fields."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config

from fixate import names
from fixate.config import check_config
from fixate.evaluate import COMPILE_CHOICES, ProbeSettings
from fixate.models import _BACKBONES
from fixate.models.cache import GIB, FeatureCache
from fixate.models.tiny import TINY_KINDS
from fixate.probe import OPERATORS
from fixate.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = {
    "dataset": set(names.DATASETS),
    "backbone": set(names.BACKBONES),
    "operator": set(names.OPERATORS),
}


def test_operators_are_the_registered_ones():
    assert set(names.OPERATORS) == set(OPERATORS)


def test_backbones_are_the_loadable_kinds_and_each_has_a_tiny_model():
    assert set(names.BACKBONES) == set(_BACKBONES)
    assert {f"tiny-{kind}": kind for kind in names.BACKBONES} == TINY_KINDS


def test_datasets_are_the_data_packages_with_a_pipeline():
    packages = {path.parent.name for path in (ROOT / "fixate" / "data").glob("*/pipeline.py")}
    assert set(names.DATASETS) == packages


def schema_enums(node) -> list[set]:
    """Every enum of the schema, without the null that optional settings allow."""
    if isinstance(node, dict):
        found = [set(node["enum"]) - {None}] if "enum" in node else []
        return found + [enum for value in node.values() for enum in schema_enums(value)]
    if isinstance(node, list):
        return [enum for value in node for enum in schema_enums(value)]
    return []


def test_each_schema_enum_of_names_lists_the_whole_registry():
    schema = yaml.safe_load((ROOT / "rules" / "schemas" / "config.schema.yaml").read_text())
    enums = schema_enums(schema)
    for kind, registry in REGISTRIES.items():
        naming = [enum for enum in enums if enum & registry]
        assert naming, f"no enum of {kind} names in the schema"
        for enum in naming:
            assert enum == registry, f"schema enum {sorted(enum)} is not the {kind} registry"


OVERRIDES = sorted(
    path.relative_to(ROOT)
    for path in [*ROOT.glob("studies/*.yaml"), *ROOT.glob("benchmarks/*/*.yaml")]
)


@pytest.mark.parametrize("override", OVERRIDES, ids=str)
def test_shipped_config_overrides_pass_the_schema(override):
    """The study's and the benchmarks' `--configfile` overrides, each over config.yaml, pass the
    check the workflow runs when it starts (rules/common.smk): a renamed key fails here, not on
    a GPU machine."""
    files = [ROOT / "config.yaml", ROOT / override]
    config = load_configfile(files[0])
    update_config(config, load_configfile(files[1]))
    check_config(config, ROOT / "rules" / "schemas" / "config.schema.yaml", files)


def test_the_overrides_are_found():
    assert {"studies/known_truth.yaml", "benchmarks/gpu/rehearsal.yaml"} <= set(map(str, OVERRIDES))


def test_the_feature_cache_defaults_are_the_librarys():
    """`feature_cache:` in the schema defaults to `FeatureCache`'s own budgets, so a run through
    the workflow and a run through the library keep the same screens."""
    schema = yaml.safe_load((ROOT / "rules" / "schemas" / "config.schema.yaml").read_text())
    defaults = {
        k: v["default"] for k, v in schema["properties"]["feature_cache"]["properties"].items()
    }
    library = inspect.signature(FeatureCache).parameters
    assert defaults == {
        "device_gib": library["device_bytes"].default / GIB,
        "host_gib": library["host_bytes"].default / GIB,
    }


def test_the_schemas_training_settings_are_the_librarys():
    """`train:` and `train.probe:` in the schema name every field of `TrainConfig` and
    `ProbeSettings` a configuration may set (the signal and the operator come from the target's
    name), so a new setting cannot reach the library unchecked, nor the schema accept one the
    library ignores; the choices of `compile_layers` are the library's."""
    schema = yaml.safe_load((ROOT / "rules" / "schemas" / "config.schema.yaml").read_text())
    train = schema["properties"]["train"]["properties"]
    assert set(train) == {f.name for f in dataclasses.fields(TrainConfig)} - {"signal"}
    probe = train["probe"]["properties"]
    assert set(probe) == {f.name for f in dataclasses.fields(ProbeSettings)} - {"operator"}
    assert tuple(train["compile_layers"]["enum"]) == COMPILE_CHOICES
