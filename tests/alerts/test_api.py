"""/api/v1/alerts: subscriptions owned by users (editors for their agencies, admins for all) and the feed."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from registry import create_app
from registry.auth import add_user, issue_token
from registry.store import open_store

JUSTICE = "Sở Tư pháp"
API = "/api/v1/alerts"


@pytest.fixture(scope="module")
def template(hanoi_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The hanoi-2021 database with one user of each kind and their tokens, built once."""
    path = tmp_path_factory.mktemp("alerts-api") / "registry.db"
    shutil.copyfile(hanoi_db, path)
    tokens = {}
    with open_store(path) as store:
        for name, role, agencies in (("lan", "editor", [JUSTICE]), ("xem", "viewer", []),
                                     ("minh", "editor", ["Sở Xây dựng"])):
            add_user(store, name, "password-123", role, agencies, actor="test")
        for name in ("root", "lan", "xem", "minh"):  # root: the template's admin
            tokens[name], _ = issue_token(store, name, actor="test")
        justice = next(p["code"] for p in store.all_procedures() if p["agency"] == JUSTICE)
        other = next(p["code"] for p in store.all_procedures() if JUSTICE not in (p["agency"], *p["agencies"]))
    return {"db": path, "tokens": tokens, "justice": justice, "other": other}


