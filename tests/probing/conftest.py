"""Fixtures of the probe-engine tests: a real mock_portal process, a registry database holding
the hanoi-2021 fixture, apps configured to probe fast, a registry server on a free port."""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from werkzeug.serving import make_server

from registry import create_app
from registry.store import open_store

REPO = Path(__file__).resolve().parents[2]
WORLD_FILE = REPO / "fixtures" / "worlds" / "hanoi-2021.json"
PROCEDURES_FILE = REPO / "fixtures" / "hanoi-2021" / "procedures.jsonl"
# Retries cost milliseconds, every outbound call at most 2 s, no rate limit, no scheduler.
FAST = {"PROBE_BACKOFF": 0.01, "PROBE_TIMEOUT": 2.0, "PROBE_RETRIES": 3, "PROBE_RATE": 0.0,
        "PROBE_CONCURRENCY": 16, "PROBE_BREAKER": 5, "PROBE_LEASE": 60.0, "SWEEP_INTERVAL_MINUTES": 0.0}


class PortalProcess:
    """`python -m mock_portal` on a free port (the shipped world), stopped at the end."""

    def __init__(self, *extra: str) -> None:
        cmd = [sys.executable, "-m", "mock_portal", "--host", "127.0.0.1", "--port", "0",
               "--world", str(WORLD_FILE), "--seed", "0", *extra]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + 60
        self.url = ""
        self.upstreams: dict[str, str] = {}  # with --split: each upstream's own base URL
        while time.monotonic() < deadline and not self.url:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith("mock_portal upstream "):
                _, _, name, _, url = line.split()
                self.upstreams[name] = url
            if "listening on" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
        if not self.url:
            self.stop()
            raise RuntimeError("mock_portal did not start")

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the admin API; the JSON answer."""
        resp = httpx.request(method, f"{self.url}/_admin{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the fault rules."""
        self.admin("POST", "/faults", json={"rules": list(rules), "replace": True})

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Requests received after sequence number `since`."""
        return self.admin("GET", "/journal", params={"since": since})["entries"]

    def stop(self) -> None:
        """Stop the process we started (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def portal_process() -> Iterator[PortalProcess]:
    """One mock_portal process per test worker, reset before each test that uses it."""
    proc = PortalProcess()
    yield proc
    proc.stop()


@pytest.fixture
def portal(portal_process: PortalProcess) -> PortalProcess:
    """The shared mock_portal, state and faults reset (seed 0)."""
    portal_process.admin("POST", "/reset", json={"faults": True, "seed": 0})
    return portal_process


@pytest.fixture(scope="session")
def world() -> dict[str, Any]:
    """The shipped world, as data (its expected_discrepancies say what a sweep must find)."""
    return json.loads(WORLD_FILE.read_text("utf-8"))


@pytest.fixture(scope="session")
def declared() -> dict[str, dict[str, Any]]:
    """The hanoi-2021 fixture's procedures by code, as declared."""
    with PROCEDURES_FILE.open(encoding="utf-8") as fh:
        return {p["code"]: p for p in map(json.loads, fh) if p}


@pytest.fixture(scope="session")
def hanoi_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file holding the hanoi-2021 fixture, built once; tests work on copies."""
    from registry.seeding import load_fixture
    path = tmp_path_factory.mktemp("template") / "hanoi.db"
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
    return path


@pytest.fixture
def db(hanoi_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of the hanoi-2021 database for this test."""
    target = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, target)
    return target


def make_app(db: Path, portal_url: str, **overrides: Any):
    """The registry app on `db`, probing `portal_url` fast."""
    return create_app({"DATABASE": str(db), "PORTAL_URL": portal_url, "TESTING": True,
                       "SECRET_KEY": "test", **FAST, **overrides})


def add_token(db: Path, role: str = "admin", username: str | None = None) -> str:
    """A bearer token for a new user of `role` (editors get one agency)."""
    from registry.auth import add_user, issue_token
    username = username or f"{role}-user"
    agencies = ["Sở Tư pháp"] if role == "editor" else []
    with open_store(db) as store:
        add_user(store, username, "password-123", role, agencies, actor="test")
        token, _ = issue_token(store, username, actor="test")
    return token


class RegistryServer:
    """The registry app served by werkzeug on a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


@pytest.fixture
def registry_server() -> Iterator[Any]:
    """Factory: serve an app on 127.0.0.1; every server is stopped at the end."""
    servers: list[RegistryServer] = []

    def serve(app: Any) -> RegistryServer:
        servers.append(RegistryServer(app))
        return servers[-1]

    yield serve
    for server in servers:
        server.stop()


def cli_env(db: Path, portal_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a `tthc` subprocess: ours without TTHC_*, plus these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    env.update({"TTHC_DATABASE": str(db), "TTHC_PORTAL_URL": portal_url})
    env.update({f"TTHC_{k}": str(v) for k, v in settings.items()})
    return env


TTHC = [sys.executable, "-c", "from registry.cli import main; main()"]
