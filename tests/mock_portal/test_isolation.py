"""mock_portal plays the outside world: it must not import the code it is used to test."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mock_portal"
FORBIDDEN = {"registry", "connectors"}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_neither_registry_nor_connectors(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        assert not {n.split(".")[0] for n in names} & FORBIDDEN, (path.name, names)


def test_importing_the_app_loads_neither():
    code = ("import sys, mock_portal.server, mock_portal.__main__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('registry','connectors')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=PACKAGE.parent, check=True).stdout.strip()
    assert out == "[]"
