"""The coverage report's published JSON Schema, its cache on the change counter, and its ETag."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from registry import cache, create_app, reporting, settings
from registry.report_schema import json_schema, validation_errors
from registry.store import VN_TZ, VersionConflict

from .conftest import JUSTICE, single_agency

SCHEMA_URL = "/api/v1/schemas/coverage-1.json"


def test_the_schema_is_published_2020_12_and_linked_from_report_and_openapi(api):
    resp = api.get(SCHEMA_URL)
    assert resp.status_code == 200 and resp.mimetype == "application/schema+json"
    doc = resp.get_json(force=True)
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["properties"]["method"]["const"] == "tthc-coverage/1"
    assert api.get("/api/v1/schemas").get_json() == {"tthc-coverage/1": SCHEMA_URL}
    report = api.get("/api/v1/coverage?group_by=agency&basis=verified")
    assert report.get_json()["$schema"] == SCHEMA_URL
    assert report.headers["Link"] == f'<{SCHEMA_URL}>; rel="describedby"'
    assert list(Draft202012Validator(doc).iter_errors(report.get_json())) == []
    openapi = api.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/schemas/coverage-{version}.json" in openapi["paths"]
    assert SCHEMA_URL in str(openapi["paths"]["/api/v1/coverage"]["get"]["responses"]["200"])
    missing = api.get("/api/v1/schemas/coverage-9.json")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


@pytest.mark.parametrize("damage, message", [
    (lambda r: r.update(method="tthc-coverage/2"), "unknown method 'tthc-coverage/2'"),
    (lambda r: r.pop("indicators"), "'indicators' is a required property"),
    (lambda r: r["indicators"][0].update(numerator="444"), "indicators/0/numerator: '444' is not of type"),
    (lambda r: r["totals"].update(online=None), "totals/online: None is not of type 'integer'"),
    (lambda r: r.update(basis="claimed"), "basis: 'claimed' is not one of"),
])
def test_a_report_that_breaks_the_schema_is_named_with_its_path(api, damage, message):
    report = api.get("/api/v1/coverage").get_json()
    assert validation_errors(report) == []
    damage(report)
    assert any(message in problem for problem in validation_errors(report))


def test_the_suite_validates_every_report_it_builds():
    # tests/conftest.py wraps the report builders for every test: this one included.
    assert hasattr(reporting.coverage_report, "__wrapped__")
    assert json_schema("tthc-coverage/1")["required"]


def test_computed_once_per_state_then_served_from_cache(api, db, monkeypatch):
    calls = []
    original = reporting.coverage_report
    monkeypatch.setattr(reporting, "coverage_report", lambda *a, **k: calls.append(k) or original(*a, **k))
    first = api.get("/api/v1/coverage")
    again = api.get("/api/v1/coverage")
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    assert len(calls) == 1
    api.get("/api/v1/coverage?format=csv")
    api.get("/api/v1/coverage?basis=verified")
    assert len(calls) == 3
    # A write bumps the counter in its own transaction: the next read recomputes.
    db.upsert_target({"indicator": "online_rate", "percent": 99.5, "due": "2099-12-31", "source": "KH test"},
                     actor="t", source="api")
    changed = api.get("/api/v1/coverage")
    assert len(calls) == 4 and changed.headers["ETag"] != first.headers["ETag"]
    online = next(i for i in changed.get_json()["indicators"] if i["id"] == "online_rate")
    assert online["target"]["percent"] == 99.5


def test_304_needs_no_computation_in_any_worker(api_db, api, db, monkeypatch, fixture_records):
    etag = api.get("/api/v1/coverage").headers["ETag"]
    # Another worker: another app on the same file, an empty cache, and no report computation.
    other = create_app({"DATABASE": str(api_db), "TESTING": True, "SECRET_KEY": "x"}).test_client()
    cache.cache_for(str(api_db)).clear()
    monkeypatch.setattr(reporting, "coverage_report", lambda *a, **k: pytest.fail("computed for a 304"))
    resp = other.get("/api/v1/coverage", headers={"If-None-Match": f'"x", {etag}'})
    assert resp.status_code == 304 and resp.headers["ETag"] == etag and resp.data == b""
    # Another representation or request never matches this tag.
    monkeypatch.undo()
    assert other.get("/api/v1/coverage?format=csv", headers={"If-None-Match": etag}).status_code == 200
    assert other.get("/api/v1/coverage?basis=verified", headers={"If-None-Match": etag}).status_code == 200
    code = single_agency(fixture_records, JUSTICE)["code"]
    db.update_procedure(code, {"sso": not db.get_procedure(code)["sso"]}, expected_version=None, actor="t",
                        source="api")
    fresh = other.get("/api/v1/coverage", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag


def test_a_failed_write_changes_nothing_not_even_the_counter(db, fixture_records):
    code = fixture_records[0]["code"]
    before = db.data_state()
    with pytest.raises(VersionConflict):
        db.update_procedure(code, {"sso": True}, expected_version=999, actor="t", source="api")
    assert db.data_state() == before
    db.record_attempts([{"code": code, "dimension": "linkage", "verdict": "integrated",
                         "checked_at": datetime.now(VN_TZ).isoformat()}])
    assert db.data_state() != before


def test_a_verdict_going_stale_ends_the_entry_and_the_etag(db):
    cfg = settings.load({})
    now = datetime.now(VN_TZ)
    soon = now - timedelta(days=cfg["STALENESS_DAYS"]) + timedelta(hours=1)
    db.record_attempts([{"code": "1.000049", "dimension": "linkage", "verdict": "integrated",
                         "checked_at": soon.isoformat()}])
    expires = reporting.report_expiry(db, cfg, now, None)
    assert abs(expires - (soon + timedelta(days=cfg["STALENESS_DAYS"])).timestamp()) < 1
    assert reporting.report_expiry(db, cfg, now, now.date() - timedelta(days=3)) == cache.NEVER
    tag = cache.make_etag("s-1", "p", expires)
    assert cache.etag_is_current(tag, "s-1", "p", expires - 1)
    assert not cache.etag_is_current(tag, "s-1", "p", expires)
    store = cache.StateCache()
    store.put("k", cache.Cached("v", tag, expires))
    assert store.get("k", expires - 1).value == "v" and store.get("k", expires) is None


def test_one_computation_however_many_threads_ask():
    import threading

    store, calls, gate = cache.StateCache(), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(10)
        return cache.Cached("v", "t", cache.NEVER)

    threads = [threading.Thread(target=store.get_or_compute, args=("k", time.time(), compute)) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert calls == [1] and store.misses == 1 and store.hits == 7


def test_procedure_pages_are_cached_until_a_write_and_answer_304(api, db, fixture_records):
    url = "/api/v1/procedures?per_page=5&sort=code"
    first = api.get(url)
    etag = first.headers["ETag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert api.get(url + "&page=2", headers={"If-None-Match": etag}).status_code == 200
    code = first.get_json()["items"][0]["code"]
    db.update_procedure(code, {"name": "Tên mới sau khi sửa"}, expected_version=None, actor="t", source="api")
    after = api.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.get_json()["items"][0]["name"] == "Tên mới sau khi sửa"
