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


def one_sweep(url: str, concurrency: int, kind: str) -> tuple[float, int]:
    """(client CPU seconds, portal calls) of one sweep on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "registry.db"
        with open_store(db) as store:
            load_fixture(store, "hanoi-2021")
        app = create_app({"DATABASE": str(db), "PORTAL_URL": url, "PROBE_CONCURRENCY": concurrency,
                          "PROBE_RATE": 0.0, "SWEEP_INTERVAL_MINUTES": 0.0})
        seq = journal_seq(url)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        probing.sweep_now(app, kind=kind, actor="profile")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime - cpu, journal_seq(url) - seq


def compare(args: argparse.Namespace) -> None:
    """Same portal, same run: the h11 transport against httpcore's pools, alternating."""
    import statistics

    from connectors import transport
    from connectors.h11pool import KeptAliveTransport
    from connectors.pools import PinnedPoolTransport

    proc = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", "--world", str(WORLD),
                             "--style", args.style], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    url = ""
    for _ in range(50):
        line = proc.stdout.readline()
        if "listening on" in line:
            url = line.strip().rsplit(" ", 1)[-1]
            break
    per_call: dict[str, list[float]] = {"h11": [], "httpcore": []}
    try:
        for _ in range(args.compare):
            for name, cls in (("h11", KeptAliveTransport), ("httpcore", PinnedPoolTransport)):
                transport.KeptAliveTransport = cls  # what new_client builds
                cpu, calls = one_sweep(url, args.concurrency, "linkage" if args.linkage_only else "all")
                per_call[name].append(cpu / calls * 1000)
    finally:
        transport.KeptAliveTransport = KeptAliveTransport
        proc.terminate()
        proc.wait(10)
    h11, core = statistics.median(per_call["h11"]), statistics.median(per_call["httpcore"])
    print(f"client CPU per portal call, median of {args.compare} alternating sweeps ({args.style}):")
    print(f"  h11 transport   {h11:.3f} ms   {[round(x, 3) for x in per_call['h11']]}")
    print(f"  httpcore pools  {core:.3f} ms   {[round(x, 3) for x in per_call['httpcore']]}")
    print(f"  ratio {h11 / core:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="spa", choices=("spa", "legacy"))
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--linkage-only", action="store_true")
    ap.add_argument("--per-code", action="store_true", help="refuse the bulk LayDVC (per-code calls)")
    ap.add_argument("--no-profile", action="store_true", help="only measure CPU per call")
    ap.add_argument("--compare", type=int, default=0, metavar="ROUNDS",
                    help="no profile: alternate ROUNDS sweeps with the h11 transport and with httpx's "
                         "own pools (httpcore, the transport before issue 12); print the medians")
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return
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
