"""The dashboard is an interface shell: it never imports the other shells (design.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "registry" / "dashboard"
FORBIDDEN = ("registry.api", "registry.cli", "sqlite3", "sqlite_utils")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a dashboard module imports (relative ones resolved)."""
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = ["registry", "dashboard"][: 2 - (node.level - 1)]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_shell_imports_another_or_sql(path):
    bad = {m for m in imported_modules(path) for f in FORBIDDEN if m == f or m.startswith(f + ".")}
    assert not bad, f"{path.name} imports {bad}"


def test_the_checker_resolves_relative_imports(tmp_path):
    mod = tmp_path / "x.py"
    mod.write_text("from .. import cli\nfrom ..api import thing\n")
    assert {"registry.cli", "registry.api"} <= imported_modules(mod)
