"""Where the sweep's client CPU goes: one sweep of the hanoi-2021 fixture under cProfile.

Run: python benchmarks/profile_sweep.py [--style spa|legacy] [--concurrency 32] [--top 25]
     [--linkage-only] [--per-code]

Starts its own mock_portal (no latency, no faults), sweeps with the rate limit off, and prints
client CPU per portal call (calls counted by the portal's journal, bulk reads included) and
the functions with the most cumulative and own time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import create_app, probing  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import open_store  # noqa: E402

WORLD = ROOT / "fixtures" / "worlds" / "hanoi-2021.json"


def journal_seq(url: str) -> int:
    entries = httpx.get(f"{url}/_admin/journal", params={"limit": 1}, timeout=30).json()["entries"]
    return entries[-1]["seq"] if entries else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="spa", choices=("spa", "legacy"))
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--linkage-only", action="store_true")
    ap.add_argument("--per-code", action="store_true", help="refuse the bulk LayDVC (per-code calls)")
    ap.add_argument("--no-profile", action="store_true", help="only measure CPU per call")
    args = ap.parse_args()
    os.environ.pop("TTHC_DATABASE", None)
    extra = ["--laydvc-bulk", "refuse"] if args.per_code else []
    proc = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", "--world", str(WORLD),
                             "--style", args.style, *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    url = ""
    for _ in range(50):
        line = proc.stdout.readline()
        if "listening on" in line:
            url = line.strip().rsplit(" ", 1)[-1]
            break
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "registry.db"
            with open_store(db) as store:
                load_fixture(store, "hanoi-2021")
            app = create_app({"DATABASE": str(db), "PORTAL_URL": url, "PROBE_CONCURRENCY": args.concurrency,
                              "PROBE_RATE": 0.0, "SWEEP_INTERVAL_MINUTES": 0.0})
            seq = journal_seq(url)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime
            profiler = cProfile.Profile()
            if not args.no_profile:
                profiler.enable()
            run = probing.sweep_now(app, kind="linkage" if args.linkage_only else "all", actor="profile")
            profiler.disable()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime - cpu
            calls = journal_seq(url) - seq
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{run['status']}: {run['done']} items, {calls} portal calls, client CPU {cpu:.2f} s "
          f"{'' if args.no_profile else '(under the profiler) '}= {cpu / calls * 1000:.2f} ms per call")
    for key in () if args.no_profile else ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
