"""Glue that the Snakemake rules share: code digests and logging for rule scripts."""

from __future__ import annotations

import ast
import functools
import hashlib
import logging
import os
import sys
from pathlib import Path

PACKAGE = "fixate"


def module_files(root: Path, name: str) -> list[Path]:
    """The files Python runs to import module ``name`` from ``root``: the ``__init__.py`` of each
    enclosing package, then the module itself (a ``.py`` file or a package's ``__init__.py``).

    Empty for names outside the library and for names that are no module (``from fixate.x import
    y`` may name a function), so callers can try every candidate.
    """
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return []
    files = []
    for depth in range(1, len(parts) + 1):
        base = root.joinpath(*parts[:depth])
        if (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
        elif depth == len(parts) and base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py"))
        else:
            return []
    return files


def module_name(root: Path, file: Path) -> str:
    """The dotted name of a library file (a package's ``__init__.py`` names the package)."""
    parts = file.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _syntax_nodes(file: Path, mtime_ns: int, size: int) -> list[ast.AST]:
    """Every node of a source file, parsed once per version of the file: the library modules
    that many scripts share are read once when the workflow starts."""
    return list(ast.walk(ast.parse(file.read_text(), filename=str(file))))


def imported_names(file: Path, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module ``file`` imports, wherever the import statement stands.

    ``from a import b`` gives both ``a`` and ``a.b``, since ``b`` may be a submodule; relative
    imports are resolved against ``module`` (the package itself when ``is_package``).
    """
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in _syntax_nodes(file, file.stat().st_mtime_ns, file.stat().st_size):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def import_closure(root: str | Path, script: str | Path) -> list[Path]:
    """The library files that ``script`` (relative to ``root``) imports, directly or through
    other library modules: the code a rule runs beyond its own script file."""
    root = Path(root)
    seen: set[Path] = set()
    todo = [(root / script, "__main__", False)]
    while todo:
        file, module, is_package = todo.pop()
        for name in imported_names(file, module, is_package):
            for found in module_files(root, name):
                if found not in seen:
                    seen.add(found)
                    todo.append((found, module_name(root, found), found.name == "__init__.py"))
    return sorted(seen)


def code_digest(root: str | Path, script: str | Path) -> str:
    """A short SHA-256 of the library sources that a rule's script imports, transitively.

    Snakemake does not see the modules that a rule's script imports, so each rule carries this
    digest as a param: editing one of those modules changes the param and reruns exactly the rules
    whose scripts use that code. Being derived from the imports, it cannot drift from them.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for file in import_closure(root, script):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def script_logging(log_file: str | Path) -> logging.Logger:
    """Send the library's log records and any traceback of a rule script to its ``log:`` file."""
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_file, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    os.dup2(handle.fileno(), 2)  # native libraries and child processes write to descriptor 2
    sys.stderr = handle
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(handle)],
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("fixate")
