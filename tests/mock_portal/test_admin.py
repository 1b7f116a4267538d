"""The admin API over real sockets: health, world, faults at run time, reset, journal."""
from __future__ import annotations

import json

import pytest

from tests.mock_portal.helpers import SMALL_WORLD, UNIT, init_message

LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"


def test_health(portal):
    health = portal.admin("GET", "/health")
    assert (health["status"], health["world"], health["listed"]) == ("ok", "small", 7)


def test_set_list_delete_and_clear_faults_at_run_time(portal):
    assert portal.post(LIST, json={}).status_code == 200
    added = portal.admin("POST", "/faults", json={"name": "x", "kind": "http_error",
                                                   "upstream": "dvcqg", "status": 502})
    assert added["added"][0]["name"] == "x"
    assert portal.post(LIST, json={}).status_code == 502
    portal.admin("POST", "/faults", json=[{"kind": "rate_limit", "upstream": "adapter"}])
    names = [r["name"] for r in portal.admin("GET", "/faults")["rules"]]
    assert names == ["x", "rate_limit-1"]
    assert portal.admin("DELETE", "/faults/x")["removed"] == 1
    assert portal.post(LIST, json={}).status_code == 200
    assert portal.post("/_admin/faults/x", json=None).status_code == 405
    assert portal.admin("DELETE", "/faults")["removed"] == 1
    assert portal.admin("GET", "/faults")["rules"] == []


def test_set_faults_from_profile_replacing(portal):
    portal.admin("POST", "/faults", json={"name": "keep?", "kind": "reset"})
    out = portal.admin("POST", "/faults", json={"profile": "down", "replace": True, "seed": 5})
    assert [r["name"] for r in out["rules"]] == ["down-503"]
    assert portal.admin("GET", "/faults")["seed"] == 5


@pytest.mark.parametrize("body", [
    {"kind": "explode"}, {"kind": "latency", "rate": 2}, {"kind": "http_error", "status": 200},
    {"kind": "latency", "min_ms": 50, "max_ms": 10}, {"kind": "reset", "upstream": "mars"},
    {"profile": "no-such-profile"}, {"kind": "reset", "surprise": 1}, "text",
])
def test_invalid_fault_rules_are_400_and_change_nothing(portal, body):
    resp = portal.post("/_admin/faults", json=body)
    assert resp.status_code == 400 and resp.json()["error"]
    assert portal.admin("GET", "/faults")["rules"] == []


def test_reset_forgets_state_but_keeps_rules(portal):
    portal.admin("POST", "/faults", json={"kind": "latency", "ms": 0})
    session = portal.session()
    portal.post("/payment/init", json=init_message("1.000001", "HS-1"))
    portal.admin("POST", "/reset")
    assert portal.admin("GET", "/payments")["payments"] == []
    assert portal.journal() == []
    body = {"session": session, "madonvi": UNIT, "service": "LayDVC"}
    assert portal.post("/adapter/share", json=body).json()["error_code"] == "03"
    assert len(portal.admin("GET", "/faults")["rules"]) == 1
    portal.admin("POST", "/reset", json={"faults": True})
    assert portal.admin("GET", "/faults")["rules"] == []


def test_journal_records_what_clients_sent(portal):
    portal.post("/adapter/auth", json={"username": "hanoi", "password": "hanoi-secret"},
                headers={"X-Probe": "yes"})
    portal.post("/lgsp/token", data={"grant_type": "client_credentials", "client_id": "tthc",
                                     "client_secret": "lgsp-secret"})
    portal.get("/dvcqg/dich-vu-cong-truc-tuyen/1.000001?x=1")
    portal.admin("GET", "/health")  # admin calls are not journaled
    entries = portal.journal()
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/adapter/auth", 200), ("POST", "/lgsp/token", 200),
        ("GET", "/dvcqg/dich-vu-cong-truc-tuyen/1.000001", 200)]
    assert entries[0]["json"] == {"username": "hanoi", "password": "hanoi-secret"}
    assert entries[0]["headers"]["X-Probe"] == "yes" and entries[0]["upstream"] == "adapter"
    assert entries[1]["form"]["client_id"] == "tthc"
    assert entries[2]["query"] == "x=1" and entries[2]["time"].endswith("+07:00")
    assert [e["path"] for e in portal.journal(upstream="lgsp")] == ["/lgsp/token"]
    assert len(portal.journal(path="/adapter/*")) == 1
    assert [e["seq"] for e in portal.journal(since=entries[1]["seq"])] == [entries[2]["seq"]]
    assert portal.admin("DELETE", "/journal")["cleared"] == 3
    assert portal.journal() == []


def test_load_world_by_dict_name_and_path(portal, tmp_path):
    small = json.loads(json.dumps(SMALL_WORLD))
    small["name"] = "smaller"
    small["catalog"] = {"source": None, "only": ["1.000001", "1.000002"]}
    assert portal.admin("POST", "/world", json={"world": small})["listed"] == 2
    assert portal.admin("GET", "/health")["world"] == "smaller"
    path = tmp_path / "w.json"
    path.write_text(json.dumps(dict(small, name="from-file")), encoding="utf-8")
    assert portal.admin("POST", "/world", json={"path": str(path)})["name"] == "from-file"
    assert portal.admin("POST", "/world", json={"name": "hanoi-2021"})["name"] == "hanoi-2021"
    assert "hanoi-2021" in portal.admin("GET", "/world")["shipped"]


@pytest.mark.parametrize("body", [
    {"name": "no-such-world"},
    {"world": {"integrations": {UNIT: {"1.000001": "5"}}, "catalog": {"source": None},
               "procedures": [{"code": "1.000001", "name": "x"}]}},
    {"world": {"catalog": {"source": None}, "broken_links": {"9.999999": "404"}}},
    {"world": {"unknown_key": 1}},
    "text",
])
def test_bad_world_is_400_and_keeps_the_old_one(portal, body):
    resp = portal.post("/_admin/world", json=body)
    assert resp.status_code == 400 and resp.json()["error"]
    assert portal.admin("GET", "/health")["world"] == "small"
