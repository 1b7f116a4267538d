"""Benchmark: import of N generated procedures and the coverage report, against bare SQLite.

Run: python benchmarks/bench_registry.py [--rows 100000] [--repeat 3]
Prints a table and writes benchmarks/results/registry.json. Medians of --repeat runs.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import settings as settings_mod  # noqa: E402
from registry.importer import parse  # noqa: E402
from registry.imports import run_import  # noqa: E402
from registry.reporting import coverage_report  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import open_store  # noqa: E402
from registry.store.procedures import to_row  # noqa: E402
from registry.schemas import with_defaults  # noqa: E402

FIELDS = ["Hộ tịch", "Đất đai", "Xây dựng", "Giáo dục", "Y tế", "Thuế", "Giao thông", "Tư pháp"]
AGENCIES = ["Sở Tư pháp", "Sở Xây dựng", "UBND cấp xã", "Sở Y tế", "Sở Giáo dục và Đào tạo",
            "Sở Tài nguyên và Môi trường", "Cục Thuế", "Sở Giao thông vận tải"]

RAW_TOTALS = """
SELECT count(*),
       sum(service_level IN (3, 4)),
       sum(service_level = 4),
       sum(service_level IN (3, 4) AND dvcqg_integrated),
       sum(service_level IN (3, 4) AND sso AND payment_channel != 'none'),
       sum(has_fee),
       sum(has_fee AND payment_channel != 'none')
FROM procedures WHERE status = 'active'
"""


def generate(n: int, seed: int = 42) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        level = rnd.choice([2, 3, 3, 4, 4])
        fee = rnd.random() < 0.45
        rows.append({
            "code": f"{1 + i // 1_000_000}.{i % 1_000_000:06d}", "name": f"Thủ tục số {i} về {rnd.choice(FIELDS)}",
            "field": rnd.choice(FIELDS), "agency": rnd.choice(AGENCIES), "levels": ["tinh"],
            "service_level": level, "has_fee": fee, "dvcqg_integrated": level >= 3 and rnd.random() < 0.3,
            "payment_channel": rnd.choice(["dvcqg_payment", "paygov"]) if fee and rnd.random() < 0.3 else "none",
            "sso": rnd.random() < 0.3,
        })
    return rows


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_import(rows: list[dict], repeat: int, tmp: Path) -> dict:
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    full = [to_row({**with_defaults(r)}) for r in rows]
    cols = list(full[0].keys()) + ["version", "created_at", "updated_at"]
    tuples = [tuple(r.values()) + (1, "t", "t") for r in full]
    results = {"bare": [], "bare_multirow": [], "service": [], "store": [], "parse": []}
    insert = f"INSERT INTO procedures ({', '.join(cols)}) VALUES "
    one = "(" + ", ".join("?" * len(cols)) + ")"
    for k in range(repeat):
        # bare: executemany of ready-made tuples into the same schema (FTS triggers included)
        s = open_store(tmp / f"bare{k}.db")
        t0 = time.perf_counter()
        s.db.conn.execute("BEGIN")
        s.db.conn.executemany(f"INSERT INTO procedures ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                              tuples)
        s.db.conn.execute("COMMIT")
        results["bare"].append(time.perf_counter() - t0)
        s.close()
        # detail, not the goal's baseline: bare multi-row INSERTs (1000 rows per statement), the
        # statement shape apply_import uses; FTS5 flushes its pending terms once per statement
        s = open_store(tmp / f"multi{k}.db")
        t0 = time.perf_counter()
        s.db.conn.execute("BEGIN")
        for i in range(0, len(tuples), 1000):
            part = tuples[i:i + 1000]
            s.db.conn.execute(insert + ", ".join([one] * len(part)), [v for t in part for v in t])
        s.db.conn.execute("COMMIT")
        results["bare_multirow"].append(time.perf_counter() - t0)
        s.close()
        # detail: parse + validate alone (no database)
        t0 = time.perf_counter()
        parse(payload, "bench.jsonl")
        results["parse"].append(time.perf_counter() - t0)
        # our import service: file bytes -> parse -> validate -> apply (audit included)
        s = open_store(tmp / f"svc{k}.db")
        t0 = time.perf_counter()
        report = run_import(s, payload, "bench.jsonl", actor="bench")
        results["service"].append(time.perf_counter() - t0)
        assert report.ok and len(report.inserted) == len(rows), report.errors[:3]
        s.close()
        # the store alone: validated rows -> apply (audit included)
        s = open_store(tmp / f"store{k}.db")
        t0 = time.perf_counter()
        s.apply_import(rows, actor="bench", source="bench")
        results["store"].append(time.perf_counter() - t0)
        s.close()
    n = len(rows)
    med = {k: statistics.median(v) for k, v in results.items()}
    return {"rows": n, **{f"{k}_rows_per_s": round(n / v) for k, v in med.items()},
            "service_vs_bare": round(med["bare"] / med["service"], 3),
            "store_vs_bare": round(med["bare"] / med["store"], 3),
            "store_vs_bare_multirow": round(med["bare_multirow"] / med["store"], 3)}


def bench_coverage(store, cfg: dict, repeat: int) -> dict:
    ours = median_ms(lambda: coverage_report(store, cfg), repeat)
    raw = median_ms(lambda: store.db.execute(RAW_TOTALS).fetchone(), repeat)
    report = coverage_report(store, cfg)
    total = store.db.execute(RAW_TOTALS).fetchone()
    assert report["totals"]["procedures"] == total[0] and report["totals"]["online"] == total[1]
    return {"procedures": total[0], "report_ms": round(ours, 2), "raw_sql_ms": round(raw, 2),
            "ratio": round(ours / raw, 2) if raw else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "registry.json"))
    args = ap.parse_args()
    cfg = settings_mod.load({})
    out: dict = {"machine": platform.platform(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = generate(args.rows)
        out["import"] = bench_import(rows, args.repeat, tmp)
        small = open_store(tmp / "hanoi.db")
        load_fixture(small, "hanoi-2021")
        out["coverage_1685"] = bench_coverage(small, cfg, max(args.repeat, 5))
        big = open_store(tmp / "store0.db")
        out["coverage_big"] = bench_coverage(big, cfg, max(args.repeat, 5))
    imp = out["import"]
    print(f"{'measure':44} {'value':>14}")
    print(f"{'import rows':44} {imp['rows']:>14,}")
    print(f"{'bare executemany rows/s':44} {imp['bare_rows_per_s']:>14,}")
    print(f"{'import service rows/s (parse+validate+write)':44} {imp['service_rows_per_s']:>14,}")
    print(f"{'store.apply_import rows/s (write+audit)':44} {imp['store_rows_per_s']:>14,}")
    print(f"{'service / bare (goal >= 0.5)':44} {imp['service_vs_bare']:>14}")
    print(f"{'store / bare':44} {imp['store_vs_bare']:>14}")
    print(f"{'detail: bare multi-row INSERT rows/s':44} {imp['bare_multirow_rows_per_s']:>14,}")
    print(f"{'detail: parse+validate rows/s (no database)':44} {imp['parse_rows_per_s']:>14,}")
    print(f"{'detail: store / bare multi-row':44} {imp['store_vs_bare_multirow']:>14}")
    for key in ("coverage_1685", "coverage_big"):
        c = out[key]
        print(f"{'coverage report ms @ ' + format(c['procedures'], ','):44} {c['report_ms']:>14}")
        print(f"{'raw SQL aggregate ms @ ' + format(c['procedures'], ','):44} {c['raw_sql_ms']:>14}")
        print(f"{'ratio (goal <= 2)':44} {c['ratio']:>14}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2), "utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
