"""Issue 15 benchmarks, used by bench_load.py: Datasette as a peer, wrk, the 304 server time, the
first request after a write, and a federation pull of 34 slow units.

Run through bench_load.py (`--peer`, `--federation`), or alone:
  python benchmarks/bench_cache.py --federation-only
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "benchmarks" / ".venv-peer"


# -- load generator ------------------------------------------------------------------------
def wrk(url: str, seconds: float, concurrency: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """wrk's requests/s and latency percentiles (2 threads, `concurrency` connections)."""
    cmd = ["wrk", "-t2", f"-c{concurrency}", f"-d{max(1, int(seconds))}s", "--latency", "--timeout", "30s"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    requests = int(re.search(r"([0-9]+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    errors = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", out)
    return {"requests": requests, "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
            "p50_ms": round(ms("50%"), 2), "p99_ms": round(ms("99%"), 2),
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)}


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


# -- Datasette, the peer -----------------------------------------------------------------
def peer_datasette() -> Path:
    """The datasette executable of the benchmark's own venv (created on first use)."""
    exe = PEER_VENV / "bin" / "datasette"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", "datasette"], check=True)
    return exe


def start_datasette(db: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(peer_datasette()), "serve", str(db), "--port", str(port),
                             "--setting", "sql_time_limit_ms", "60000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/-/versions.json")
    return proc


def datasette_url(port: int, db: Path, sql: str) -> str:
    return (f"http://127.0.0.1:{port}/{db.stem}.json?" +
            urllib.parse.urlencode({"sql": " ".join(sql.split()), "_shape": "array"}))


def wait_up(url: str, tries: int = 300) -> None:
    for _ in range(tries):
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# -- server time from the request log ------------------------------------------------------
def server_times(log: Path, status: int, path: str = "/api/v1/coverage", since: int = 0) -> list[float]:
    """`duration_ms` of the JSON request-log lines with this status and path (from byte `since`)."""
    out = []
    with log.open("rb") as fh:
        fh.seek(since)
        for line in fh:
            if b'"duration_ms"' not in line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("status") == status and doc.get("path") == path:
                out.append(float(doc["duration_ms"]))
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))], 3) if values else float("nan")


# -- the first request after a write -------------------------------------------------------
def after_write(base: str, db: Path, log: Path, writes: int) -> dict[str, Any]:
    """Write, then time the first GET (client and server side); and, in this process, today's
    uncached computation (report + JSON text) against a cache miss of the same report."""
    sys.path.insert(0, str(ROOT))
    from registry import settings as settings_mod
    from registry.cache import cache_for
    from registry.reporting import coverage_document, coverage_report
    from registry.store import open_store

    cfg = {**settings_mod.load({}), "DATABASE": str(db)}
    store = open_store(db, migrate=False)
    code = store.db.execute("SELECT code FROM procedures WHERE status = 'active' LIMIT 1").fetchone()[0]
    client_ms, uncached_ms, miss_ms = [], [], []
    start = log.stat().st_size
    with httpx.Client(timeout=60) as client:
        for i in range(writes):
            sso = bool(i % 2)
            store.update_procedure(code, {"sso": sso}, expected_version=None, actor="bench", source="bench")
            t0 = time.perf_counter()
            assert client.get(base + "/api/v1/coverage").status_code == 200
            client_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            json.dumps(coverage_report(store, cfg), ensure_ascii=False)
            uncached_ms.append((time.perf_counter() - t0) * 1000)
            cache_for(str(db)).clear()
            t0 = time.perf_counter()
            coverage_document(store, cfg)
            miss_ms.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.5)  # let the log lines land
    server = server_times(log, 200, since=start)
    store.close()
    return {"writes": writes, "first_get_client_p50_ms": round(statistics.median(client_ms), 2),
            "first_get_server_p50_ms": round(statistics.median(server), 2) if server else None,
            "uncached_compute_p50_ms": round(statistics.median(uncached_ms), 2),
            "cache_miss_compute_p50_ms": round(statistics.median(miss_ms), 2)}


# -- federation: 34 units answering in 200 ms ----------------------------------------------
def federation_bench(units: int = 34, delay: float = 0.2) -> dict[str, Any]:
    """Pull `units` units (both bases) that answer after `delay` s; then again (all 304)."""
    sys.path.insert(0, str(ROOT))
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from registry import create_app, federation
    from registry.seeding import load_fixture
    from registry.store import open_store

    with tempfile.TemporaryDirectory() as d:
        source = Path(d) / "unit.db"
        with open_store(source) as store:
            load_fixture(store, "hanoi-2021")
        app = create_app({"DATABASE": str(source), "TESTING": True})
        client = app.test_client()
        reports = {b: client.get(f"/api/v1/coverage?basis={b}").get_json() for b in ("declared", "verified")}
        servers = []

        def unit_app(code: str):
            def wsgi(environ: dict, start_response: Any) -> list[bytes]:
                time.sleep(delay)
                basis = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("basis", ["declared"])[0]
                etag = f'W/"{code}-{basis}-1"'
                if environ.get("HTTP_IF_NONE_MATCH") == etag:
                    start_response("304 Not Modified", [("ETag", etag)])
                    return [b""]
                body = json.dumps({**reports[basis], "unit": {"code": code, "name": code}}).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("ETag", etag),
                                          ("Content-Length", str(len(body)))])
                return [body]
            return wsgi

        national = create_app({"DATABASE": str(Path(d) / "national.db"), "TESTING": True})
        store = open_store(Path(d) / "national.db")
        try:
            for i in range(units):
                code = f"000.00.00.F{i:02d}"
                server = make_server("127.0.0.1", 0, unit_app(code), threaded=True)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                servers.append(server)
                federation.add_unit(store, code=code, url=f"http://127.0.0.1:{server.server_port}",
                                    actor="bench", source="bench")
            cfg = national.config["TTHC"]
            timings = {}
            for label in ("first_pull", "second_pull_304"):
                t0 = time.perf_counter()
                results = federation.pull(store, cfg)
                timings[label] = {"seconds": round(time.perf_counter() - t0, 3), "reports": len(results),
                                  "outcomes": {o: sum(r["outcome"] == o for r in results)
                                               for o in ("changed", "not_modified", "failed")}}
        finally:
            store.close()
            for server in servers:
                server.shutdown()
        return {"units": units, "answer_delay_s": delay, **timings}


if __name__ == "__main__":
    if "--federation-only" in sys.argv:
        print(json.dumps(federation_bench(), indent=2))
