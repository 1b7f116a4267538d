"""Benchmark: sweeps of the hanoi-2021 fixture (1,685 procedures) against mock_portal.

Run: python benchmarks/bench_sweep.py [--latency-ms 50] [--concurrency 1 8 32 64]
                                       [--subset-at-1 120] [--fault-rate 0.10]

1. Every call the portal receives is delayed by --latency-ms (a mock_portal `latency` fault).
   For each concurrency, a full sweep (linkage + payment) is timed against its floor:
   calls x latency / concurrency, where calls = every HTTP attempt the probes made (from the
   stored evidence). At concurrency 1 a full sweep would take minutes: the first
   --subset-at-1 procedures are swept and the time extrapolated by calls (said in the output).
2. At concurrency 32, --fault-rate transient faults (503, 502, 429, resets, timeouts) are added
   to the latency; each verdict is compared with the world's truth (the world file says what
   is integrated, broken, listed and payable): a different verdict is wrong, `unknown` is
   counted apart (no verdict, never a wrong one).

The rate limit is off (TTHC_PROBE_RATE=0) so that concurrency alone is measured. Each row also
gives the CPU seconds the sweep (this process) and the portal used: on a small machine shared
with other work, the time above the floor is mostly waiting for a core. Prints a table and
writes benchmarks/results/sweep.json. Starts and stops its own mock_portal.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import create_app, probing  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import open_store  # noqa: E402

WORLD = ROOT / "fixtures" / "worlds" / "hanoi-2021.json"
UNIT = "000.00.00.H26"
FAULTS = [  # shares of the fault rate
    ("http_error", {"status": 503}, 0.4), ("http_error", {"status": 502}, 0.1),
    ("rate_limit", {"retry_after": 1}, 0.2), ("reset", {}, 0.15), ("timeout", {"delay": 3.0}, 0.15),
]


def start_portal() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "mock_portal", "--port", "0", "--world", str(WORLD),
                             "--seed", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    for _ in range(50):
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.strip().rsplit(" ", 1)[-1]
    proc.kill()
    raise SystemExit("mock_portal did not start")


def set_faults(url: str, rules: list[dict[str, Any]]) -> None:
    httpx.post(f"{url}/_admin/reset", json={"faults": True, "seed": 0}, timeout=30).raise_for_status()
    httpx.post(f"{url}/_admin/faults", json={"rules": rules, "replace": True}, timeout=30).raise_for_status()


def truth(world: dict[str, Any], procedures: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The verdict each (code, dimension) must get, from the world file alone."""
    ours, excluded = world["integrations"][UNIT], set(world["catalog"]["exclude"])
    configured = {ch: set(world["payments"][ch].get("HNI", [])) for ch in ("dvcqg_payment", "paygov")}
    out = {}
    for code, p in procedures.items():
        out[(code, "linkage")] = ("not_listed" if code in excluded else "not_integrated" if code not in ours
                                  else "link_broken" if code in world["broken_links"] else "integrated")
        if p["has_fee"]:  # declared channel, or any channel when declared none
            channels = [p["payment_channel"]] if p["payment_channel"] != "none" else list(configured)
            ready = any(code in configured[ch] for ch in channels)
            out[(code, "payment")] = "payment_ready" if ready else "payment_not_configured"
    return out


