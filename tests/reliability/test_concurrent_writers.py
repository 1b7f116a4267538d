"""50 concurrent API writers and a probe sweep on one database, served by gunicorn.

No "database is locked" (or any 5xx) reaches a client, and no update is lost: every writer's
updates all land, and on the procedure they all share the version counts every accepted write.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import pytest
import requests

from registry.auth import add_user, issue_token
from registry.seeding import load_fixture
from registry.store import open_store

WRITERS = 50
UPDATES = 4
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def stack(tmp_path):
    """A fixture database, a mock portal process (with 20 ms latency) and gunicorn in front of the database."""
    db = tmp_path / "registry.db"
    store = open_store(db)
    load_fixture(store, "hanoi-2021")
    add_user(store, "admin", "admin-password", "admin", actor="test")
    token, _ = issue_token(store, "admin", actor="test")
    codes = [p["code"] for p in store.all_procedures()][: WRITERS + 1]
    store.close()
    world = str(resources.files("fixtures") / "worlds" / "hanoi-2021.json")
    portal = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", "--world", world],
                              stdout=subprocess.PIPE, text=True)
    portal_url = portal.stdout.readline().strip().rsplit(" ", 1)[-1]
    threading.Thread(target=lambda: [None for _ in portal.stdout], daemon=True).start()
    requests.post(f"{portal_url}/_admin/faults", json={"rules": [
        {"name": "slow", "kind": "latency", "upstream": "*", "ms": 20}]}, timeout=5)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TTHC_")},
           "TTHC_DATABASE": str(db), "TTHC_PORT": str(port), "TTHC_PORTAL_URL": portal_url,
           "TTHC_WORKERS": "2", "TTHC_THREADS": "8", "TTHC_PROBE_RATE": "0"}
    log = open(tmp_path / "server.log", "w")  # a file, not a pipe nobody reads: a full pipe blocks
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf",
                               "registry:create_app()"], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/readyz")
        yield base, token, codes, db
    finally:
        server.terminate()
        portal.terminate()
        server.wait(timeout=30)
        portal.wait(timeout=30)
        log.close()


def _update(session: requests.Session, base: str, code: str, field: str, seen: list) -> int:
    """Flip `field` with If-Match, re-reading on 412; returns how many 412s it met."""
    conflicts = 0
    for _ in range(200):
        got = session.get(f"{base}/api/v1/procedures/{code}", timeout=30)
        seen.append((got.status_code, got.text[:200]))
        etag = got.headers["ETag"]
        resp = session.patch(f"{base}/api/v1/procedures/{code}", json={field: not got.json()[field]},
                             headers={"If-Match": etag}, timeout=30)
        seen.append((resp.status_code, resp.text[:200]))
        if resp.status_code == 200:
            return conflicts
        assert resp.status_code == 412, resp.text
        conflicts += 1
    raise AssertionError(f"{code}: no update accepted in 200 tries")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fifty_writers_and_a_sweep(stack):
    base, token, codes, db = stack
    auth = {"Authorization": f"Bearer {token}"}
    run = requests.post(f"{base}/api/v1/probe-runs", json={"kind": "linkage"}, headers=auth, timeout=30)
    assert run.status_code == 202, run.text
    shared = codes[-1]
    seen: list = [[] for _ in range(WRITERS)]
    conflicts = [0] * WRITERS
    errors: list = []

    def writer(i: int) -> None:
        try:
            with requests.Session() as session:
                session.headers.update(auth)
                for _ in range(UPDATES):
                    _update(session, base, codes[i], "sso", seen[i])
                conflicts[i] = _update(session, base, shared, "has_fee", seen[i])
        except BaseException as exc:  # reported below with the thread's number
            errors.append((i, repr(exc)))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors[:3]
    statuses = [s for per in seen for s, _ in per]
    assert all(s < 500 for s in statuses), [x for per in seen for x in per if x[0] >= 500][:3]
    assert not any("locked" in text for per in seen for _, text in per)
    # Every writer's own updates all landed, and each accepted write on the shared one counts.
    for i in range(WRITERS):
        body = requests.get(f"{base}/api/v1/procedures/{codes[i]}", timeout=30).json()
        assert body["version"] == 1 + UPDATES
    assert requests.get(f"{base}/api/v1/procedures/{shared}", timeout=30).json()["version"] == 1 + WRITERS
    assert sum(conflicts) > 0  # they did collide: the 412 path was exercised
    store = open_store(db)
    try:
        assert store.count_audit(key=shared) == 1 + WRITERS
        # The sweep ran alongside and kept its evidence.
        deadline = time.monotonic() + 120
        while store.get_run(run.json()["id"])["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
        final = store.get_run(run.json()["id"])
        assert final["status"] == "completed", final
        assert final["done"] == final["total"] > 0
    finally:
        store.close()
