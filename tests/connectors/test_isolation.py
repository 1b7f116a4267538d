"""connectors is a leaf library: importing it pulls in no Flask, SQLite, registry or mock_portal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "sqlite3", "sqlite_utils", "registry", "mock_portal", "werkzeug")


def test_importing_connectors_loads_no_forbidden_module():
    code = (
        "import json, sys, connectors, connectors.sweep, connectors.probes;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(json.loads(out.stdout))
    assert "connectors" in loaded
    assert not loaded & set(FORBIDDEN)


def test_no_source_file_imports_a_forbidden_module():
    for path in (REPO / "connectors").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in FORBIDDEN, f"{path.name}: {line}"
