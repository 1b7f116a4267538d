"""Webhook delivery: retried with backoff until a 2xx or the give-up limit, never twice for one event."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Response

from registry import alerts, create_app
from registry.alerts.channels import verify
from registry.auth import Principal
from registry.store import VN_TZ, open_store

ROOT = Principal("root", "admin")


@pytest.fixture
def app(hanoi_db: Path, tmp_path: Path):
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    return create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", "ALERT_RETRY_SECONDS": 10.0,
                       "ALERT_MAX_ATTEMPTS": 3, "ALERT_TIMEOUT": 5.0})


def _setup(app: Any, url: str) -> tuple[Any, dict[str, Any]]:
    store = open_store(app.config["TTHC"]["DATABASE"])
    sub = alerts.subscribe(store, ROOT, {"scope": "all", "channel": "webhook", "address": url}, source="test")
    code = store.all_procedures()[0]["code"]
    for verdict in ("integrated", "not_listed", "not_listed"):
        store.record_attempts([{"code": code, "dimension": "linkage", "verdict": verdict, "run_id": None,
                                "checked_at": "2026-12-01T09:00:00+07:00"}])
    assert len(alerts.detect(store, app.config["TTHC"])) == 1
    return store, sub


def test_a_failing_receiver_is_retried_with_backoff_then_delivered_once(app, httpserver):
    answers = iter([Response("busy", 503), Response("boom", 500), Response("ok", 204)])
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    store, sub = _setup(app, httpserver.url_for("/hook"))
    cfg, t0 = app.config["TTHC"], datetime.now(VN_TZ)
    try:
        assert alerts.drain(store, cfg, now=t0)["retry"] == 1
        assert alerts.drain(store, cfg, now=t0 + timedelta(seconds=9))["retry"] == 0  # first delay: 10 s
        assert alerts.drain(store, cfg, now=t0 + timedelta(seconds=10))["retry"] == 1
        assert alerts.drain(store, cfg, now=t0 + timedelta(seconds=29))["retry"] == 0  # then 20 s
        assert alerts.drain(store, cfg, now=t0 + timedelta(seconds=30))["delivered"] == 1
        assert alerts.drain(store, cfg, now=t0 + timedelta(days=1)) == {"delivered": 0, "retry": 0, "failed": 0}
        [row] = store.list_deliveries()
    finally:
        store.close()
    assert row["status"] == "delivered" and row["attempts"] == 3
    bodies = [req.get_data() for req, _ in httpserver.log]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same document each time
    req = httpserver.log[-1][0]
    assert verify(sub["secret"], req.headers["X-TTHC-Timestamp"], req.get_data(), req.headers["X-TTHC-Signature"])
    assert json.loads(bodies[0])["type"] == "linkage.broken"


def test_a_dead_receiver_is_given_up_after_the_limit(app, httpserver):
    httpserver.expect_request("/hook").respond_with_data("down", status=502)
    store, _ = _setup(app, httpserver.url_for("/hook"))
    cfg, t0 = app.config["TTHC"], datetime.now(VN_TZ)
    try:
        outcomes = [alerts.drain(store, cfg, now=t0 + timedelta(hours=h)) for h in range(5)]
        [row] = store.list_deliveries()
        feed, _ = alerts.feed(store)
    finally:
        store.close()
    assert [o["retry"] for o in outcomes] == [1, 1, 0, 0, 0] and [o["failed"] for o in outcomes] == [0, 0, 1, 0, 0]
    assert row["status"] == "failed" and row["attempts"] == 3 and row["last_error"] == "HTTP 502"
    assert len(httpserver.log) == 3
    assert feed[0]["deliveries"] == {"webhook.failed": 1}


def test_a_leased_delivery_is_not_sent_by_a_second_drainer(app, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    store, _ = _setup(app, httpserver.url_for("/hook"))
    cfg, now = app.config["TTHC"], datetime.now(VN_TZ)
    other = open_store(cfg["DATABASE"])
    try:
        lease = (now + timedelta(minutes=2)).isoformat()
        claimed = store.claim_deliveries(now=now.isoformat(), lease_until=lease, owner="first")
        assert len(claimed) == 1
        assert alerts.drain(other, cfg, now=now) == {"delivered": 0, "retry": 0, "failed": 0}
        assert httpserver.log == []
        # the first drainer stalls: once its lease lapses the row is taken over and sent, once
        assert alerts.drain(other, cfg, now=now + timedelta(minutes=3))["delivered"] == 1
        # the first drainer wakes up: its lease is gone, so it does not send (nor count) it again
        assert store.renew_lease([claimed[0]["id"]], owner="first", lease_until=lease) is False
        assert store.finish_deliveries([claimed[0]["id"]], delivered=True) == 0
    finally:
        other.close()
        store.close()
    assert len(httpserver.log) == 1


def test_unsubscribing_cancels_what_was_pending(app, httpserver):
    store, sub = _setup(app, httpserver.url_for("/hook"))
    try:
        alerts.unsubscribe(store, ROOT, sub["id"], source="test")
        assert alerts.drain(store, app.config["TTHC"]) == {"delivered": 0, "retry": 0, "failed": 0}
        assert [d["status"] for d in store.list_deliveries()] == ["cancelled"]
    finally:
        store.close()
    assert httpserver.log == []


def test_a_stuck_webhook_holds_up_only_its_own_subscription(hanoi_db, tmp_path, httpserver, smtp):
    """One lane per subscription: while one receiver hangs, the e-mail subscriber still gets the event."""
    import threading
    import time
    entered, release = threading.Event(), threading.Event()

    def stuck(request):
        entered.set()
        release.wait(60)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(stuck)
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    app = create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", "ALERT_TIMEOUT": 120.0,
                      "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "SMTP_STARTTLS": False})
    store, _ = _setup(app, httpserver.url_for("/hook"))
    try:
        alerts.subscribe(store, ROOT, {"scope": "all", "channel": "email", "address": "city@hanoi.gov.vn"},
                         source="test")
        code = store.all_procedures()[1]["code"]
        for verdict in ("integrated", "not_listed", "not_listed"):
            store.record_attempts([{"code": code, "dimension": "linkage", "verdict": verdict, "run_id": None,
                                    "checked_at": "2026-12-01T09:00:00+07:00"}])
        alerts.detect(store, app.config["TTHC"])  # a second event: for both subscriptions
    finally:
        store.close()
    stop = threading.Event()
    thread = alerts.start_drain(app, stop, seconds=0.05)
    try:
        assert entered.wait(30)
        deadline = time.monotonic() + 30
        while len(smtp.messages) < 1 and time.monotonic() < deadline:
            stop.wait(0.05)
        assert len(smtp.messages) == 1 and not release.is_set()  # the e-mail went out while the hook hung
    finally:
        release.set()
        deadline = time.monotonic() + 30
        while len(httpserver.log) < 2 and time.monotonic() < deadline:
            stop.wait(0.05)
        stop.set()
        assert thread is not None
        thread.join(30)
    assert [json.loads(req.get_data())["id"] for req, _ in httpserver.log] == [1, 2]  # in order
    with open_store(path) as store:
        assert {d["status"] for d in store.list_deliveries()} == {"delivered"}
