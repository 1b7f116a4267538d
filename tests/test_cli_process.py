"""The `tthc` console script as a user runs it: real processes, a fresh directory."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

TTHC = str(Path(sys.executable).parent / "tthc")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    env["TTHC_DATABASE"] = str(tmp_path / "instance" / "registry.db")
    return env


def test_fixture_load_then_coverage_json(tmp_path):
    env = _env(tmp_path)
    load = subprocess.run([TTHC, "fixtures", "load", "hanoi-2021"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stderr
    out = subprocess.run([TTHC, "coverage", "--json"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["totals"]["procedures"], report["totals"]["online"]) == (1685, 1431)
    integration = next(i for i in report["indicators"] if i["id"] == "dvcqg_integration_rate")
    assert (integration["numerator"], integration["percent"], integration["met"]) == (444, 31.02, True)


def test_search_finds_birth_registration(tmp_path):
    env = _env(tmp_path)
    subprocess.run([TTHC, "fixtures", "load", "hanoi-2021"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120)
    out = subprocess.run([TTHC, "search", "dang ky khai sinh", "--json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    names = [r["name"] for r in json.loads(out.stdout)]
    assert names and all("khai sinh" in n.lower() for n in names[:5])
    assert any(n.endswith("đăng ký khai sinh") for n in names)


@pytest.mark.timeout(60)
def test_mock_portal_command_serves_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([TTHC, "mock-portal", "--port", "0", "--seed", "3"], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line + proc.stderr.read()
        url = line.strip().rsplit(" ", 1)[-1]
        resp = httpx.post(f"{url}/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen",
                          json={"limit": 5, "lastId": "", "q": "", "categoryId": "", "departmentCode": ""})
        assert resp.json()["code"] == "OK" and len(resp.json()["data"]["items"]) == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_bad_setting_is_one_clear_line(tmp_path):
    env = {**_env(tmp_path), "TTHC_PROBE_CONCURRENCY": "many"}
    out = subprocess.run([TTHC, "coverage"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip() == "Error: invalid setting: TTHC_PROBE_CONCURRENCY: Not a valid integer."