def own_cpu_s() -> float:
    """CPU seconds (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds another process has used (Linux /proc), None where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def sweep(template: Path, url: str, concurrency: int, codes: list[str] | None, portal_pid: int,
          **extra: Any) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    db = work / "registry.db"
    shutil.copyfile(template, db)
    app = create_app({"DATABASE": str(db), "PORTAL_URL": url, "PROBE_CONCURRENCY": concurrency,
                      "PROBE_RATE": 0.0, "PROBE_BACKOFF": 0.1, "SWEEP_INTERVAL_MINUTES": 0.0, **extra})
    cpu, portal_cpu = own_cpu_s(), process_cpu_s(portal_pid)
    started = time.perf_counter()
    run = probing.sweep_now(app, kind="all", codes=codes, actor="bench")
    elapsed = time.perf_counter() - started
    # Where the time goes on a small machine: the sweep's own CPU and the portal's.
    cpu = own_cpu_s() - cpu
    portal_end = process_cpu_s(portal_pid)
    portal_cpu = None if portal_cpu is None or portal_end is None else portal_end - portal_cpu
    with open_store(db) as store:
        attempts = store.run_attempts(run["id"])
    shutil.rmtree(work, ignore_errors=True)
    return {"run": run, "elapsed_s": elapsed, "attempts": attempts, "client_cpu_s": cpu,
            "portal_cpu_s": portal_cpu, "calls": sum(len(a["evidence"]) for a in attempts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--subset-at-1", type=int, default=120)
    ap.add_argument("--fault-rate", type=float, default=0.10)
    ap.add_argument("--fault-concurrency", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep.json")
    args = ap.parse_args()
    os.environ.pop("TTHC_DATABASE", None)
    world = json.loads(WORLD.read_text("utf-8"))
    latency = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "hanoi.db"
        with open_store(template) as store:
            load_fixture(store, "hanoi-2021")
            procedures = {p["code"]: p for p in store.all_procedures()}
        expected = truth(world, procedures)
        proc, url = start_portal()
        try:
            rows = []
            latency_rule = {"name": "bench-latency", "kind": "latency", "ms": args.latency_ms}
            for c in args.concurrency:
                set_faults(url, [latency_rule])
                subset = sorted(procedures)[:args.subset_at_1] if c == 1 else None
                r = sweep(template, url, c, subset, proc.pid)
                floor = r["calls"] * latency / c
                row = {"concurrency": c, "procedures": len(subset or procedures), "items": r["run"]["done"],
                       "calls": r["calls"], "elapsed_s": round(r["elapsed_s"], 2), "floor_s": round(floor, 2),
                       "ratio": round(r["elapsed_s"] / floor, 3), "status": r["run"]["status"],
                       "client_cpu_s": round(r["client_cpu_s"], 2),
                       "portal_cpu_s": None if r["portal_cpu_s"] is None
                       else round(r["portal_cpu_s"], 2),
                       "extrapolated": c == 1}
                if subset:
                    full_calls = r["calls"] * len(expected) / r["run"]["done"]
                    row["full_sweep_estimate_s"] = round(r["elapsed_s"] * full_calls / r["calls"], 1)
                rows.append(row)
                print(f"concurrency {c:>3}: {row['items']} items, {row['calls']} calls, {row['elapsed_s']} s, "
                      f"floor {row['floor_s']} s, x{row['ratio']}" + (" (subset)" if subset else ""), flush=True)
            share = sum(s for *_, s in FAULTS)
            rules = [latency_rule] + [{"name": f"bench-{kind}-{i}", "kind": kind, **extra,
                                       "rate": round(args.fault_rate * s / share, 4)}
                                      for i, (kind, extra, s) in enumerate(FAULTS)]
            set_faults(url, rules)
            r = sweep(template, url, args.fault_concurrency, None, proc.pid, PROBE_TIMEOUT=2.0,
                      PROBE_RETRIES=5)
            fired = {x["name"]: x["fired"] for x in httpx.get(f"{url}/_admin/faults").json()["rules"]}
        finally:
            proc.terminate()
            proc.wait(10)
    wrong, unknown = [], []
    for a in r["attempts"]:
        want = expected[(a["code"], a["dimension"])]
        if a["verdict"] == "unknown":
            unknown.append({"code": a["code"], "dimension": a["dimension"], "truth": want})
        elif a["verdict"] != want:
            wrong.append({"code": a["code"], "dimension": a["dimension"], "got": a["verdict"], "truth": want})
    faults = {"concurrency": args.fault_concurrency, "fault_rate": args.fault_rate, "items": r["run"]["done"],
              "calls": r["calls"], "elapsed_s": round(r["elapsed_s"], 2), "status": r["run"]["status"],
              "faults_fired": fired, "wrong_verdicts": len(wrong), "unknown_verdicts": len(unknown),
              "wrong": wrong, "unknown": unknown}
    print()
    print(f"{'concurrency':>11} {'items':>6} {'calls':>6} {'time s':>8} {'floor s':>8} {'ratio':>6} "
          f"{'sweep cpu s':>11} {'portal cpu s':>12}")
    for row in rows:
        note = f"  (subset of {row['procedures']}; full sweep ~{row['full_sweep_estimate_s']} s)" \
            if row["extrapolated"] else ""
        portal_cpu = "?" if row["portal_cpu_s"] is None else row["portal_cpu_s"]
        print(f"{row['concurrency']:>11} {row['items']:>6} {row['calls']:>6} {row['elapsed_s']:>8} "
              f"{row['floor_s']:>8} {row['ratio']:>6} {row['client_cpu_s']:>11} {portal_cpu:>12}{note}")
    print(f"\n{args.fault_rate:.0%} transient faults at concurrency {args.fault_concurrency}: "
          f"{faults['items']} items, {faults['calls']} calls, {faults['elapsed_s']} s, "
          f"{sum(fired.values()) - fired.get('bench-latency', 0)} faults fired; "
          f"wrong verdicts {len(wrong)}, unknown {len(unknown)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "sweep", "latency_ms": args.latency_ms, "machine": platform.platform(),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "rows": rows, "faults": faults,
    }, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
