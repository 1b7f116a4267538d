"""Issue 10: one scope rule (no orphaning, no takeover), restore, reasons, codes, inputs that crashed."""

from __future__ import annotations

import io
import json
import re

import pytest

from registry import schemas as core
from registry.api import schemas as api_schemas

from .conftest import BUILDING, JUSTICE, single_agency

PROBLEM = "application/problem+json"


@pytest.fixture
def justice_code(fixture_records) -> str:
    return single_agency(fixture_records, JUSTICE)["code"]


def _read(api, code: str) -> tuple[dict, str]:
    resp = api.get(f"/api/v1/procedures/{code}")
    return resp.json, resp.headers["ETag"]


# -- orphan + takeover: the scope rule looks at every agency before AND after -------------------
@pytest.mark.parametrize("method, body", [
    ("PATCH", {"agency": "", "agencies": []}),
    ("PUT", {"name": "Tên mới"}),  # PUT without agency would leave none
])
def test_editor_cannot_strip_every_agency_from_a_procedure(api, bearer, db, justice_code, method, body):
    _, etag = _read(api, justice_code)
    resp = api.open(f"/api/v1/procedures/{justice_code}", method=method, json=body,
                    headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 403, resp.json
    assert resp.mimetype == PROBLEM and "at least one agency" in resp.json["detail"]
    assert db.get_procedure(justice_code)["agency"] == JUSTICE


def test_an_orphan_cannot_be_claimed_by_another_editor(api, bearer, db, justice_code):
    """Even if a procedure has no agency (an admin left it so), no editor can take it."""
    _, etag = _read(api, justice_code)
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"agency": "", "agencies": []},
                     headers=bearer("admin", **{"If-Match": etag}))
    assert resp.status_code == 200 and resp.json["agencies"] == []
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"agency": BUILDING},
                     headers=bearer("other_editor", **{"If-Match": resp.headers["ETag"]}))
    assert resp.status_code == 403 and "only an admin" in resp.json["detail"]
    assert db.get_procedure(justice_code)["agency"] == ""


def test_editor_cannot_hand_a_procedure_to_another_agency(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"agency": BUILDING, "agencies": [BUILDING]},
                     headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 403 and BUILDING in resp.json["detail"]


def test_editor_cannot_add_a_foreign_agency_beside_their_own(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"agencies": [JUSTICE, BUILDING]},
                     headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 403
    assert db.get_procedure(justice_code)["agencies"] == [JUSTICE]


