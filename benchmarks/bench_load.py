"""Load benchmark: GET /api/v1/coverage and the procedure list under load, against gunicorn.

Run: python benchmarks/bench_load.py [--sizes 1685,100000] [--seconds 10] [--concurrency 16]
For each size: a fresh database, gunicorn started as `tthc serve` would (TTHC_WORKERS x
TTHC_THREADS), an asyncio + httpx load generator on the same machine (it competes with the server
for the 2 cores: the figures are a floor), and the raw SQLite query time of the same figures
measured in the same run. Prints a table and writes benchmarks/results/load.json.

Issue 15 (`--peer`, on by default): the coverage report served from the cache, side by side with
Datasette serving the same database file with the raw aggregate of the same totals (installed in
its own virtual environment, benchmarks/.venv-peer, never a project dependency), under the same
load generator (wrk when installed, else the httpx one): repeated reads (200), conditional reads
(304, with the server's own time from its request log), and the first request after a write
against today's uncached computation. `--federation`: pulling 34 units that answer in 200 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_cache  # noqa: E402
from bench_registry import RAW_TOTALS, generate  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import open_store  # noqa: E402

ENDPOINTS = {"coverage": "/api/v1/coverage", "procedures": "/api/v1/procedures?per_page=50&page=3"}
RAW = {"coverage": RAW_TOTALS,
       "procedures": "SELECT * FROM procedures WHERE status = 'active' ORDER BY code LIMIT 50 OFFSET 100"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_db(path: Path, size: int) -> None:
    store = open_store(path)
    load_fixture(store, "hanoi-2021")
    if size > 1685:
        store.apply_import(generate(size - 1685, seed=7), actor="bench", source="bench")
    store.close()


def raw_ms(path: Path, sql: str, repeat: int = 20) -> float:
    store = open_store(path, migrate=False)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        store.db.execute(sql).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    store.close()
    return statistics.median(times)


async def load(url: str, seconds: float, concurrency: int, headers: dict | None = None) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                resp = await client.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                if resp.status_code not in (200, 304):
                    errors += 1
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
    latencies.sort()
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2], 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1685,100000")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load.json"))
    ap.add_argument("--no-peer", dest="peer", action="store_false",
                    help="Skip the cache scenarios and the Datasette peer (issue 15).")
    ap.add_argument("--load", choices=["auto", "wrk", "httpx"], default="auto",
                    help="Load generator (auto: wrk when installed).")
    ap.add_argument("--writes", type=int, default=20, help="Writes timed by the first-request-after-a-write test.")
    ap.add_argument("--federation", action="store_true", help="Also time a pull of 34 units answering in 200 ms.")
    args = ap.parse_args()
    use_wrk = args.load == "wrk" or (args.load == "auto" and bench_cache.have_wrk())

    def run_load(url: str, headers: dict | None = None) -> dict:
        if use_wrk:
            return bench_cache.wrk(url, args.seconds, args.concurrency, headers)
        return asyncio.run(load(url, args.seconds, args.concurrency, headers))

    results = []
    cache_rows: list[dict] = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as d:
            db = Path(d) / "registry.db"
            build_db(db, size)
            port = free_port()
            env = {**os.environ, "TTHC_DATABASE": str(db), "TTHC_PORT": str(port), "TTHC_LOG_FORMAT": "json"}
            log = Path(d) / "server.log"
            server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf",
                                       "registry:create_app()"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=log.open("wb"))
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(150):
                    try:
                        if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.2)
                for name, path in ENDPOINTS.items():
                    httpx.get(base + path, timeout=30)  # warm up
                    figures = run_load(base + path)
                    results.append({"procedures": size, "endpoint": name, **figures,
                                    "raw_sql_ms": round(raw_ms(db, RAW[name]), 3)})
                if args.peer:
                    cache_rows.extend(cache_scenarios(base, db, log, size, run_load, args.writes))
            finally:
                server.terminate()
                server.wait(timeout=30)
            if args.peer:
                port = free_port()
                peer = bench_cache.start_datasette(db, port)
                try:
                    url = bench_cache.datasette_url(port, db, RAW_TOTALS)
                    httpx.get(url, timeout=60).raise_for_status()
                    cache_rows.append({"procedures": size, "server": "datasette", "scenario": "raw aggregate",
                                       **run_load(url)})
                finally:
                    peer.terminate()
                    peer.wait(timeout=30)
    print(f"{'procedures':>10} {'endpoint':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'raw SQL ms':>10}")
    for r in results:
        print(f"{r['procedures']:>10,} {r['endpoint']:>11} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['errors']:>6} {r['raw_sql_ms']:>10}")
    if cache_rows:
        print_cache_table(cache_rows)
    federation = bench_cache.federation_bench() if args.federation else None
    if federation:
        print(f"federation: {federation['units']} units answering in {federation['answer_delay_s']} s: "
              f"first pull {federation['first_pull']['seconds']} s, "
              f"second (304) {federation['second_pull_304']['seconds']} s")
    doc = {"machine": platform.platform(), "cores": os.cpu_count(), "seconds": args.seconds,
           "concurrency": args.concurrency, "load_generator": "wrk" if use_wrk else "httpx", "results": results,
           "cache": cache_rows, "federation": federation}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2), "utf-8")
    print(f"wrote {args.out}")


def cache_scenarios(base: str, db: Path, log: Path, size: int, run_load, writes: int) -> list[dict]:
    """Repeated reads (200), conditional reads (304, with server time), first read after a write."""
    url = base + "/api/v1/coverage"
    etag = httpx.get(url, timeout=60).headers["ETag"]
    rows = [{"procedures": size, "server": "tthc", "scenario": "repeated read (200)", **run_load(url)}]
    start = log.stat().st_size
    figures = run_load(url, {"If-None-Match": etag})
    time.sleep(0.5)
    server = bench_cache.server_times(log, 304, since=start)
    rows.append({"procedures": size, "server": "tthc", "scenario": "conditional read (304)", **figures,
                 "server_p50_ms": bench_cache.pct(server, 0.5), "server_p99_ms": bench_cache.pct(server, 0.99)})
    rows.append({"procedures": size, "server": "tthc", "scenario": "first read after a write",
                 **bench_cache.after_write(base, db, log, writes)})
    return rows


def print_cache_table(rows: list[dict]) -> None:
    print(f"\n{'procedures':>10} {'server':>9} {'scenario':>24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'server p50/p99 ms':>18} {'x datasette':>11}")
    peers = {r["procedures"]: r["rps"] for r in rows if r["server"] == "datasette"}
    for r in rows:
        if "rps" not in r:
            continue
        server = f"{r['server_p50_ms']}/{r['server_p99_ms']}" if "server_p50_ms" in r else ""
        ratio = f"{r['rps'] / peers[r['procedures']]:.1f}" if peers.get(r["procedures"]) else ""
        print(f"{r['procedures']:>10,} {r['server']:>9} {r['scenario']:>24} {r['rps']:>8} {r['p50_ms']:>8} "
              f"{r['p99_ms']:>8} {server:>18} {ratio:>11}")
    for r in rows:
        if r["scenario"] == "first read after a write":
            print(f"{r['procedures']:>10,} first read after a write: client p50 {r['first_get_client_p50_ms']} ms, "
                  f"server p50 {r['first_get_server_p50_ms']} ms; in-process: today's uncached "
                  f"{r['uncached_compute_p50_ms']} ms vs cache miss {r['cache_miss_compute_p50_ms']} ms")


if __name__ == "__main__":
    main()
