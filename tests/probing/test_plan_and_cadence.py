"""A run probes what it planned (its total), and payment is probed on its own cadence: never
while a verified payment is fresher, and each run says how many orders it created."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from registry import probing
from registry.probing.control import _left, prepare
from registry.store import now_iso, open_store

from .conftest import make_app


def test_rows_imported_after_a_run_opens_are_not_probed_by_it(portal, db):
    app = make_app(db, portal.url)
    cfg = app.config["TTHC"]
    with open_store(db) as store:
        run, items, done = prepare(store, cfg, kind="all", actor="test")
        # The API opens the run, then a worker process plans what is left: an import between
        # the two must not grow the run beyond its total.
        store.create_procedure({"code": "9.999901", "name": "Thủ tục nhập sau", "service_level": 4,
                                "has_fee": True, "payment_channel": "paygov"}, actor="test", source="test")
        left, finished = _left(store, store.get_run(run["id"]))
    assert run["total"] == len(items) == len(left) and finished == done == 0
    assert "9.999901" not in {i.code for i in left}
    assert [i.key for i in left] == [i.key for i in items]


def _fee_codes(declared: dict[str, Any], n: int) -> list[str]:
    return sorted(c for c, p in declared.items() if p["has_fee"] and p["payment_channel"] != "none")[:n]


def _orders(run: dict[str, Any]) -> int:
    return int(re.search(r"payment orders created: (\d+)", run["message"]).group(1))


def test_payment_runs_on_its_own_cadence_and_reports_the_orders_it_created(portal, db, declared):
    app = make_app(db, portal.url, PROBE_CONCURRENCY=16)
    first = probing.sweep_now(app, kind="payment", actor="test")
    journal = portal.journal()
    accepted = sum(1 for e in journal if e["path"] in ("/payment/init", "/paygov/create"))
    ready = first["counts"].get("payment.payment_ready", 0)
    assert first["status"] == "completed" and first["total"] == sum(p["has_fee"] for p in declared.values())
    assert 0 < ready <= _orders(first) <= accepted
    # An hour later the scheduler sweeps again: no payment is due, no order is created.
    again = probing.sweep_now(app, kind="all", actor="scheduler")
    assert again["status"] == "completed" and again["total"] == len(declared)
    assert "payment.payment_ready" not in again["counts"] and _orders(again) == 0
    assert f"{first['total']} probed within the interval" in again["message"]
    # Naming procedures probes them (an operator's explicit request).
    named = probing.sweep_now(app, kind="payment", codes=_fee_codes(declared, 3), actor="test")
    assert named["total"] == 3


def test_no_payment_probe_while_a_verified_payment_is_fresher(portal, db: Path, declared):
    paid, other = _fee_codes(declared, 2)
    with open_store(db) as store:
        store.record_attempts([{"run_id": None, "code": paid, "dimension": "payment",
                                "verdict": "payment_ready", "checked_at": now_iso(),
                                "duration_ms": 0, "details": {"source": "callback"}, "evidence": []}])
    app = make_app(db, portal.url)
    run = probing.sweep_now(app, kind="payment", codes=[paid, other], actor="test")
    assert run["total"] == 1 and "1 with a fresher verified payment" in run["message"]
    with open_store(db) as store:
        assert [a["code"] for a in store.run_attempts(run["id"])] == [other]
