"""Benchmark: what issue 10's import guards cost, against the same import without them.

Run: python benchmarks/bench_import_guards.py [--rows 20000] [--repeat 5]
Prints a table and writes benchmarks/results/import_guards.json. Medians of --repeat runs.

- scope rule per row: a dry-run import of N rows by an editor whose scope covers every row
  (the procedure service's rule runs on each) vs. the same import by a trusted caller (CLI);
- blank cells kept: a CSV re-import over stored rows with a blank column vs. the same file full;
- xlsx bounds: refusing a 1 MiB zip bomb that would inflate to 512 MiB vs. reading the real
  261-row national export `danh-sach-tthc-BoTuPhap.xlsx` (the floor: a real file's parse).
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import auth  # noqa: E402
from registry.importer import ImportFileError, parse  # noqa: E402
from registry.imports import run_import  # noqa: E402
from registry.store import open_store  # noqa: E402

AGENCY = "Sở Tư pháp"
REAL = ROOT / "tests" / "data" / "national-catalog" / "danh-sach-tthc-BoTuPhap.xlsx"


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _paired(a, b, repeat: int) -> tuple[float, float]:
    """Medians of `a` and `b` timed alternately (a shared machine's load drifts between runs)."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, out in ((a, ta), (b, tb)):
            started = time.perf_counter()
            fn()
            out.append(time.perf_counter() - started)
    return statistics.median(ta), statistics.median(tb)


def _rows_jsonl(n: int) -> bytes:
    return "".join(json.dumps({"code": f"1.{i:06d}", "name": f"Thủ tục {i}", "agency": AGENCY,
                               "field": "Hộ tịch", "service_level": 3}, ensure_ascii=False) + "\n"
                   for i in range(n)).encode("utf-8")


def _csv(n: int, blank: bool) -> bytes:
    lines = ["code,name,agency,field"]
    lines += [f"1.{i:06d},Thủ tục {i},{'' if blank else AGENCY},Hộ tịch" for i in range(n)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<x>" + b" " * (512 * 2**20) + b"</x>")
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "b.db")
        auth.add_user(store, "ed", "mat-khau-bench", "editor", [AGENCY], actor="bench")
        editor = auth.authenticate(store, "ed", "mat-khau-bench")
        payload = _rows_jsonl(args.rows)
        results["trusted_s"], results["editor_s"] = _paired(
            lambda: run_import(store, payload, "b.jsonl", actor="b", dry_run=True),
            lambda: run_import(store, payload, "b.jsonl", principal=editor, dry_run=True), args.repeat)
        run_import(store, _csv(args.rows, False), "full.csv", actor="b")
        full, blank = _csv(args.rows, False), _csv(args.rows, True)
        results["reimport_full_s"], results["reimport_blank_s"] = _paired(
            lambda: run_import(store, full, "f.csv", actor="b", dry_run=True),
            lambda: run_import(store, blank, "b.csv", actor="b", dry_run=True), args.repeat)
        store.close()
    bomb, real = _bomb(), REAL.read_bytes()
    parse(real, REAL.name)  # warm-up: imports openpyxl once, outside the timings

    def refuse() -> None:
        try:
            parse(bomb, "bomb.xlsx")
        except ImportFileError:
            return
        raise AssertionError("the zip bomb was read")
    results["bomb_refused_s"] = _median(refuse, args.repeat)
    results["real_xlsx_parse_s"] = _median(lambda: parse(real, REAL.name), args.repeat)
    results["bomb_bytes"] = len(bomb)
    table = [
        ("dry-run import, trusted (rows/s)", args.rows / results["trusted_s"]),
        ("dry-run import, editor + scope rule (rows/s)", args.rows / results["editor_s"]),
        ("scope rule cost (editor / trusted)", results["editor_s"] / results["trusted_s"]),
        ("re-import, full cells (rows/s)", args.rows / results["reimport_full_s"]),
        ("re-import, blank column kept (rows/s)", args.rows / results["reimport_blank_s"]),
        ("blank column / full (time ratio)", results["reimport_blank_s"] / results["reimport_full_s"]),
        ("zip bomb refused (ms)", results["bomb_refused_s"] * 1000),
        ("real 271-row xlsx parsed (ms)", results["real_xlsx_parse_s"] * 1000),
        ("bomb refusal / real parse", results["bomb_refused_s"] / results["real_xlsx_parse_s"]),
    ]
    print(f"rows={args.rows} repeat={args.repeat} (medians)")
    for label, value in table:
        print(f"{label:48} {value:>14,.3f}")
    out = ROOT / "benchmarks" / "results" / "import_guards.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "repeat": args.repeat, "python": platform.python_version(),
                               **results, "table": dict(table)}, indent=1, ensure_ascii=False), "utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
