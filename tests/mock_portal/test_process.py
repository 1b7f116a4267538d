"""`python -m mock_portal` as a real process: bound URL on one line, clean SIGTERM/SIGINT."""
from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"


def start(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    ready = selector.select(timeout=30)
    selector.close()
    if not ready:
        proc.kill()
        raise AssertionError("mock_portal printed nothing within 30 s")
    line = proc.stdout.readline()
    match = re.fullmatch(r"mock_portal listening on (http://127\.0\.0\.1:\d+)\n", line)
    if not match:
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}: {proc.stderr.read()}")
    return proc, match.group(1)


@pytest.fixture
def processes():
    started = []
    yield started
    for proc in started:  # never leave a process behind, whatever the test did
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_process_serves_shipped_world_and_stops_cleanly(processes, tmp_path, sig):
    proc, url = start("--world", "hanoi-2021", "--faults", "none", "--seed", "3", cwd=tmp_path)
    processes.append(proc)
    health = requests.get(f"{url}/_admin/health", timeout=10).json()
    assert (health["world"], health["seed"], health["faults"]) == ("hanoi-2021", 3, 0)
    session = requests.post(f"{url}/adapter/auth", json={"username": "hanoi",
                                                        "password": "hanoi-secret"},
                            timeout=10).json()["session"]
    answer = requests.post(f"{url}/adapter/share", json={
        "session": session, "madonvi": "000.00.00.H26", "service": "LayDVC"}, timeout=10).json()
    assert answer["error_code"] == "00" and len(answer["result"]) > 400
    proc.send_signal(sig)
    assert proc.wait(timeout=15) == 0
    assert "mock_portal stopped" in proc.stderr.read()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_admin/health", timeout=2)


def fault_sequence(url, n=30):
    for _ in range(n):
        requests.post(url + LIST, json={"limit": 1}, timeout=10)
    entries = requests.get(f"{url}/_admin/journal", timeout=10).json()["entries"]
    return [tuple(e["faults"]) for e in entries]


def test_same_seed_same_faults_across_processes(processes, tmp_path):
    rules = tmp_path / "coin.json"
    rules.write_text(json.dumps({"rules": [
        {"name": "coin", "kind": "http_error", "rate": 0.5},
        {"name": "dice", "kind": "rate_limit", "rate": 0.3}]}), encoding="utf-8")
    sequences = []
    for seed in ("11", "11", "12"):
        proc, url = start("--faults", str(rules), "--seed", seed, cwd=tmp_path)
        processes.append(proc)
        sequences.append(fault_sequence(url))
        proc.terminate()
        assert proc.wait(timeout=15) == 0
    assert sequences[0] == sequences[1] != sequences[2]
    assert any(sequences[0]) and not all(sequences[0])


@pytest.mark.parametrize("args, message", [
    (["--world", "no-such-world"], "world not found"),
    (["--faults", "no-such-profile"], "unknown fault profile"),
])
def test_bad_arguments_exit_2(tmp_path, args, message):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "mock_portal", "--port", "0", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr
