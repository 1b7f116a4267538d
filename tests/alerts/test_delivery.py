"""Done-when of issue 17, end to end: mock_portal process, real sweeps, a real SMTP server and a real
webhook receiver; the drain is the product's own (`alerts.process`, or its thread)."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from registry import alerts, probing
from registry.alerts.channels import verify
from registry.auth import Principal
from registry.store import VN_TZ, open_store

from .conftest import SmtpServer, alert_app, break_link, editor, free_port, mend_link


def _sweep(app: Any, code: str) -> dict[str, Any]:
    run = probing.sweep_now(app, kind="linkage", actor="test", codes=[code])
    assert run["status"] == "completed"
    return run


def _agency_of(db: Path, code: str) -> str:
    with open_store(db) as store:
        return store.get_procedure(code)["agency"]


def _subscribe(db: Path, agency: str, code: str, hook_url: str | None = None) -> dict[str, Any]:
    """An editor of the owning agency: e-mail per event for the agency, and a webhook for the procedure."""
    editor(db, agency)
    lan = Principal("lan", "editor", (agency,))
    out: dict[str, Any] = {}
    with open_store(db) as store:
        out["email"] = alerts.subscribe(store, lan, {"scope": "agency", "agency": agency, "channel": "email",
                                                     "address": "lan@so-tu-phap.example"}, source="test")
        if hook_url:
            out["webhook"] = alerts.subscribe(store, lan, {"scope": "procedure", "procedure": code,
                                                           "channel": "webhook", "address": hook_url}, source="test")
    return out


def _process(app: Any, now: datetime | None = None) -> dict[str, int]:
    cfg = app.config["TTHC"]
    with open_store(cfg["DATABASE"]) as store:
        return alerts.process(store, cfg, now=now)


def test_a_break_confirmed_by_two_sweeps_sends_one_email_and_one_signed_webhook(
        portal, world, db, smtp, httpserver, healthy_code):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    agency = _agency_of(db, healthy_code)
    subs = _subscribe(db, agency, healthy_code, httpserver.url_for("/hook"))
    app = alert_app(db, portal.url, smtp)

    _sweep(app, healthy_code)                      # baseline: integrated
    assert _process(app)["events"] == 0
    break_link(portal, world, healthy_code)
    _sweep(app, healthy_code)                      # broken once: not yet confirmed
    assert _process(app) == {"events": 0, "delivered": 0, "retry": 0, "failed": 0}
    _sweep(app, healthy_code)                      # broken twice: confirmed (the sweep wrote the event)
    assert _process(app)["delivered"] == 2
    _sweep(app, healthy_code)                      # still broken: nothing new
    assert _process(app) == {"events": 0, "delivered": 0, "retry": 0, "failed": 0}

    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "lan@so-tu-phap.example"
    assert healthy_code in msg["Subject"] and "Liên thông Cổng DVCQG bị hỏng" in msg["Subject"]
    body = msg.get_content()
    assert "Kính gửi" in body and agency in body and "liên kết hỏng" in body

    hooks = [req for req, _resp in httpserver.log]
    assert len(hooks) == 1
    req = hooks[0]
    doc = json.loads(req.get_data())
    assert doc["type"] == "linkage.broken" and doc["code"] == healthy_code
    assert doc["verdict"] == "link_broken" and doc["previous"] == "integrated"
    assert req.headers["X-TTHC-Event-Id"] == str(doc["id"])
    secret = subs["webhook"]["secret"]
    assert verify(secret, req.headers["X-TTHC-Timestamp"], req.get_data(), req.headers["X-TTHC-Signature"])
    assert not verify("another-secret", req.headers["X-TTHC-Timestamp"], req.get_data(),
                      req.headers["X-TTHC-Signature"])

    with open_store(db) as store:
        events, total = alerts.feed(store)
    assert total == 1 and events[0]["deliveries"] == {"email.delivered": 1, "webhook.delivered": 1}


def test_a_flapping_procedure_sends_nothing(portal, world, db, smtp, healthy_code):
    _subscribe(db, _agency_of(db, healthy_code), healthy_code)
    app = alert_app(db, portal.url, smtp)
    _sweep(app, healthy_code)  # baseline
    for _ in range(2):
        break_link(portal, world, healthy_code)
        _sweep(app, healthy_code)
        mend_link(portal, world)
        _sweep(app, healthy_code)
    assert _process(app)["events"] == 0
    with open_store(db) as store:
        assert alerts.feed(store)[1] == 0
    assert smtp.messages == []


def test_a_restored_procedure_fires_restored_after_two_good_sweeps(portal, world, db, smtp, healthy_code):
    _subscribe(db, _agency_of(db, healthy_code), healthy_code)
    app = alert_app(db, portal.url, smtp)
    _sweep(app, healthy_code)
    break_link(portal, world, healthy_code, "wrong_page")
    _sweep(app, healthy_code)
    _sweep(app, healthy_code)
    mend_link(portal, world)
    _sweep(app, healthy_code)
    _sweep(app, healthy_code)
    _process(app)
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == 2
    assert "bị hỏng" in subjects[0] and "hoạt động trở lại" in subjects[1]


def test_smtp_down_during_the_sweep_delivers_once_after_it_comes_back(portal, world, db, healthy_code):
    smtp = SmtpServer(free_port())  # not started: nothing listens on its port
    _subscribe(db, _agency_of(db, healthy_code), healthy_code)
    app = alert_app(db, portal.url, smtp)
    _sweep(app, healthy_code)
    break_link(portal, world, healthy_code)
    _sweep(app, healthy_code)
    _sweep(app, healthy_code)
    t0 = datetime.now(VN_TZ)
    assert _process(app, t0) == {"events": 0, "delivered": 0, "retry": 1, "failed": 0}
    assert _process(app, t0 + timedelta(seconds=1))["retry"] == 0  # not due again yet (backoff)
    with open_store(db) as store:
        [row] = store.list_deliveries()
    assert row["status"] == "pending" and row["attempts"] == 1 and "Connection" in row["last_error"]
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "tthc_alert_outbox_pending 1.0" in metrics
    assert 'tthc_alert_deliveries{channel="email",outcome="pending"} 1.0' in metrics
    assert "tthc_alert_outbox_oldest_pending_timestamp_seconds 0.0" not in metrics
    smtp.start()
    try:
        assert _process(app, t0 + timedelta(seconds=31))["delivered"] == 1
        assert _process(app, t0 + timedelta(hours=7))["delivered"] == 0
        assert len(smtp.messages) == 1
    finally:
        smtp.stop()
    with open_store(db) as store:
        [row] = store.list_deliveries()
    assert row["status"] == "delivered" and row["attempts"] == 2


def test_the_drain_thread_delivers_beside_the_scheduler(portal, world, db, smtp, healthy_code):
    _subscribe(db, _agency_of(db, healthy_code), healthy_code)
    app = alert_app(db, portal.url, smtp)
    _sweep(app, healthy_code)
    break_link(portal, world, healthy_code)
    _sweep(app, healthy_code)
    _sweep(app, healthy_code)
    stop = threading.Event()
    thread = alerts.start_drain(app, stop, seconds=0.05)
    assert thread is not None
    try:
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert len(smtp.messages) == 1
    assert alerts.start_drain(app, threading.Event(), seconds=0) is None


def test_a_stuck_webhook_never_holds_up_a_sweep(portal, world, db, httpserver, healthy_code):
    """The receiver blocks (until the test releases it) while the drain thread is inside the call:
    sweeps still run to the end and their events are still written; the delivery follows later."""
    entered, release = threading.Event(), threading.Event()

    def stuck(request):
        entered.set()
        release.wait(60)
        from werkzeug import Response
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(stuck)
    agency = _agency_of(db, healthy_code)
    _subscribe(db, agency, healthy_code, httpserver.url_for("/hook"))
    app = alert_app(db, portal.url, ALERT_TIMEOUT=120.0)
    _sweep(app, healthy_code)
    break_link(portal, world, healthy_code)
    _sweep(app, healthy_code)
    _sweep(app, healthy_code)  # linkage.broken: a webhook delivery is due
    stop = threading.Event()
    thread = alerts.start_drain(app, stop, seconds=0.05)
    try:
        assert entered.wait(30), "the drain never called the webhook"
        mend_link(portal, world)
        runs = [_sweep(app, healthy_code) for _ in range(2)]  # while the webhook call hangs
        assert [r["status"] for r in runs] == ["completed", "completed"]
        with open_store(db) as store:
            kinds = [e["type"] for e in alerts.feed(store)[0]]
        assert kinds == ["linkage.restored", "linkage.broken"]
    finally:
        release.set()
        deadline = time.monotonic() + 30
        while len(httpserver.log) < 2 and time.monotonic() < deadline:
            stop.wait(0.05)
        stop.set()
        assert thread is not None
        thread.join(30)
    docs = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert [d["type"] for d in docs] == ["linkage.broken", "linkage.restored"]


def test_a_portal_outage_reaches_agency_subscribers_once(portal, world, db, smtp, healthy_code):
    """`sweep.portal_unavailable` is unit-wide: it reaches agency subscriptions too, once per outage."""
    _subscribe(db, _agency_of(db, healthy_code), healthy_code)
    app = alert_app(db, portal.url, smtp)
    with open_store(db) as store:
        codes = [p["code"] for p in store.all_procedures()][:12]
    portal.admin("POST", "/faults", json={"profile": "down", "replace": True})
    runs = [probing.sweep_now(app, kind="linkage", actor="test", codes=codes) for _ in range(2)]
    assert [r["status"] for r in runs] == ["portal_unavailable", "portal_unavailable"]
    assert _process(app)["delivered"] == 1
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "[TTHC] Cổng DVCQG không phản hồi, lượt kiểm tra dừng sớm"
    body = msg.get_content()
    assert f"Lượt kiểm tra #{runs[0]['id']} dừng sớm" in body
    assert "portal" not in body.lower() and "unavailable" not in body  # the run's English message stays out