@pytest.fixture
def setup(template: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "registry.db"
    shutil.copyfile(template["db"], path)
    app = create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t"})
    return {**template, "client": app.test_client(), "db": path}


def _h(setup: dict[str, Any], user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['tokens'][user]}"}


def test_an_editor_subscribes_to_their_agency_by_email_and_lists_and_removes_it(setup):
    c = setup["client"]
    resp = c.post(f"{API}/subscriptions", headers=_h(setup, "lan"),
                  json={"scope": "agency", "agency": "  Sở  Tư pháp ", "channel": "email", "address": "lan@hn.gov.vn",
                        "mode": "digest"})
    assert resp.status_code == 201, resp.json
    sub = resp.json
    assert sub["agency"] == JUSTICE and sub["owner"] == "lan" and sub["mode"] == "digest" and "secret" not in sub
    assert [s["id"] for s in c.get(f"{API}/subscriptions", headers=_h(setup, "lan")).json["items"]] == [sub["id"]]
    assert c.get(f"{API}/subscriptions", headers=_h(setup, "minh")).json["items"] == []
    assert c.get(f"{API}/subscriptions", headers=_h(setup, "root")).json["total"] == 1
    assert c.delete(f"{API}/subscriptions/{sub['id']}", headers=_h(setup, "minh")).status_code == 404
    assert c.delete(f"{API}/subscriptions/{sub['id']}", headers=_h(setup, "lan")).status_code == 204
    assert c.delete(f"{API}/subscriptions/{sub['id']}", headers=_h(setup, "lan")).status_code == 404
    assert c.get(f"{API}/subscriptions", headers=_h(setup, "lan")).json["items"] == []
    audit = c.get("/api/v1/audit?entity=alert_subscription").json["items"]
    assert {a["action"] for a in audit} == {"alert_subscription.created", "alert_subscription.removed"}


def test_a_webhook_secret_is_shown_once(setup):
    c = setup["client"]
    resp = c.post(f"{API}/subscriptions", headers=_h(setup, "lan"),
                  json={"scope": "procedure", "procedure": setup["justice"], "channel": "webhook",
                        "address": "http://127.0.0.1:9/hook"})
    assert resp.status_code == 201, resp.json
    assert len(resp.json["secret"]) == 64
    listed = c.get(f"{API}/subscriptions", headers=_h(setup, "lan")).json["items"]
    assert listed[0]["secret"] is None
    with open_store(setup["db"]) as store:
        assert all(resp.json["secret"] not in str(a) for a in store.list_audit(limit=100))


@pytest.mark.parametrize("user, body, status, field", [
    ("lan", {"scope": "all", "channel": "email", "address": "a@b.vn"}, 403, None),
    ("lan", {"scope": "agency", "agency": "Sở Xây dựng", "channel": "email", "address": "a@b.vn"}, 403, None),
    ("lan", {"scope": "procedure", "procedure": "OTHER", "channel": "email", "address": "a@b.vn"}, 403, None),
    ("xem", {"scope": "procedure", "procedure": "JUSTICE", "channel": "email", "address": "a@b.vn"}, 403, None),
    ("root", {"scope": "agency", "agency": "Sở Không Có", "channel": "email", "address": "a@b.vn"}, 422, "agency"),
    ("root", {"scope": "agency", "channel": "email", "address": "a@b.vn"}, 422, "agency"),
    ("root", {"scope": "procedure", "procedure": "9.999999", "channel": "email", "address": "a@b.vn"}, 422,
     "procedure"),
    ("root", {"scope": "all", "channel": "email", "address": "not-an-address"}, 422, "address"),
    ("root", {"scope": "all", "channel": "webhook", "address": "ftp://x.example/hook"}, 422, "address"),
    ("root", {"scope": "all", "channel": "webhook", "address": "http://x.example/h", "mode": "digest"}, 422, "mode"),
    ("root", {"scope": "all", "channel": "sms", "address": "0901"}, 422, "channel"),
    ("root", {"scope": "all", "channel": "email", "address": "a@b.vn", "event_types": ["nope"]}, 422,
     "event_types"),
    ("root", {"scope": "all", "channel": "email", "address": "a@b.vn", "extra": 1}, 422, "extra"),
])
def test_bad_or_forbidden_subscriptions_are_refused_and_write_nothing(setup, user, body, status, field):
    body = {k: {"OTHER": setup["other"], "JUSTICE": setup["justice"]}.get(v, v) if isinstance(v, str) else v
            for k, v in body.items()}
    resp = setup["client"].post(f"{API}/subscriptions", headers=_h(setup, user), json=body)
    assert resp.status_code == status, resp.json
    assert resp.mimetype == "application/problem+json"
    if field:
        assert any(key == field or key.startswith(field + ".") for key in resp.json["errors"])
    assert setup["client"].get(f"{API}/subscriptions", headers=_h(setup, "root")).json["total"] == 0


def test_subscriptions_need_a_token(setup):
    c = setup["client"]
    assert c.get(f"{API}/subscriptions").status_code == 401
    assert c.post(f"{API}/subscriptions", json={}).status_code == 401
    assert c.get(f"{API}/subscriptions", headers=_h(setup, "xem")).status_code == 403


def test_an_admin_follows_everything_and_the_feed_is_paged(setup):
    c = setup["client"]
    resp = c.post(f"{API}/subscriptions", headers=_h(setup, "root"),
                  json={"scope": "all", "channel": "email", "address": "so-tttt@hanoi.gov.vn",
                        "event_types": ["linkage", "target.missed"]})
    assert resp.status_code == 201 and resp.json["event_types"] == ["linkage", "target.missed"]
    from registry import alerts
    with open_store(setup["db"]) as store:
        cfg = {"ALERT_CONFIRMATIONS": 1, "STALENESS_DAYS": 7.0, "ALERT_DIGEST_HOUR": 7}
        for verdict in ("integrated", "link_broken", "integrated"):
            store.record_attempts([{"code": setup["justice"], "dimension": "linkage", "verdict": verdict,
                                    "checked_at": "2026-12-01T10:00:00+07:00", "run_id": None}])
            alerts.detect(store, cfg)
    feed = c.get(f"{API}/events?per_page=1").json
    assert feed["total"] == 2 and feed["links"]["next"]
    assert feed["items"][0]["type"] == "linkage.restored"
    assert feed["items"][0]["deliveries"] == {"email.pending": 1}
    assert c.get(f"{API}/events?type=linkage.broken").json["total"] == 1
    assert c.get(f"{API}/events?code={setup['other']}").json["total"] == 0
    assert c.get(f"{API}/events?per_page=0").status_code == 422
