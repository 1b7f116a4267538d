"""Callback benchmark: what hostile callbacks cost in disk and time, against a genuine one.

Run: python benchmarks/bench_callbacks.py [--n 300]
A real server (werkzeug, threaded, 127.0.0.1) on a fresh database; httpx posts:
- N genuine signed IPNs (each a new transaction): the peer every other figure is compared with;
- N forged IPNs, all different (bad checksum): one bounded rejection record each;
- N copies of one forged IPN: one record, its count raised;
- a few 19 MiB forged bodies: refused with 413 before parsing.
Medians per request and database growth (file + WAL) per request. Prints a table and writes
benchmarks/results/callbacks.json. Figures, not assertions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import create_app  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import open_store  # noqa: E402

IPN = "/api/v1/payments/paygov/ipn"
FIELDS = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "payDate", "orderInfo")


def signed(i: int, code: str) -> dict[str, str]:
    body = {"amount": "120000", "orderId": f"ORD-{code}-{i}", "orderInfo": "Le phi", "requestCode": f"REQ{i}",
            "transactionNo": f"PG{i:012d}", "payDate": "20261201100000", "paygate": "PAYGOV", "errorCode": "00",
            "type": "PAYMENT", "transactionCode": f"FT{i}"}
    body["checksum"] = hashlib.sha256("|".join([body[k] for k in FIELDS] + ["paygov-secret"]).encode()).hexdigest()
    return body


def size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def run(label: str, n: int, db: Path, send: Callable[[int], httpx.Response], expect: int) -> dict[str, Any]:
    before, times = size(db), []
    for i in range(n):
        t0 = time.perf_counter()
        resp = send(i)
        times.append(time.perf_counter() - t0)
        assert resp.status_code == expect, (label, resp.status_code, resp.text[:200])
    return {"case": label, "requests": n, "median_ms": round(statistics.median(times) * 1000, 2),
            "db_bytes_per_request": round((size(db) - before) / n)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "registry.db"
        with open_store(db) as store:
            load_fixture(store, "hanoi-2021")
            code = store.list_procedures(limit=1)[0][0]["code"]
        server = make_server("127.0.0.1", 0, create_app({"DATABASE": str(db)}), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.port}{IPN}"
        huge = b'{"orderId": "' + b"A" * (19 * 1024 * 1024) + b'"}'
        with httpx.Client(timeout=60) as client:
            rows = [
                run("genuine IPN (new transaction)", args.n, db, lambda i: client.post(url, json=signed(i, code)), 200),
                run("forged IPN, each different", args.n, db,
                    lambda i: client.post(url, json={**signed(10**6 + i, code), "amount": "1"}), 200),
                run("the same forged IPN again", args.n, db,
                    lambda i: client.post(url, json={**signed(0, code), "amount": "2"}), 200),
                run("19 MiB forged body", 5, db,
                    lambda i: client.post(url, content=huge, headers={"Content-Type": "application/json"}), 413),
            ]
        server.shutdown()
        with open_store(db) as store:
            records = store.list_callback_rejections()
    peer = rows[0]["median_ms"]
    for row in rows:
        row["time_vs_genuine"] = round(row["median_ms"] / peer, 2)
    print(f"{'case':32} {'requests':>8} {'median ms':>10} {'vs genuine':>10} {'DB bytes/request':>17}")
    for r in rows:
        print(f"{r['case']:32} {r['requests']:>8} {r['median_ms']:>10} {r['time_vs_genuine']:>10} "
              f"{r['db_bytes_per_request']:>17}")
    print(f"rejection records kept: {len(records)} (largest payload {max(len(r['payload']) for r in records)} chars)")
    out = {"machine": platform.platform(), "python": platform.python_version(), "rows": rows,
           "rejection_records": len(records)}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "callbacks.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