# -- PUT without status, retire with a reason, restore -------------------------------------------------
def test_put_without_status_does_not_reactivate_a_retired_procedure(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    resp = api.delete(f"/api/v1/procedures/{justice_code}?reason=Bãi bỏ",
                      headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 200 and resp.json["status"] == "retired"
    resp = api.put(f"/api/v1/procedures/{justice_code}", json={"name": "Tên mới", "agency": JUSTICE},
                   headers=bearer("editor", **{"If-Match": resp.headers["ETag"]}))
    assert resp.status_code == 200
    assert resp.json["status"] == "retired" and db.get_procedure(justice_code)["status"] == "retired"


def test_retire_keeps_the_reason_and_restore_brings_it_back(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    resp = api.post(f"/api/v1/procedures/{justice_code}/retire", json={"reason": "Thay bằng thủ tục mới"},
                    headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 200 and resp.json["status"] == "retired"
    resp = api.post(f"/api/v1/procedures/{justice_code}/restore", json={"reason": "Nhầm"},
                    headers=bearer("editor", **{"If-Match": resp.headers["ETag"]}))
    assert resp.status_code == 200 and resp.json["status"] == "active"
    actions = [(e["action"], e["reason"]) for e in db.history(justice_code)][-2:]
    assert actions == [("retire", "Thay bằng thủ tục mới"), ("restore", "Nhầm")]
    audit = api.get(f"/api/v1/audit?procedure={justice_code}").json["items"]
    assert audit[0]["action"] == "restore" and audit[0]["reason"] == "Nhầm"


def test_restore_needs_if_match_and_scope(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    api.delete(f"/api/v1/procedures/{justice_code}", headers=bearer("editor", **{"If-Match": etag}))
    assert api.post(f"/api/v1/procedures/{justice_code}/restore",
                    headers=bearer("editor")).status_code == 428
    _, etag = _read(api, justice_code)
    assert api.post(f"/api/v1/procedures/{justice_code}/restore",
                    headers=bearer("other_editor", **{"If-Match": etag})).status_code == 403
    assert db.get_procedure(justice_code)["status"] == "retired"


# -- codes: ASCII digits only; one pattern for OpenAPI and the validator -----------------------------
@pytest.mark.parametrize("code", ["١.٠٠٠٣٩٠", "１.000390", "1.٠٠٠390"])
def test_unicode_digit_codes_are_refused(api, bearer, db, code):
    resp = api.post("/api/v1/procedures", json={"code": code, "name": "X", "agency": JUSTICE},
                    headers=bearer("editor"))
    assert resp.status_code == 422 and "code" in resp.json["errors"]
    assert db.count_procedures() == len(db.all_procedures(include_retired=True))
    assert all(p["code"].isascii() for p in db.all_procedures(include_retired=True))


def test_openapi_code_pattern_is_the_validators_pattern(api):
    assert api_schemas.CODE_PATTERN is core.CODE_RE.pattern
    doc = api.get("/api/v1/openapi.json").json
    create = doc["components"]["schemas"]["ProcedureCreate"]["properties"]["code"]
    assert create["pattern"] == core.CODE_RE.pattern
    assert re.compile(create["pattern"]).match("١.٠٠٠٣٩٠") is None  # ASCII classes


# -- derived fields, levels, inputs that gave a 500 ----------------------------------------------------
def test_patch_of_online_mode_alone_names_the_derived_field(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    before = db.get_procedure(justice_code)
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"online_mode": "toan_trinh"},
                     headers=bearer("editor", **{"If-Match": etag}))
    assert resp.status_code == 422 and "online_mode" in resp.json["errors"]
    assert "service_level" in resp.json["errors"]["online_mode"][0]
    assert db.get_procedure(justice_code)["version"] == before["version"]


@pytest.mark.parametrize("level", [3.5, 2.25])
def test_fractional_service_level_is_422(api, bearer, level):
    resp = api.post("/api/v1/procedures", json={"code": "1.999999", "name": "X", "agency": JUSTICE,
                                                "service_level": level}, headers=bearer("editor"))
    assert resp.status_code == 422 and "service_level" in resp.json["errors"]


def test_100k_deep_json_body_is_a_400_problem(api, bearer):
    body = b"[" * 100_000 + b"]" * 100_000
    resp = api.post("/api/v1/procedures", data=body, content_type="application/json", headers=bearer("editor"))
    assert resp.status_code == 400 and resp.mimetype == PROBLEM
    assert "nested too deeply" in resp.json["detail"]


def test_a_5001_digit_integer_is_422_naming_the_field(api, bearer):
    body = '{"code": "1.999999", "name": "X", "agency": "%s", "service_level": %s}' % (JUSTICE, "9" * 5001)
    resp = api.post("/api/v1/procedures", data=body.encode(), content_type="application/json",
                    headers=bearer("editor"))
    assert resp.status_code == 422 and list(resp.json["errors"]) == ["service_level"]


@pytest.mark.parametrize("data, fmt", [
    (b"[" * 100_000 + b"]" * 100_000, "json"),
    (b'[{"code": "1.999999", "name": "A", "service_level": ' + b"9" * 5001 + b"}]", "json"),
    (b'[{"code": "1.999999", "name": "A", "\\ud800": 1}]', "json"),
    (b'{"code": "1.999999", "name": "A", "\\udfff": 1}\n', "jsonl"),
])
def test_hostile_json_imports_are_4xx_problems(api, bearer, db, data, fmt):
    resp = api.post("/api/v1/imports", data={"file": (io.BytesIO(data), f"x.{fmt}")},
                    content_type="multipart/form-data", headers=bearer("admin"))
    assert 400 <= resp.status_code < 500 and resp.mimetype == PROBLEM
    json.loads(resp.get_data(as_text=True))  # the body encodes and parses
    assert resp.json["errors"]


def test_import_only_mine_over_the_api(api, bearer, db):
    rows = [{"code": "1.999991", "name": "Của tôi", "agency": JUSTICE},
            {"code": "1.999992", "name": "Của người khác", "agency": BUILDING}]
    data = json.dumps(rows).encode()
    refused = api.post("/api/v1/imports", data={"file": (io.BytesIO(data), "x.json")},
                       content_type="multipart/form-data", headers=bearer("editor"))
    assert refused.status_code == 403
    resp = api.post("/api/v1/imports", data={"file": (io.BytesIO(data), "x.json"), "only_mine": "true"},
                    content_type="multipart/form-data", headers=bearer("editor"))
    assert resp.status_code == 201, resp.json
    assert resp.json["skipped"] == {"total": 1, "by_agency": [{"agency": BUILDING, "rows": 1}]}
    assert [p["code"] for p in db.procedures_by_code(["1.999991", "1.999992"])] == ["1.999991"]


def test_unassigned_procedures_are_listed_for_admins(api, bearer, db):
    data = json.dumps([{"code": "1.999993", "name": "Chưa có cơ quan"}]).encode()
    resp = api.post("/api/v1/imports", data={"file": (io.BytesIO(data), "x.json")},
                    content_type="multipart/form-data", headers=bearer("admin"))
    assert resp.status_code == 201 and resp.json["unassigned"] == ["1.999993"]
    listed = api.get("/api/v1/procedures?unassigned=true").json
    assert [p["code"] for p in listed["items"]] == ["1.999993"] and listed["total"] == 1


def test_a_status_change_by_patch_is_audited_as_retire_and_restore(api, bearer, db, justice_code):
    _, etag = _read(api, justice_code)
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"status": "retired"},
                     headers=bearer("editor", **{"If-Match": etag}))
    resp = api.patch(f"/api/v1/procedures/{justice_code}", json={"status": "active"},
                     headers=bearer("editor", **{"If-Match": resp.headers["ETag"]}))
    assert resp.status_code == 200
    assert [e["action"] for e in db.history(justice_code)][-2:] == ["retire", "restore"]
