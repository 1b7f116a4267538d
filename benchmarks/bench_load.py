"""Load benchmark: GET /api/v1/coverage and the procedure list under load, against gunicorn.

Run: python benchmarks/bench_load.py [--sizes 1685,100000] [--seconds 10] [--concurrency 16]
For each size: a fresh database, gunicorn started as `tthc serve` would (TTHC_WORKERS x
TTHC_THREADS), an asyncio + httpx load generator on the same machine (it competes with the server
for the 2 cores: the figures are a floor), and the raw SQLite query time of the same figures
measured in the same run. Prints a table and writes benchmarks/results/load.json.
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


async def load(url: str, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                resp = await client.get(url)
                latencies.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
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
    args = ap.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as d:
            db = Path(d) / "registry.db"
            build_db(db, size)
            port = free_port()
            env = {**os.environ, "TTHC_DATABASE": str(db), "TTHC_PORT": str(port), "TTHC_LOG_FORMAT": "json"}
            server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:registry.gunicorn_conf",
                                       "registry:create_app()"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
                    figures = asyncio.run(load(base + path, args.seconds, args.concurrency))
                    results.append({"procedures": size, "endpoint": name, **figures,
                                    "raw_sql_ms": round(raw_ms(db, RAW[name]), 3)})
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"{'procedures':>10} {'endpoint':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'raw SQL ms':>10}")
    for r in results:
        print(f"{r['procedures']:>10,} {r['endpoint']:>11} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['errors']:>6} {r['raw_sql_ms']:>10}")
    doc = {"machine": platform.platform(), "cores": os.cpu_count(), "seconds": args.seconds,
           "concurrency": args.concurrency, "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2), "utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
