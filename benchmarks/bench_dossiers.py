"""Benchmark: dossiers at a province's scale — bulk import, API sync, memory, the year's report.

Run: python benchmarks/bench_dossiers.py [--dossiers 3000000] [--api 20000] [--repeat 5]
Prints a table and writes benchmarks/results/dossiers.json.

- bulk import: the store's write path (rows, rollups in the same transaction, one transaction
  for the whole load) against a bare `executemany` of the same rows into the same table in the
  same run (goal >= 0.5x). Row generation is outside both timings. The file path (JSONL read +
  marshmallow validation + write) is measured on a sample, rows/s.
- API sync: `POST /api/v1/dossiers/sync` in batches of 100 through the WSGI app (in process).
- memory: peak RSS of this process after the bulk import (goal <= 500 MB; rows are streamed).
- report: the year's four dossier indicators from the rollups against the raw SQL aggregate
  computing the same figures over the dossier table, medians (goal <= 100 ms, >= 20x); the
  figures must be equal. The full tthc-coverage/2 report (with /1's procedure part) is shown too.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import auth, create_app, dossiers  # noqa: E402
from registry.dossier_coverage import indicators  # noqa: E402
from registry.dossier_schemas import normalise_dossier  # noqa: E402
from registry.importer import parse  # noqa: E402
from registry.store import open_store  # noqa: E402
from registry.store.db import now_iso, write_transaction  # noqa: E402
from registry.store.dossiers import DOSSIER_COLS  # noqa: E402

CHUNK = 20_000
YEARS = (2019, 2020, 2021)


def procedures() -> list[dict[str, Any]]:
    parsed = parse((ROOT / "fixtures" / "hanoi-2021" / "procedures.jsonl").read_bytes(), "p.jsonl")
    return parsed.rows


def raw_dossiers(n: int, codes: list[tuple[str, int, bool]], seed: int = 7) -> Iterator[dict[str, Any]]:
    """n dossiers over three years, Zipf-skewed over procedures (contract keys)."""
    rng = random.Random(seed)
    weights = [1 / (k + 1) ** 1.1 for k in range(len(codes))]
    start = datetime(YEARS[0], 1, 1, 8)
    span_days = 365 * len(YEARS)
    picks = rng.choices(codes, weights=weights, k=min(n, 200_000))
    for i in range(n):
        code, level, fee = picks[i % len(picks)]
        received = start + timedelta(days=rng.randrange(span_days), minutes=rng.randrange(600))
        due = received + timedelta(days=rng.randint(3, 15))
        online = level >= 3 and rng.random() < (0.55 if level == 4 else 0.3)
        d = {"MaHoSo": f"B{i:09d}", "MaTTHC": code, "NgayTiepNhan": received.strftime("%Y%m%d%H%M%S"),
             "NgayHenTra": due.strftime("%Y%m%d%H%M%S"), "KenhThucHien": "2" if online else "1",
             "DuocThanhToanTrucTuyen": "1" if fee and online and rng.random() < 0.6 else "3",
             "DanhSachLePhi": [{"SoTien": "50000"}] if fee else []}
        if rng.random() < 0.9:
            finished = received + (due - received) * rng.uniform(0.3, 1.25)
            d["TrangThaiHoSo"] = "10"
            d["NgayKetThucXuLy"] = finished.strftime("%Y%m%d%H%M%S")
        else:
            d["TrangThaiHoSo"] = "4"
        yield d


def chunks(n: int, codes: list[tuple[str, int, bool]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for d in raw_dossiers(n, codes):
        batch.append(normalise_dossier(d))
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_bulk(n: int, codes: list[tuple[str, int, bool]], procs: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    # Bare: the same rows into the same (fresh) table, one executemany per chunk, one transaction.
    bare_store = open_store(tmp / "bare.db")
    sql = f"INSERT INTO dossiers ({', '.join(DOSSIER_COLS)}) VALUES ({', '.join('?' * len(DOSSIER_COLS))})"
    bare_s = 0.0
    now = now_iso()
    bare_store.db.conn.execute("BEGIN IMMEDIATE")
    for batch in chunks(n, codes):
        tuples = [(r["mahoso"], r["code"], r["status"], r["channel"], int(r["paid_online"]), int(r["has_fee"]),
                   r["received_at"], r["due_at"], r["finished_at"], r["returned_at"],
                   r["payload_text"], "bench", now, now, "pending",
                   None, None) for r in batch]
        t0 = time.perf_counter()
        bare_store.db.conn.executemany(sql, tuples)
        bare_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    bare_store.db.conn.execute("COMMIT")
    bare_s += time.perf_counter() - t0
    bare_store.close()
    (tmp / "bare.db").unlink()
    # The store: rows + exact rollups, one transaction for the whole load.
    store = open_store(tmp / "store.db")
    store.apply_import(procs, actor="bench", source="bench")
    store_s = 0.0
    with write_transaction(store.db):
        for batch in chunks(n, codes):
            t0 = time.perf_counter()
            store.write_dossiers(batch, create_only=False, source="bench")
            store_s += time.perf_counter() - t0
        t0 = time.perf_counter()
    store_s += time.perf_counter() - t0  # the commit
    peak = rss_mb()
    rollups = store.db.execute("SELECT count(*) FROM dossier_daily").fetchone()[0]
    store.close()
    return {"rows": n, "bare_executemany_rows_per_s": n / bare_s, "store_rows_per_s": n / store_s,
            "ratio_store_to_bare": bare_s / store_s, "bare_s": bare_s, "store_s": store_s,
            "peak_rss_mb_after_bulk": peak, "rollup_rows": rollups}


def bench_file(n: int, codes: list[tuple[str, int, bool]], procs: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    path = tmp / "sample.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for d in raw_dossiers(n, codes, seed=11):
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    store = open_store(tmp / "file.db")
    store.apply_import(procs, actor="bench", source="bench")
    t0 = time.perf_counter()
    report = dossiers.import_file(store, {}, path)
    elapsed = time.perf_counter() - t0
    store.close()
    assert report.ok, report.errors[:3]
    return {"rows": n, "rows_per_s": n / elapsed, "seconds": elapsed}


def bench_api(n: int, codes: list[tuple[str, int, bool]], tmp: Path) -> dict[str, Any]:
    db = tmp / "api.db"
    with open_store(db) as store:
        store.apply_import(procedures(), actor="bench", source="bench")
        auth.add_user(store, "bench-system", "bench-password", "admin", (), actor="bench")
        token, _ = auth.issue_token(store, "bench-system", actor="bench")
    app = create_app({"DATABASE": str(db), "TESTING": True})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    batch: list[dict[str, Any]] = []
    elapsed = 0.0
    sent = 0
    for d in raw_dossiers(n, codes, seed=13):
        batch.append(d)
        if len(batch) == 100:
            body = {"isUpdating": "False", "data": batch}
            t0 = time.perf_counter()
            resp = client.post("/api/v1/dossiers/sync", json=body, headers=headers)
            elapsed += time.perf_counter() - t0
            assert resp.status_code == 200, resp.get_json()
            sent += len(batch)
            batch = []
    return {"dossiers": sent, "batch": 100, "dossiers_per_s": sent / elapsed, "seconds": elapsed}


def median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_report(tmp: Path, repeat: int) -> dict[str, Any]:
    store = open_store(tmp / "store.db")
    cfg = {"ROUNDING": "truncate", "UNIT_CODE": "000.00.00.H26", "UNIT_NAME": "bench", "STALENESS_DAYS": 7.0}
    period = dossiers.parse_period("2021")
    procs = store.dossier_procedures()
    targets: dict[str, Any] = {}

    def from_rollups() -> list[dict[str, Any]]:
        counts = store.dossier_period_counts(period["from"], period["to"])
        return indicators(procs, counts, counts, targets, basis="declared")

    def from_raw() -> list[dict[str, Any]]:
        counts = store.dossier_raw_counts(period["from"], period["to"])
        return indicators(procs, counts, counts, targets, basis="declared")

    same = ([(i["id"], i["numerator"], i["denominator"]) for i in from_rollups()]
            == [(i["id"], i["numerator"], i["denominator"]) for i in from_raw()])
    rollup_ms = median_ms(from_rollups, repeat)
    raw_ms = median_ms(from_raw, max(1, repeat // 2))
    full_ms = median_ms(lambda: dossiers.dossier_report(store, cfg, period=period), repeat)
    figures = {i["id"]: [i["numerator"], i["denominator"], i["percent"]] for i in from_rollups()}
    store.close()
    return {"rollup_report_ms": rollup_ms, "raw_aggregate_ms": raw_ms, "speedup": raw_ms / rollup_ms,
            "full_v2_report_ms": full_ms, "figures_equal": same, "figures": figures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossiers", type=int, default=3_000_000)
    ap.add_argument("--file-sample", type=int, default=100_000)
    ap.add_argument("--api", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dossiers.json"))
    args = ap.parse_args()
    procs = procedures()
    codes = [(p["code"], int(p["service_level"]), bool(p["has_fee"])) for p in procs]
    random.Random(3).shuffle(codes)
    with tempfile.TemporaryDirectory(prefix="tthc-bench-dossiers-") as tmpdir:
        tmp = Path(tmpdir)
        bulk = bench_bulk(args.dossiers, codes, procs, tmp)
        report = bench_report(tmp, args.repeat)
        (tmp / "store.db").unlink()
        file = bench_file(args.file_sample, codes, procs, tmp)
        api = bench_api(args.api, codes, tmp)
    out = {"benchmark": "dossiers", "python": platform.python_version(), "machine": platform.machine(),
           "bulk": bulk, "file_import": file, "api_sync": api, "report": report,
           "goals": {"bulk_ratio_min": 0.5, "peak_rss_mb_max": 500, "report_ms_max": 100, "speedup_min": 20}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False), "utf-8")
    rows = [
        ("bulk import: bare executemany (rows/s)", f"{bulk['bare_executemany_rows_per_s']:,.0f}", ""),
        ("bulk import: store + rollups (rows/s)", f"{bulk['store_rows_per_s']:,.0f}",
         f"{bulk['ratio_store_to_bare']:.2f}x bare (goal >= 0.5x)"),
        ("file import: JSONL, validated (rows/s)", f"{file['rows_per_s']:,.0f}", f"sample {file['rows']:,}"),
        ("API sync, batches of 100 (dossiers/s)", f"{api['dossiers_per_s']:,.0f}", f"sample {api['dossiers']:,}"),
        ("peak RSS after bulk import (MB)", f"{bulk['peak_rss_mb_after_bulk']:,.0f}", "goal <= 500"),
        ("year report from rollups (ms, median)", f"{report['rollup_report_ms']:.1f}", "goal <= 100"),
        ("same figures by raw aggregate (ms)", f"{report['raw_aggregate_ms']:.1f}",
         f"{report['speedup']:.0f}x slower (goal >= 20x); equal: {report['figures_equal']}"),
        ("full tthc-coverage/2 report (ms)", f"{report['full_v2_report_ms']:.1f}", "with /1's procedure part"),
    ]
    print(f"dossiers: {args.dossiers:,} over {YEARS[0]}-{YEARS[-1]}; rollup rows {bulk['rollup_rows']:,}")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
