"""Benchmark: what alerts cost a sweep, and how fast the outbox drains, against raw floors.

1. Detection: after a sweep of the hanoi-2021 fixture (every linkage + payment item stored in
   batches of 50, as the probe runner does), `alerts.detect` turns the verdicts into events and
   outbox rows. Peer: storing those same verdicts (`store.record_attempts`), the sweep's own writes.
2. Webhooks: the drain sending N events to a local HTTP receiver. Floor: the same N signed bodies
   posted with a bare `httpx.post` loop to the same receiver.
3. E-mail: the drain sending N messages to a local aiosmtpd server. Floor: a bare `smtplib` loop
   (one connection per message, as the drain does).

Run: python benchmarks/bench_alerts.py [--repeat 3] [--deliveries 300]
Prints a table and writes benchmarks/results/alerts.json (medians).
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable

import httpx
from aiosmtpd.controller import Controller
from werkzeug import Request, Response
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import alerts, settings as settings_mod  # noqa: E402
from registry.auth import Principal, add_user  # noqa: E402
from registry.seeding import load_fixture  # noqa: E402
from registry.store import VN_TZ, open_store  # noqa: E402

ADMIN = Principal("bench", "admin")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
logging.getLogger("tthc").setLevel(logging.WARNING)


def _median(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _attempts(procs: list[dict[str, Any]], broken: set[str], at: str) -> list[dict[str, Any]]:
    out = []
    for p in procs:
        out.append({"run_id": None, "code": p["code"], "dimension": "linkage", "checked_at": at,
                    "verdict": "link_broken" if p["code"] in broken else "integrated"})
        if p["has_fee"]:
            out.append({"run_id": None, "code": p["code"], "dimension": "payment", "checked_at": at,
                        "verdict": "payment_ready"})
    return out


def bench_detection(template: Path, repeat: int, work: Path) -> dict[str, Any]:
    """Three sweeps (baseline, broken once, broken twice): time of storing vs of detecting, last sweep."""
    cfg = settings_mod.load({})
    results = {"store": [], "detect": []}
    events = 0
    for i in range(repeat):
        path = work / f"detect-{i}.db"
        shutil.copyfile(template, path)
        with open_store(path) as store:
            procs = store.all_procedures()
            for agency in sorted({p["agency"] for p in procs})[:10]:
                alerts.subscribe(store, ADMIN, {"scope": "agency", "agency": agency, "channel": "email",
                                                "address": "it@example.vn"}, source="bench")
            broken = {p["code"] for p in procs[::20]}  # 5% of procedures break
            now = datetime.now(VN_TZ).isoformat()
            for sweep in range(3):
                batch = _attempts(procs, broken if sweep else set(), now)
                t0 = time.perf_counter()
                for j in range(0, len(batch), 50):
                    store.record_attempts(batch[j:j + 50])
                t_store = time.perf_counter() - t0
                t0 = time.perf_counter()
                created = alerts.detect(store, cfg)
                t_detect = time.perf_counter() - t0
            results["store"].append(t_store)
            results["detect"].append(t_detect)
            events = len(created)
            items = len(batch)
    store_s, detect_s = statistics.median(results["store"]), statistics.median(results["detect"])
    return {"items": items, "events": events, "store_s": store_s, "detect_s": detect_s,
            "ratio": detect_s / store_s}


class _Receiver:
    def __init__(self) -> None:
        self.count = 0

        @Request.application
        def app(request: Request) -> Response:
            request.get_data()
            self.count += 1
            return Response(status=204)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _events_with_deliveries(template: Path, path: Path, n: int, sub: dict[str, Any], cfg: dict[str, Any]) -> Any:
    shutil.copyfile(template, path)
    store = open_store(path)
    created = alerts.subscribe(store, ADMIN, sub, source="bench")
    procs = store.all_procedures()[:n]
    at = datetime.now(VN_TZ).isoformat()
    for verdicts in (["integrated"], ["link_broken"]):
        store.record_attempts([{"run_id": None, "code": p["code"], "dimension": "linkage", "checked_at": at,
                                "verdict": verdicts[0]} for p in procs])
    assert len(alerts.detect(store, {**cfg, "ALERT_CONFIRMATIONS": 1})) == n
    return store, created


def bench_webhooks(template: Path, repeat: int, n: int, work: Path) -> dict[str, Any]:
    cfg = settings_mod.load({})
    receiver = _Receiver()
    drain_t, raw_t = [], []
    try:
        for i in range(repeat):
            store, sub = _events_with_deliveries(template, work / f"hook-{i}.db", n,
                                                 {"scope": "all", "channel": "webhook", "address": receiver.url}, cfg)
            docs = [alerts.messages.webhook_document(e) for e in store.list_alert_events(limit=n)]
            t0 = time.perf_counter()
            counts = alerts.drain(store, cfg)
            drain_t.append(time.perf_counter() - t0)
            assert counts["delivered"] == n, counts
            store.close()
            t0 = time.perf_counter()
            with httpx.Client(timeout=10) as client:
                for doc in docs:
                    body = json.dumps(doc, ensure_ascii=False).encode()
                    assert client.post(receiver.url, content=body,
                                       headers={"Content-Type": "application/json"}).status_code == 204
            raw_t.append(time.perf_counter() - t0)
    finally:
        receiver.stop()
    d, r = statistics.median(drain_t), statistics.median(raw_t)
    return {"deliveries": n, "drain_s": d, "raw_s": r, "ratio": d / r, "per_second": n / d}


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def bench_email(template: Path, repeat: int, n: int, work: Path) -> dict[str, Any]:
    port = _free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    cfg = settings_mod.load({})
    cfg.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False)
    drain_t, raw_t = [], []
    try:
        for i in range(repeat):
            store, _ = _events_with_deliveries(template, work / f"mail-{i}.db", n,
                                               {"scope": "all", "channel": "email", "address": "it@example.vn"}, cfg)
            texts = [alerts.messages.event_email(e) for e in store.list_alert_events(limit=n)]
            t0 = time.perf_counter()
            counts = alerts.drain(store, cfg, now=datetime.now(VN_TZ) + timedelta(seconds=1))
            drain_t.append(time.perf_counter() - t0)
            assert counts["delivered"] == n, counts
            store.close()
            t0 = time.perf_counter()
            for subject, body in texts:  # the same texts, built before the clock starts
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "tthc@localhost", "it@example.vn", subject
                msg.set_content(body, charset="utf-8")
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                    smtp.send_message(msg)
            raw_t.append(time.perf_counter() - t0)
    finally:
        controller.stop()
    d, r = statistics.median(drain_t), statistics.median(raw_t)
    return {"deliveries": n, "drain_s": d, "raw_s": r, "ratio": d / r, "per_second": n / d}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = work / "hanoi.db"
        with open_store(template) as store:
            load_fixture(store, "hanoi-2021")
            add_user(store, ADMIN.username, "bench-password", "admin", [], actor="bench")
        det = bench_detection(template, args.repeat, work)
        hooks = bench_webhooks(template, args.repeat, args.deliveries, work)
        mail = bench_email(template, args.repeat, args.deliveries, work)
    print(f"{'measure':<58} {'ours':>10} {'peer/floor':>11} {'ratio':>7}")
    print(f"{'detect after a sweep of ' + str(det['items']) + ' items (' + str(det['events']) + ' events)':<58} "
          f"{det['detect_s'] * 1000:>8.1f}ms {det['store_s'] * 1000:>9.1f}ms {det['ratio']:>7.2f}")
    print(f"{'drain ' + str(hooks['deliveries']) + ' webhooks vs bare httpx.post loop':<58} "
          f"{hooks['drain_s'] * 1000:>8.0f}ms {hooks['raw_s'] * 1000:>9.0f}ms {hooks['ratio']:>7.2f}")
    print(f"{'drain ' + str(mail['deliveries']) + ' e-mails vs bare smtplib loop':<58} "
          f"{mail['drain_s'] * 1000:>8.0f}ms {mail['raw_s'] * 1000:>9.0f}ms {mail['ratio']:>7.2f}")
    out = ROOT / "benchmarks" / "results" / "alerts.json"
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "repeat": args.repeat, "detection": det, "webhooks": hooks, "email": mail},
                              indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
