"""`tthc serve` as an operator runs it: migrations, metrics from every worker, clean errors, clean stop."""
from __future__ import annotations

import os
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


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(TTHC_WORKERS="2", TTHC_SWEEP_INTERVAL_MINUTES="0", **extra)
    return env


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_serve_counts_requests_of_every_worker_in_metrics_and_stops_on_sigterm(tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen([TTHC, "serve", "--port", str(port)], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert ready.wait(120), "".join(lines[-30:])
        assert (tmp_path / "instance" / "registry.db").exists()  # serve migrated explicitly
        for _ in range(4):
            assert httpx.get(f"{base}/api/v1/procedures", timeout=30).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
        counted = [line for line in metrics.splitlines()
                   if line.startswith("tthc_http_requests_total{") and "procedures" in line]
        assert counted, metrics[:3000]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) >= 4
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, "".join(lines[-20:])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=5)


@pytest.mark.parametrize("args", [["serve", "--port", "70000"], ["up", "--port", "70000"]])
def test_an_impossible_port_is_one_clear_line(tmp_path: Path, args: list[str]):
    done = subprocess.run([TTHC, *args], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "70000 is not in the range 1<=x<=65535" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize("command", ["serve", "up"])
def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path, command: str):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([TTHC, command, "--port", str(port)], cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr and "sweep" not in done.stdout


@pytest.mark.parametrize("command", ["serve", "up"])
@pytest.mark.parametrize("url_setting", ["TTHC_PORTAL_URL"])
def test_a_real_portal_with_shipped_credentials_is_refused(tmp_path: Path, command: str, url_setting: str):
    env = _env(**{url_setting: "https://dichvucong.gov.vn", "TTHC_SECRET_KEY": "a-long-random-value"})
    done = subprocess.run([TTHC, command, "--port", str(_free_port())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "TTHC_ADAPTER_PASSWORD" in done.stderr and "shipped defaults" in done.stderr
    assert "TTHC_SECRET_KEY" not in done.stderr
    assert not (tmp_path / "instance").exists()
