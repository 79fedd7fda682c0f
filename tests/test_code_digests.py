"""Each rule's code digest follows what its script imports, so library edits rerun exactly the
rules that use the edited module (`fixate.workflow.code_digest`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from workflow_helpers import ROOT, scratch_workflow

from fixate.workflow import code_digest, import_closure


def closure(script: str) -> set[str]:
    return {str(path.relative_to(ROOT)) for path in import_closure(ROOT, script)}


def scripted_rules() -> dict[str, str]:
    """Every rule of rules/*.smk that runs a script, with the script's path."""
    rules = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for match in re.finditer(
            r"^\s*rule (\w+):.*?^\s*script:\s*\"\.\./(workflow_scripts/\w+\.py)\"",
            smk.read_text(),
            re.MULTILINE | re.DOTALL,
        ):
            rules[match.group(1)] = match.group(2)
    return rules


def test_the_rule_list_is_complete():
    rules = scripted_rules()
    names = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        names |= set(re.findall(r"^\s*rule (\w+):", smk.read_text(), re.MULTILINE))
    assert set(rules) == names
    assert set(rules.values()) == {
        str(p.relative_to(ROOT)) for p in (ROOT / "workflow_scripts").glob("*.py")
    }


def test_a_script_reaches_the_modules_it_imports_through_others():
    files = closure("workflow_scripts/adserp_serp_aoi.py")
    assert "fixate/data/adserp/serp_check.py" in files
    assert "fixate/data/adserp/serp.py" in files
    assert "fixate/data/adserp/__init__.py" in files  # a package import runs its __init__
    assert "fixate/data/recgaze/split.py" not in files
    assert "fixate/train.py" not in files


def test_from_imports_reach_the_module_that_defines_the_name():
    files = closure("workflow_scripts/aggregate.py")
    assert "fixate/aggregate.py" in files
    assert "fixate/metrics.py" in files  # MODES
    assert "fixate/evaluate.py" not in files  # no model code: model edits leave it alone
    assert "fixate/data/recgaze/render.py" not in files


def test_a_module_run_by_name_in_a_subprocess_is_imported_by_the_script():
    assert "fixate/launch.py" in closure("workflow_scripts/train.py")


def test_relative_imports_are_resolved(tmp_path):
    package = tmp_path / "fixate" / "pkg"
    package.mkdir(parents=True)
    (tmp_path / "fixate" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("from . import b\nfrom ..top import g\n")
    (package / "b.py").write_text("")
    (tmp_path / "fixate" / "top.py").write_text("")
    (tmp_path / "fixate" / "other.py").write_text("")
    (tmp_path / "script.py").write_text("import fixate.pkg\n")
    files = {str(p.relative_to(tmp_path)) for p in import_closure(tmp_path, "script.py")}
    assert files == {
        "fixate/__init__.py",
        "fixate/pkg/__init__.py",
        "fixate/pkg/a.py",
        "fixate/pkg/b.py",
        "fixate/top.py",
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return scratch_workflow(tmp_path_factory.mktemp("digests"))


def digest_after_edit(work: Path, script: str, module: Path) -> str:
    """The script's digest with a comment appended to ``module`` (restored afterwards)."""
    original = module.read_text()
    try:
        module.write_text(original + "\n# edited\n")
        return code_digest(work, script)
    finally:
        module.write_text(original)


@pytest.mark.parametrize(("rule", "script"), sorted(scripted_rules().items()))
def test_an_edit_changes_the_digest_of_the_rules_that_import_it_only(scratch, rule, script):
    imported = import_closure(scratch, script)
    library = sorted((scratch / "fixate").rglob("*.py"))
    used = max(imported, key=lambda path: path.stat().st_size)  # a module with code in it
    unused = next(path for path in library if path not in imported)
    before = code_digest(scratch, script)
    assert digest_after_edit(scratch, script, used) != before, (rule, used)
    assert digest_after_edit(scratch, script, unused) == before, (rule, unused)
    assert code_digest(scratch, script) == before
