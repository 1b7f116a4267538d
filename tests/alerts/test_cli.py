"""`tthc alerts subscribe|list|unsubscribe|events|deliver`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from registry import create_app
from registry.auth import add_user
from registry.store import open_store

JUSTICE = "Sở Tư pháp"


@pytest.fixture
def app(hanoi_db: Path, tmp_path: Path, smtp):
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    with open_store(path) as store:
        add_user(store, "lan", "password-123", "editor", [JUSTICE], actor="test")
    return create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", "SMTP_HOST": "127.0.0.1",
                       "SMTP_PORT": smtp.port, "SMTP_STARTTLS": False, "ALERT_CONFIRMATIONS": 2})


def test_subscribe_list_deliver_and_unsubscribe(app, smtp):
    cli = app.test_cli_runner()
    res = cli.invoke(args=["alerts", "subscribe", "--user", "lan", "--agency", JUSTICE, "--email", "lan@hn.gov.vn"])
    assert res.exit_code == 0, res.output
    assert "subscribed #1 lan: agency Sở Tư pháp -> email lan@hn.gov.vn" in res.output
    res = cli.invoke(args=["alerts", "subscribe", "--user", "lan", "--agency", JUSTICE, "--webhook",
                           "http://127.0.0.1:9/h", "--event", "linkage", "--json"])
    assert res.exit_code == 0, res.output
    hook = json.loads(res.output)
    assert hook["event_types"] == ["linkage"] and len(hook["secret"]) == 64
    listed = json.loads(cli.invoke(args=["alerts", "list", "--user", "lan", "--json"]).output)
    assert [s["id"] for s in listed] == [1, 2] and listed[1]["secret"] is None

    with open_store(app.config["TTHC"]["DATABASE"]) as store:
        code = next(p["code"] for p in store.all_procedures() if p["agency"] == JUSTICE)
        for verdict in ("payment_ready", "payment_rejected", "payment_rejected"):
            store.record_attempts([{"code": code, "dimension": "payment", "verdict": verdict, "run_id": None,
                                    "checked_at": "2026-12-01T09:00:00+07:00"}])
    res = cli.invoke(args=["alerts", "deliver"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "events: 1, delivered: 1, retry: 0, failed: 0"  # the webhook wants linkage only
    assert len(smtp.messages) == 1 and "Thanh toán trực tuyến bị hỏng" in smtp.messages[0]["Subject"]
    res = cli.invoke(args=["alerts", "events"])
    assert f"payment.broken {code} payment_rejected (email.delivered 1)" in res.output
    assert "1 events in all" in res.output

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'tthc_alert_events_total{type="payment.broken"} 1.0' in metrics
    assert 'tthc_alert_deliveries{channel="email",outcome="delivered"} 1.0' in metrics
    assert 'tthc_alert_delivery_attempts_total{channel="email"} 1.0' in metrics
    assert "tthc_alert_outbox_pending 0.0" in metrics

    assert cli.invoke(args=["alerts", "unsubscribe", "2", "--user", "lan"]).exit_code == 0
    res = cli.invoke(args=["alerts", "unsubscribe", "2"])
    assert res.exit_code == 1 and "no subscription 2" in res.output
    assert [s["id"] for s in json.loads(cli.invoke(args=["alerts", "list", "--json"]).output)] == [1]


@pytest.mark.parametrize("args, message", [
    (["--user", "lan", "--email", "a@b.vn"], "exactly one of --all"),
    (["--user", "lan", "--all", "--agency", JUSTICE, "--email", "a@b.vn"], "exactly one of --all"),
    (["--user", "lan", "--all"], "exactly one of --email"),
    (["--user", "lan", "--all", "--email", "a@b.vn"], "only admins"),
    (["--user", "lan", "--agency", "Sở Xây dựng", "--email", "a@b.vn"], "only follow their own agencies"),
    (["--user", "nobody", "--all", "--email", "a@b.vn"], "no active user"),
    (["--user", "lan", "--agency", JUSTICE, "--email", "nope"], "address: not a valid e-mail address"),
    (["--user", "lan", "--agency", JUSTICE, "--webhook", "http://x.example/h", "--digest"], "mode:"),
    (["--user", "lan", "--agency", JUSTICE, "--email", "a@b.vn", "--event", "linkage.exploded"], "event_types"),
])
def test_bad_subscriptions_exit_with_a_clear_message(app, args, message):
    res = app.test_cli_runner().invoke(args=["alerts", "subscribe", *args])
    assert res.exit_code != 0
    assert message in res.output
    with open_store(app.config["TTHC"]["DATABASE"]) as store:
        assert store.list_subscriptions(active=None) == []


def test_the_prometheus_rules_use_metrics_that_exist(app):
    """docs/prometheus-alerts.yml parses, and every tthc_* series it names is on /metrics."""
    import re

    import yaml
    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "prometheus-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    names = {n for e in exprs for n in re.findall(r"\btthc_[a-z_]+", e)}
    assert {"tthc_last_sweep_finished_timestamp_seconds", "tthc_alert_outbox_pending",
            "tthc_alert_events_total"} <= names
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    exposed = set(re.findall(r"^# TYPE (\S+)", metrics, re.M))
    exposed |= {n + "_total" for n in exposed}
    assert names <= exposed
