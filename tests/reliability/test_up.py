"""`tthc up` as a new user runs it: everything comes up with probe evidence, SIGTERM stops it all."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

TTHC = str(Path(sys.executable).parent / "tthc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_up_serves_evidence_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    env.update(TTHC_PORT=str(port), TTHC_PROBE_RATE="0", TTHC_WORKERS="1")
    proc = subprocess.Popen([TTHC, "up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(180), "".join(lines[-30:])
        text = "".join(lines)
        assert (tmp_path / "instance" / "registry.db").exists()  # the embedded default
        assert "loaded fixture hanoi-2021: 1685 procedures" in text
        portal = re.search(r"mock portal: (http://\S+)", text).group(1)
        assert re.search(r"sweep \d+: completed \(2154/2154\)", text), text[-2000:]
        base = f"http://127.0.0.1:{port}"
        for url in (f"{base}/", f"{base}/api/v1", f"{base}/api/docs"):
            assert url in text
        body = httpx.get(f"{base}/api/v1/procedures/1.001193", timeout=10).json()
        assert body["linkage"]["verdict"] == "integrated" and body["linkage"]["checked_at"]
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "Đã kiểm chứng" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, "".join(lines[-20:])
    assert "stopped." in "".join(lines)
    assert _refused(f"http://127.0.0.1:{port}/healthz")
    assert _refused(f"{portal}/_admin/health")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigterm_during_the_first_sweep_stops_everything_and_leaves_it_resumable(tmp_path):
    """A container runtime kills 10 s after SIGTERM: `up` must not finish its sweep first."""
    from registry.store import open_store

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    # 2 requests/s: the whole first sweep would take many minutes.
    env.update(TTHC_PORT=str(port), TTHC_PROBE_RATE="2", TTHC_WORKERS="1")
    proc = subprocess.Popen([TTHC, "up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    sweeping = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "first probe sweep" in line:
                sweeping.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        assert sweeping.wait(180), "".join(lines[-30:])
        portal = re.search(r"mock portal: (http://\S+)", "".join(lines)).group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=90)  # far less than the sweep would take
    text = "".join(lines)
    assert code == 0, text[-2000:]
    assert "completed" not in text and "stopped." in text
    assert _refused(f"http://127.0.0.1:{port}/healthz")
    assert _refused(f"{portal}/_admin/health")
    with open_store(tmp_path / "instance" / "registry.db") as store:
        run = store.last_interrupted_run(lease_seconds=3600)
    assert run is not None and run["done"] < run["total"]
