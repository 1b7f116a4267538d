"""Events from verdict transitions: the rules (pure) and detection over a real database."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry import alerts, create_app
from registry.alerts import events as rules
from registry.auth import Principal
from registry.store import VN_TZ, open_store

ADMIN = Principal("root", "admin")


def _fold(dimension: str, verdicts: list[str], confirmations: int = 2) -> list[str]:
    state, fired = rules.State(), []
    for v in verdicts:
        state, t = rules.step(state, dimension, v, confirmations)
        if t is not None:
            fired.append(f"{t.type}:{t.previous}->{t.verdict}")
    return fired


@pytest.mark.parametrize("dimension, verdicts, fired", [
    ("linkage", ["integrated", "link_broken", "link_broken"], ["linkage.broken:integrated->link_broken"]),
    ("linkage", ["integrated", "link_broken", "integrated", "link_broken", "integrated"], []),
    ("linkage", ["integrated", "not_integrated", "not_listed"], ["linkage.broken:integrated->not_listed"]),
    ("linkage", ["integrated", "unknown", "unknown", "unknown"], []),
    ("linkage", ["integrated", "link_broken", "unknown", "link_broken"], ["linkage.broken:integrated->link_broken"]),
    ("linkage", ["link_broken", "link_broken", "link_broken"], []),  # never worked: a baseline, not a break
    ("linkage", ["unknown", "integrated", "link_broken", "link_broken", "integrated", "integrated"],
     ["linkage.broken:integrated->link_broken", "linkage.restored:link_broken->integrated"]),
    ("payment", ["payment_ready", "payment_rejected", "payment_not_configured"],
     ["payment.broken:payment_ready->payment_not_configured"]),
    ("sso", ["sso_ready", "sso_misconfigured", "sso_missing", "sso_ready", "sso_ready"],
     ["sso.broken:sso_ready->sso_missing", "sso.restored:sso_missing->sso_ready"]),
    ("sso", ["sso_ready", "not_found", "unknown", "not_found"], ["sso.broken:sso_ready->not_found"]),
    ("dossier_sync", ["synced", "rejected", "rejected"], ["dossier_sync.failing:synced->rejected"]),
    ("dossier_sync", ["synced", "sync_unknown", "sync_unknown", "sync_missing", "sync_unknown", "sync_behind"],
     ["dossier_sync.failing:synced->sync_behind"]),
    ("journey", ["journey_ok", "journey_broken", "unknown", "journey_broken"],
     ["journey.broken:journey_ok->journey_broken"]),
    ("new_dimension", ["thing_ready", "thing_down", "thing_down"], ["new_dimension.broken:thing_ready->thing_down"]),
    ("target", ["met", "missed", "missed", "met", "met"], ["target.missed:met->missed", "target.met:missed->met"]),
])
def test_transitions_fire_only_when_confirmed(dimension, verdicts, fired):
    assert _fold(dimension, verdicts) == fired


def test_confirmations_is_a_setting():
    once = _fold("linkage", ["integrated", "link_broken"], confirmations=1)
    assert once == ["linkage.broken:integrated->link_broken"]
    assert _fold("linkage", ["integrated", "link_broken", "link_broken"], confirmations=3) == []
    assert _fold("linkage", ["integrated"] + ["link_broken"] * 3, confirmations=3) != []


@pytest.mark.parametrize("scope, key, event, expected", [
    ("all", None, {"type": "linkage.broken", "code": "1.1", "agencies": ["A"]}, True),
    ("agency", "A", {"type": "linkage.broken", "code": "1.1", "agencies": ["B", "A"]}, True),
    ("agency", "A", {"type": "linkage.broken", "code": "1.1", "agencies": ["B"]}, False),
    ("agency", "A", {"type": "sweep.portal_unavailable"}, True),
    ("agency", "A", {"type": "target.missed"}, False),
    ("procedure", "1.1", {"type": "payment.broken", "code": "1.1", "agencies": []}, True),
    ("procedure", "1.1", {"type": "payment.broken", "code": "1.2", "agencies": []}, False),
])
def test_routing(scope, key, event, expected):
    sub = {"scope": scope, "agency_key": key if scope == "agency" else None,
           "procedure_code": key if scope == "procedure" else None, "event_types": []}
    assert rules.matches(sub, event) is expected


def test_event_type_filters_by_name_or_prefix():
    sub = {"scope": "all", "event_types": ["linkage", "target.missed"]}
    assert rules.matches(sub, {"type": "linkage.restored"})
    assert rules.matches(sub, {"type": "target.missed"})
    assert not rules.matches(sub, {"type": "target.met"})
    assert not rules.matches(sub, {"type": "payment.broken"})


def test_next_digest_and_backoff():
    at = datetime(2026, 12, 1, 6, 30, tzinfo=VN_TZ)
    assert rules.next_digest(at, 7) == datetime(2026, 12, 1, 7, tzinfo=VN_TZ)
    assert rules.next_digest(at, 6) == datetime(2026, 12, 2, 6, tzinfo=VN_TZ)
    assert [rules.retry_delay(n, 60).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert rules.retry_delay(30, 60).total_seconds() == 6 * 3600


# -- detection over a database --------------------------------------------------------------
@pytest.fixture
def app(hanoi_db: Path, tmp_path: Path):
    import shutil
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    return create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", "SMTP_STARTTLS": False})


@pytest.fixture
def store(app):
    with open_store(app.config["TTHC"]["DATABASE"]) as s:
        yield s


def _attempt(code: str, verdict: str, dimension: str = "linkage", at: datetime | None = None) -> dict[str, Any]:
    return {"run_id": None, "code": code, "dimension": dimension, "verdict": verdict,
            "checked_at": (at or datetime.now(VN_TZ)).isoformat(timespec="milliseconds")}


def _types(store) -> list[str]:
    return [e["type"] for e in reversed(store.list_alert_events(limit=1000))]


def _integrated(store) -> list[str]:
    return [p["code"] for p in store.all_procedures() if p["dvcqg_integrated"] and p["service_level"] >= 3]


def test_detection_is_exactly_once_and_covers_callback_verdicts(app, store):
    cfg = app.config["TTHC"]
    code = _integrated(store)[0]
    store.record_attempts([_attempt(code, "integrated")])
    store.record_attempts([_attempt(code, "not_integrated")])
    assert alerts.detect(store, cfg) == []
    store.record_attempts([_attempt(code, "not_integrated")])
    [event_id] = alerts.detect(store, cfg)
    assert alerts.detect(store, cfg) == []  # the cursor moved with the event
    event = store.get_alert_event(event_id)
    assert event["type"] == "linkage.broken" and event["code"] == code
    proc = store.get_procedure(code)
    assert event["agencies"] == rules.agency_keys(proc) and event["details"]["name"] == proc["name"]
    # a payment verdict written by a callback (not a sweep) is read the same way
    store.record_attempts([_attempt(code, "payment_ready", "payment")])
    store.record_attempts([_attempt(code, "payment_rejected", "payment")] * 2)
    alerts.detect(store, cfg)
    assert _types(store) == ["linkage.broken", "payment.broken"]


def test_a_database_upgraded_with_history_starts_from_its_current_verdicts(app, store):
    """Verdicts stored before the alerts existed are the baseline (m013 seeds it): history never
    fires, and the first new break still needs its confirmations."""
    cfg = app.config["TTHC"]
    code, other = _integrated(store)[:2]
    store.record_attempts([_attempt(code, "integrated"), _attempt(other, "integrated")])
    store.record_attempts([_attempt(other, "link_broken")] * 2)  # a break that happened "before alerts"
    # Roll the database back to before m013, then upgrade it as `tthc init` would.
    for table in ("alert_deliveries", "alert_events", "alert_subscriptions", "alert_state"):
        store.db.execute(f"DROP TABLE {table}")
    store.db.execute("DELETE FROM meta WHERE key LIKE 'alerts.%'")
    store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013_alerts'")
    assert store.pending_migrations() == ["m013_alerts"]
    store.migrate()
    assert alerts.detect(store, cfg) == []
    store.record_attempts([_attempt(code, "link_broken")])
    assert alerts.detect(store, cfg) == []
    store.record_attempts([_attempt(code, "link_broken"), _attempt(other, "link_broken")])
    assert _types(store) == [] and len(alerts.detect(store, cfg)) == 1
    assert [e["code"] for e in store.list_alert_events()] == [code]


def test_portal_unavailable_fires_once_per_outage(app, store):
    cfg = app.config["TTHC"]
    statuses = ["completed", "portal_unavailable", "portal_unavailable", "completed", "portal_unavailable"]
    for status in statuses:
        run = store.start_run(kind="all", selection={"all": True}, total=0, actor="test")
        store.finish_run(run["id"], status=status, message="x")
    alerts.detect(store, cfg)
    events = store.list_alert_events()
    assert [e["type"] for e in events] == ["sweep.portal_unavailable"] * 2
    assert sorted(e["details"]["run_id"] for e in events) == [2, 5]


def test_a_target_missed_on_the_verified_basis_fires_after_two_completed_sweeps(app, store):
    cfg = app.config["TTHC"]
    sub = alerts.subscribe(store, ADMIN, {"scope": "all", "channel": "email", "address": "city@example.vn"},
                           source="test")
    codes = _integrated(store)

    def sweep(broken: int) -> None:
        run = store.start_run(kind="linkage", selection={"all": True}, total=len(codes), actor="test")
        store.record_attempts([{**_attempt(c, "not_integrated" if i < broken else "integrated"), "run_id": run["id"]}
                               for i, c in enumerate(codes)])
        store.finish_run(run["id"], status="completed")
        alerts.detect(store, cfg)

    sweep(0)  # 444 of 1,431 online verified: 31.02% >= 30%: met (the baseline)
    sweep(30)  # 414 / 1,431 = 28.93%: missed once
    assert "target.missed" not in _types(store)
    sweep(30)
    target_events = [e for e in store.list_alert_events(limit=2000) if e["type"].startswith("target.")]
    assert [e["type"] for e in target_events] == ["target.missed"]
    details = target_events[0]["details"]
    assert details["indicator"] == "dvcqg_integration_rate" and details["percent"] == 28.93
    assert details["target_percent"] == 30.0 and details["needed"] == 16
    # the city-wide subscription gets it; agency subscriptions never do (see test_routing)
    assert any(d["subscription_id"] == sub["id"] for d in store.list_deliveries(event_id=target_events[0]["id"]))


def test_evidence_goes_stale_once_per_verdict(app, store):
    cfg = app.config["TTHC"]
    code = _integrated(store)[0]
    old = datetime.now(VN_TZ) - timedelta(days=8)
    store.record_attempts([_attempt(code, "integrated", at=old)])
    alerts.detect(store, cfg)
    assert _types(store) == ["evidence.stale"]
    alerts.detect(store, cfg)
    assert _types(store) == ["evidence.stale"]
    store.record_attempts([_attempt(code, "unknown")])  # an unknown renews nothing
    alerts.detect(store, cfg)
    assert _types(store) == ["evidence.stale"]
    store.record_attempts([_attempt(code, "integrated")])  # fresh evidence ...
    alerts.detect(store, cfg)
    later = datetime.now(VN_TZ) + timedelta(days=8)  # ... that goes stale in its turn
    alerts.detect(store, cfg, now=later)
    assert _types(store) == ["evidence.stale", "evidence.stale"]


def test_a_disabled_account_hears_nothing_more(app, store):
    from registry.auth import add_user
    cfg = app.config["TTHC"]
    code = _integrated(store)[0]
    agency = store.get_procedure(code)["agency"]
    add_user(store, "lan", "password-123", "editor", [agency], actor="test")
    alerts.subscribe(store, Principal("lan", "editor", (agency,)),
                     {"scope": "agency", "agency": agency, "channel": "email", "address": "lan@hn.gov.vn"},
                     source="test")
    store.db.execute("UPDATE users SET active = 0 WHERE username = 'lan'")  # no product command does this yet
    for verdict in ("integrated", "link_broken", "link_broken"):
        store.record_attempts([_attempt(code, verdict)])
    [event_id] = alerts.detect(store, cfg)
    assert store.list_deliveries(event_id=event_id) == []
