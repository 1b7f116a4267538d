"""The house rules of design.md, checked on the source: imports flow one way."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(package: str) -> dict[str, set[str]]:
    """Absolute top-level module names each file of `package` imports (relative ones resolved)."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = parts[: len(parts) - node.level + (1 if path.name == "__init__.py" else 0)]
                    module = ".".join(base + ([node.module] if node.module else []))
                    names.add(module)
                    names.update(f"{module}.{a.name}" for a in node.names)
                else:
                    names.add(node.module or "")
        out[str(path.relative_to(ROOT))] = names
    return out


def _hits(names: set[str], forbidden: tuple[str, ...]) -> set[str]:
    return {n for n in names for f in forbidden if n == f or n.startswith(f + ".")}


@pytest.mark.parametrize("package, forbidden", [
    ("connectors", ("flask", "sqlite3", "sqlite_utils", "registry", "mock_portal")),
    ("mock_portal", ("registry", "connectors")),
])
def test_leaf_packages_stay_leaves(package, forbidden):
    bad = {f: _hits(n, forbidden) for f, n in imports_of(package).items() if _hits(n, forbidden)}
    assert bad == {}


@pytest.mark.parametrize("shell, others", [
    ("registry/api", ("registry.dashboard", "registry.cli")),
    ("registry/dashboard", ("registry.api", "registry.cli")),
    ("registry/cli", ("registry.api", "registry.dashboard")),
])
def test_interface_shells_never_import_each_other(shell, others):
    bad = {f: _hits(n, others) for f, n in imports_of(shell).items() if _hits(n, others)}
    assert bad == {}


def test_only_the_store_touches_sqlite():
    bad = {f: _hits(n, ("sqlite3", "sqlite_utils")) for f, n in imports_of("registry").items()
           if _hits(n, ("sqlite3", "sqlite_utils")) and not f.startswith("registry/store/")}
    assert bad == {}


def test_only_probing_uses_connectors():
    bad = {f for f, n in imports_of("registry").items()
           if _hits(n, ("connectors",)) and not f.startswith("registry/probing/")}
    assert bad == set()


def test_coverage_is_pure():
    names = imports_of("registry")["registry/coverage.py"]
    third_party_or_ours = {n for n in names if n.split(".")[0] not in {
        "__future__", "heapq", "json", "math", "collections", "dataclasses", "datetime", "decimal",
        "fractions", "typing", "zoneinfo"}}
    assert {n for n in third_party_or_ours if not n.startswith("registry.clock")} == set()  # pure helpers only


def test_wsgi_holds_only_the_app():
    tree = ast.parse((ROOT / "wsgi.py").read_text("utf-8"))
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert [type(n).__name__ for n in body] == ["ImportFrom", "Assign"]
    assert ast.unparse(body[1]) == "app = create_app()"


# Library exceptions a RegistryError should carry: the store, the importer and the probe engine
# translate them; a shell (api, dashboard, cli) never catches nor raises them itself.
_LIBRARY_ERRORS = ("sqlite3", "sqlite_utils", "openpyxl", "zipfile", "connectors", "httpcore")


def _exception_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [n for elt in node.elts for n in _exception_names(elt)]
    if isinstance(node, ast.Call):
        return _exception_names(node.func)
    return [ast.unparse(node)] if node is not None else []


def test_shells_neither_catch_nor_raise_library_exceptions():
    offenders = []
    for shell in ("api", "dashboard", "cli"):
        for path in sorted((ROOT / "registry" / shell).rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            imported = {alias.asname or alias.name: getattr(node, "module", None) or alias.name
                        for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                        for alias in node.names}
            for node in ast.walk(tree):
                names = (_exception_names(node.type) if isinstance(node, ast.ExceptHandler) and node.type
                         else _exception_names(node.exc) if isinstance(node, ast.Raise) and node.exc else [])
                for name in names:
                    head = name.split(".")[0]
                    origin = imported.get(head, head)
                    if origin.split(".")[0] in _LIBRARY_ERRORS:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offenders == []
