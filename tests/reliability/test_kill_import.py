"""kill -9 in the middle of a large import: the database holds exactly the previous state."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

TTHC = str(Path(sys.executable).parent / "tthc")


def _rows(n: int, prefix: int, name: str) -> str:
    return "".join(json.dumps({"code": f"{prefix}.{i:06d}", "name": f"{name} {i}", "field": "Hộ tịch",
                               "agency": "Sở Tư pháp", "service_level": 3 + i % 2}, ensure_ascii=False) + "\n"
                   for i in range(n))


def _state(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT code, name, version FROM procedures ORDER BY code").fetchall() + \
            conn.execute("SELECT count(*) FROM audit").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill_9_during_import_leaves_previous_state(tmp_path):
    db = tmp_path / "registry.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}, "TTHC_DATABASE": str(db)}
    before_file = tmp_path / "before.jsonl"
    before_file.write_text(_rows(300, 1, "Trước"), "utf-8")
    subprocess.run([TTHC, "import", str(before_file)], env=env, check=True, capture_output=True, timeout=60)
    # Updates of the 300 stored procedures plus many new ones, in one transaction.
    big = tmp_path / "big.jsonl"
    big.write_text(_rows(300, 1, "Sau") + _rows(60000, 2, "Mới"), "utf-8")
    before = _state(db)
    proc = subprocess.Popen([TTHC, "import", str(big)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wal = Path(str(db) + "-wal")
    deadline = time.monotonic() + 120
    # Kill once the transaction has spilled pages into the WAL: the write is under way.
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 4 * 1024 * 1024:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed: make the file larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert _state(db) == before
