"""/api/v1/targets: public list; admins create, change, replace and delete (audited)."""

from __future__ import annotations

import json

import pytest

from .conftest import REPO

PROBLEM = "application/problem+json"
TARGET = {
    "indicator": "sso_payment_rate",
    "percent": 35.5,
    "due": "2030-12-31",
    "source": "KH 999/KH-UBND",
}


def test_list_matches_the_fixture(api):
    shipped = json.loads((REPO / "fixtures" / "hanoi-2021" / "targets.json").read_text("utf-8"))
    body = api.get("/api/v1/targets").json
    assert body["total"] == len(shipped) == len(body["items"])
    got = {(t["indicator"], t["due"]): (t["percent"], t["source"]) for t in body["items"]}
    assert got == {(t["indicator"], t["due"]): (t["percent"], t["source"]) for t in shipped}
    assert all(
        set(t) == {"id", "indicator", "percent", "due", "source", "note"} for t in body["items"]
    )


def test_admin_creates_then_changes_a_target(api, bearer, db):
    created = api.post("/api/v1/targets", json=TARGET, headers=bearer("admin"))
    assert created.status_code == 201
    assert {k: created.json[k] for k in TARGET} == TARGET and created.json["note"] == ""
    changed = api.post("/api/v1/targets", json={**TARGET, "percent": 40}, headers=bearer("admin"))
    assert (
        changed.status_code == 200
        and changed.json["percent"] == 40.0
        and changed.json["id"] == created.json["id"]
    )
    actions = [e["action"] for e in db.list_audit(entity="target", order="asc")]
    assert actions == ["create", "update"]
    assert db.list_audit(entity="target")[0]["actor"] == "root"


def test_a_changed_target_changes_the_coverage_report(api, bearer):
    api.post(
        "/api/v1/targets",
        json={
            "indicator": "dvcqg_integration_rate",
            "percent": 50,
            "due": "2021-12-31",
            "source": "stricter",
        },
        headers=bearer("admin"),
    )
    ind = next(
        i
        for i in api.get("/api/v1/coverage").json["indicators"]
        if i["id"] == "dvcqg_integration_rate"
    )
    assert ind["target"]["percent"] == 50.0 and ind["met"] is False and ind["needed"] > 0


def test_replace_all_targets(api, bearer):
    resp = api.put("/api/v1/targets", json={"items": [TARGET]}, headers=bearer("admin"))
    assert resp.status_code == 200 and resp.json["total"] == 1
    assert [t["indicator"] for t in api.get("/api/v1/targets").json["items"]] == [
        "sso_payment_rate"
    ]


def test_delete_a_target(api, bearer):
    target_id = api.get("/api/v1/targets").json["items"][0]["id"]
    resp = api.delete(f"/api/v1/targets/{target_id}", headers=bearer("admin"))
    assert resp.status_code == 204 and resp.data == b""
    assert target_id not in {t["id"] for t in api.get("/api/v1/targets").json["items"]}
    again = api.delete(f"/api/v1/targets/{target_id}", headers=bearer("admin"))
    assert again.status_code == 404 and again.mimetype == PROBLEM


@pytest.mark.parametrize(
    "body, field",
    [
        ({**TARGET, "indicator": "happiness"}, "indicator"),
        ({**TARGET, "percent": 101}, "percent"),
        ({**TARGET, "due": "someday"}, "due"),
        ({**TARGET, "source": ""}, "source"),
        ({**TARGET, "note": 5}, "note"),
        ({k: v for k, v in TARGET.items() if k != "source"}, "source"),
    ],
)
def test_invalid_targets_are_422(api, bearer, body, field):
    resp = api.post("/api/v1/targets", json=body, headers=bearer("admin"))
    assert (
        resp.status_code == 422
        and resp.mimetype == PROBLEM
        and list(resp.json["errors"]) == [field]
    )


def test_replace_refuses_duplicates(api, bearer):
    resp = api.put("/api/v1/targets", json={"items": [TARGET, TARGET]}, headers=bearer("admin"))
    assert resp.status_code == 422 and "items" in resp.json["errors"]
    assert api.get("/api/v1/targets").json["total"] > 1
