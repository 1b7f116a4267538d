"""Benchmark: sweeps of the hanoi-2021 fixture (1,685 procedures, 2,154 items) against mock_portal.

Run: python benchmarks/bench_sweep.py [--latency-ms 50] [--concurrency 8 32 64]
                                       [--styles legacy spa] [--layouts one five] [--fault-rate 0.10]

1. Speed, per portal style (legacy server-rendered pages, single-page app) and host layout (one
   host for the five upstreams, or each upstream on its own port): every call the portal
   receives is delayed by --latency-ms; a full sweep (linkage + payment) at each concurrency is
   timed against its floor = calls x latency / concurrency. `calls` is every request the portal
   received (its journal: bulk reads and retries included); `calls/linkage item` counts the
   catalogue and adapter requests over the 1,685 linkage items; `cpu/call` is this process's
   CPU (the sweep: HTTP client, probes, SQLite) per portal call.
2. Robustness, per style, on five hosts at concurrency 32: (a) sessions that die after 5 calls
   plus the `expiring` profile (20% of adapter calls answer "03", 20% of PayGov calls 401) and a
   first-attempt 503/429 on many requests; (b) --fault-rate transient faults (503, 502, 429,
   resets, timeouts). Each verdict is compared with the world's truth (from the world file
   alone): a different verdict is wrong, `unknown` is counted apart. Goal: 0 and 0.
3. Politeness: the same sweep with LayDVC's bulk answer refused (per-code fallback).

The rate limit is off (TTHC_PROBE_RATE=0) so that concurrency alone is measured. Prints tables
and writes benchmarks/results/sweep.json. Starts and stops its own mock_portal processes.
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
HOST_SETTINGS = {"dvcqg": "CATALOG_URL", "adapter": "ADAPTER_URL", "payment": "PAYMENT_URL",
                 "lgsp": "LGSP_URL", "paygov": "PAYGOV_URL"}


class Portal:
    """A mock_portal process (one host, or --split: each upstream on its own port)."""

    def __init__(self, style: str, split: bool, *extra: str) -> None:
        cmd = [sys.executable, "-m", "mock_portal", "--port", "0", "--world", str(WORLD), "--seed", "0",
               "--style", style, *(["--split"] if split else []), *extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.upstreams: dict[str, str] = {}
        self.url = ""
        assert self.proc.stdout is not None
        for _ in range(50):
            line = self.proc.stdout.readline()
            if line.startswith("mock_portal upstream "):
                _, _, name, _, url = line.split()
                self.upstreams[name] = url
            if "listening on" in line:
                self.url = line.strip().rsplit(" ", 1)[-1]
                break
        if not self.url:
            self.stop()
            raise SystemExit("mock_portal did not start")

    def settings(self) -> dict[str, Any]:
        if self.upstreams:
            return {"PORTAL_URL": "", **{HOST_SETTINGS[k]: v for k, v in self.upstreams.items()}}
        return {"PORTAL_URL": self.url}

    def faults(self, rules: list[dict[str, Any]], profile: str | None = None) -> None:
        httpx.post(f"{self.url}/_admin/reset", json={"faults": True, "seed": 0}, timeout=30).raise_for_status()
        body: dict[str, Any] = {"rules": rules, "replace": False}
        if profile:
            body["profile"] = profile
        httpx.post(f"{self.url}/_admin/faults", json=body, timeout=30).raise_for_status()

    def fired(self) -> dict[str, int]:
        return {r["name"]: r["fired"] for r in httpx.get(f"{self.url}/_admin/faults", timeout=30).json()["rules"]}

    def journal(self, since: int) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_admin/journal", params={"since": since}, timeout=60).json()["entries"]

    def seq(self) -> int:
        entries = httpx.get(f"{self.url}/_admin/journal", params={"limit": 1}, timeout=30).json()["entries"]
        return entries[-1]["seq"] if entries else 0

    def cpu_s(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sweep(template: Path, portal: Portal, concurrency: int, **extra: Any) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    db = work / "registry.db"
    shutil.copyfile(template, db)
    app = create_app({"DATABASE": str(db), "PROBE_CONCURRENCY": concurrency, "PROBE_RATE": 0.0,
                      "PROBE_BACKOFF": 0.1, "SWEEP_INTERVAL_MINUTES": 0.0, **portal.settings(), **extra})
    seq, cpu, portal_cpu = portal.seq(), own_cpu_s(), portal.cpu_s()
    started = time.perf_counter()
    run = probing.sweep_now(app, kind="all", actor="bench")
    elapsed = time.perf_counter() - started
    cpu = own_cpu_s() - cpu
    portal_end = portal.cpu_s()
    journal = portal.journal(seq)
    with open_store(db) as store:
        attempts = store.run_attempts(run["id"])
    shutil.rmtree(work, ignore_errors=True)
    linkage_items = sum(1 for a in attempts if a["dimension"] == "linkage")
    linkage_calls = sum(1 for e in journal if e["upstream"] in ("dvcqg", "adapter"))
    return {"run": run, "elapsed_s": elapsed, "attempts": attempts, "client_cpu_s": cpu,
            "portal_cpu_s": None if portal_cpu is None or portal_end is None else portal_end - portal_cpu,
            "calls": len(journal), "linkage_calls": linkage_calls, "linkage_items": linkage_items}


def judge(attempts: list[dict[str, Any]], expected: dict[tuple[str, str], str]) -> tuple[list, list]:
    wrong, unknown = [], []
    for a in attempts:
        want = expected[(a["code"], a["dimension"])]
        if a["verdict"] == "unknown":
            unknown.append({"code": a["code"], "dimension": a["dimension"], "truth": want,
                            "reason": a["details"].get("reason")})
        elif a["verdict"] != want:
            wrong.append({"code": a["code"], "dimension": a["dimension"], "got": a["verdict"], "truth": want})
    return wrong, unknown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--styles", nargs="+", default=["legacy", "spa"])
    ap.add_argument("--layouts", nargs="+", default=["one", "five"])
    ap.add_argument("--fault-rate", type=float, default=0.10)
    ap.add_argument("--fault-concurrency", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep.json")
    args = ap.parse_args()
    os.environ.pop("TTHC_DATABASE", None)
    world = json.loads(WORLD.read_text("utf-8"))
    latency = args.latency_ms / 1000
    latency_rule = {"name": "bench-latency", "kind": "latency", "ms": args.latency_ms}
    rows, robustness = [], []
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "hanoi.db"
        with open_store(template) as store:
            load_fixture(store, "hanoi-2021")
            procedures = {p["code"]: p for p in store.all_procedures()}
        expected = truth(world, procedures)
        for style in args.styles:
            for layout in args.layouts:
                portal = Portal(style, layout == "five")
                try:
                    for c in args.concurrency:
                        portal.faults([latency_rule])
                        r = sweep(template, portal, c)
                        wrong, unknown = judge(r["attempts"], expected)
                        floor = r["calls"] * latency / c
                        row = {"style": style, "hosts": 5 if layout == "five" else 1, "concurrency": c,
                               "items": r["run"]["done"], "calls": r["calls"],
                               "calls_per_linkage_item": round(r["linkage_calls"] / r["linkage_items"], 3),
                               "elapsed_s": round(r["elapsed_s"], 2), "floor_s": round(floor, 2),
                               "ratio": round(r["elapsed_s"] / floor, 3), "status": r["run"]["status"],
                               "client_cpu_s": round(r["client_cpu_s"], 2),
                               "cpu_ms_per_call": round(r["client_cpu_s"] / r["calls"] * 1000, 3),
                               "portal_cpu_s": None if r["portal_cpu_s"] is None else round(r["portal_cpu_s"], 2),
                               "wrong": len(wrong), "unknown": len(unknown)}
                        rows.append(row)
                        print(f"{style:>6} {row['hosts']} host(s) c={c:>2}: {row['calls']} calls "
                              f"({row['calls_per_linkage_item']}/linkage item), {row['elapsed_s']} s vs floor "
                              f"{row['floor_s']} s (x{row['ratio']}), {row['cpu_ms_per_call']} ms CPU/call, "
                              f"wrong {row['wrong']}, unknown {row['unknown']}", flush=True)
                finally:
                    portal.stop()
        share = sum(s for *_, s in FAULTS)
        transient = [{"name": f"bench-{kind}-{i}", "kind": kind, **extra,
                      "rate": round(args.fault_rate * s / share, 4)} for i, (kind, extra, s) in enumerate(FAULTS)]
        first = [{"name": "first-503", "kind": "http_error", "status": 503, "rate": 0.3, "first_attempt": True},
                 {"name": "first-429", "kind": "rate_limit", "retry_after": 0, "rate": 0.2,
                  "first_attempt": True}]
        for style in args.styles:
            portal = Portal(style, True, "--session-max-calls", "5")
            try:
                for name, rules, profile, extra in (
                        ("expiring sessions + first-attempt 503/429", first, "expiring", {}),
                        (f"{args.fault_rate:.0%} transient faults", transient, None,
                         {"PROBE_TIMEOUT": 2.0, "PROBE_RETRIES": 5})):
                    portal.faults([latency_rule, *rules], profile)
                    r = sweep(template, portal, args.fault_concurrency, **extra)
                    wrong, unknown = judge(r["attempts"], expected)
                    fired = portal.fired()
                    robustness.append({
                        "style": style, "hosts": 5, "scenario": name, "concurrency": args.fault_concurrency,
                        "items": r["run"]["done"], "calls": r["calls"], "elapsed_s": round(r["elapsed_s"], 2),
                        "status": r["run"]["status"], "faults_fired": sum(v for k, v in fired.items()
                                                                          if k != "bench-latency"),
                        "logins": sum(1 for e in portal.journal(0) if e["path"] == "/adapter/auth"),
                        "wrong_verdicts": len(wrong), "unknown_verdicts": len(unknown),
                        "wrong": wrong[:20], "unknown": unknown[:20]})
                    print(f"{style:>6} {name}: {r['calls']} calls, {robustness[-1]['faults_fired']} faults, "
                          f"wrong {len(wrong)}, unknown {len(unknown)}", flush=True)
            finally:
                portal.stop()
        portal = Portal("spa", False, "--laydvc-bulk", "refuse")
        try:
            portal.faults([latency_rule])
            r = sweep(template, portal, 32)
            politeness = {"scenario": "LayDVC bulk refused (per-code fallback)", "style": "spa",
                          "calls": r["calls"],
                          "calls_per_linkage_item": round(r["linkage_calls"] / r["linkage_items"], 3),
                          "message": r["run"]["message"]}
            print(f"per-code fallback: {politeness['calls_per_linkage_item']} calls/linkage item", flush=True)
        finally:
            portal.stop()
    print()
    print(f"{'style':>6} {'hosts':>5} {'c':>3} {'items':>5} {'calls':>6} {'calls/link':>10} {'time s':>7} "
          f"{'floor s':>7} {'ratio':>6} {'cpu ms/call':>11} {'portal cpu':>10} {'wrong':>5} {'unknown':>7}")
    for row in rows:
        print(f"{row['style']:>6} {row['hosts']:>5} {row['concurrency']:>3} {row['items']:>5} {row['calls']:>6} "
              f"{row['calls_per_linkage_item']:>10} {row['elapsed_s']:>7} {row['floor_s']:>7} {row['ratio']:>6} "
              f"{row['cpu_ms_per_call']:>11} {row['portal_cpu_s']!s:>10} {row['wrong']:>5} {row['unknown']:>7}")
    print()
    for r in robustness:
        print(f"{r['style']:>6} 5 hosts c={r['concurrency']}: {r['scenario']}: {r['calls']} calls, "
              f"{r['faults_fired']} faults fired, {r['logins']} logins, wrong {r['wrong_verdicts']}, "
              f"unknown {r['unknown_verdicts']}")
    print(f"\nper-code fallback (LayDVC bulk refused): {politeness['calls_per_linkage_item']} calls per "
          "linkage item")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "sweep", "latency_ms": args.latency_ms, "machine": platform.platform(),
        "python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "rows": rows, "robustness": robustness, "politeness": politeness,
    }, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
