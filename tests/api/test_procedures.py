"""/api/v1/procedures over HTTP: list, get, create, update with If-Match, retire."""

from __future__ import annotations

import unicodedata
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import JUSTICE, single_agency

PROBLEM = "application/problem+json"
NEW = {
    "code": "1.001193.H26",
    "name": "Đăng ký khai sinh (thí điểm)",
    "field": "Hộ tịch",
    "agency": JUSTICE,
    "service_level": 4,
    "sso": True,
}
PROCEDURE_KEYS = {
    "code",
    "name",
    "field",
    "agency",
    "agencies",
    "issuing_agency",
    "levels",
    "service_level",
    "online_mode",
    "has_fee",
    "dvcqg_integrated",
    "payment_channel",
    "sso",
    "status",
    "linkage",
    "payment",
    "version",
    "created_at",
    "updated_at",
}


def _etag(resp) -> str:
    return resp.headers["ETag"]


# -- list -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query, keep",
    [
        ({"level": 4}, lambda r: r["service_level"] == 4),
        ({"level": 2}, lambda r: r["service_level"] == 2),
        ({"integrated": "true"}, lambda r: r["dvcqg_integrated"]),
        (
            {"integrated": "false", "level": 3},
            lambda r: not r["dvcqg_integrated"] and r["service_level"] == 3,
        ),
        ({"payment_channel": "paygov"}, lambda r: r["payment_channel"] == "paygov"),
        (
            {"sso": "true", "payment_channel": "dvcqg_payment"},
            lambda r: r["sso"] and r["payment_channel"] == "dvcqg_payment",
        ),
        ({"agency": JUSTICE}, lambda r: JUSTICE in r["agencies"]),
        ({"field": "Hộ tịch"}, lambda r: r["field"] == "Hộ tịch"),
        ({"has_fee": "false"}, lambda r: not r["has_fee"]),
    ],
)
def test_list_filters_match_the_fixture(api, fixture_records, query, keep):
    expected = sorted(r["code"] for r in fixture_records if keep(r))
    resp = api.get("/api/v1/procedures", query_string={**query, "per_page": 500})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.json
    assert body["total"] == len(expected)
    assert [p["code"] for p in body["items"]] == expected[:500]


def test_list_body_shape_and_item_shape(api):
    body = api.get("/api/v1/procedures?per_page=3").json
    assert set(body) == {"items", "total", "page", "per_page", "links"}
    assert set(body["links"]) == {"self", "next", "prev"}
    assert body["page"] == 1 and body["per_page"] == 3 and len(body["items"]) == 3
    item = body["items"][0]
    assert set(item) == PROCEDURE_KEYS
    assert item["linkage"] == {"verdict": None, "checked_at": None, "stale": False}
    assert item["payment"] == {"verdict": None, "checked_at": None, "stale": False}


def test_pagination_walks_every_procedure_once_with_links(api, fixture_records):
    seen, url, pages = [], "/api/v1/procedures?per_page=400&level=4", 0
    while url and pages < 10:  # 731 level-4 procedures: two pages
        body = api.get(url).json
        seen.extend(p["code"] for p in body["items"])
        assert body["total"] == sum(1 for r in fixture_records if r["service_level"] == 4)
        if pages:
            assert parse_qs(urlsplit(body["links"]["prev"]).query)["page"] == [str(pages)]
        else:
            assert body["links"]["prev"] is None
        url, pages = body["links"]["next"], pages + 1
    assert pages == 2
    assert seen == sorted(r["code"] for r in fixture_records if r["service_level"] == 4)
    # The links keep the filters.
    assert parse_qs(
        urlsplit(api.get("/api/v1/procedures?per_page=400&level=4").json["links"]["next"]).query
    ) == {"per_page": ["400"], "level": ["4"], "page": ["2"]}


def test_page_past_the_end_is_empty_with_a_prev_link(api):
    body = api.get("/api/v1/procedures?per_page=500&page=10").json
    assert body["items"] == [] and body["links"]["next"] is None and body["links"]["prev"]


@pytest.mark.parametrize(
    "sort, key, reverse",
    [
        ("name", "name", False),
        ("-service_level", "service_level", True),
        ("agency", "agency", False),
    ],
)
def test_sorting(api, fixture_records, sort, key, reverse):
    body = api.get("/api/v1/procedures", query_string={"sort": sort, "per_page": 500}).json
    values = [p[key] for p in body["items"]]
    assert values == sorted(values, reverse=reverse)


@pytest.mark.parametrize(
    "query",
    ["dang ky khai sinh", "ĐĂNG KÝ KHAI SINH", unicodedata.normalize("NFD", "đăng ký khai sinh")],
)
def test_search_ignores_diacritics_and_case(api, fixture_records, query):
    def fold(s: str) -> str:
        s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "d"))
        return "".join(c for c in s if not unicodedata.combining(c)).lower()

    expected = {
        r["code"]
        for r in fixture_records
        if all(w in fold(r["name"]).split() for w in ("dang", "ky", "khai", "sinh"))
    }
    body = api.get("/api/v1/procedures", query_string={"q": query, "per_page": 500}).json
    assert expected and expected <= {p["code"] for p in body["items"]}


@pytest.mark.parametrize(
    "query",
    [
        {"level": 5},
        {"level": "four"},
        {"per_page": 0},
        {"per_page": 501},
        {"page": 0},
        {"sort": "password"},
        {"status": "deleted"},
        {"payment_channel": "cash"},
        {"integrated": "maybe"},
    ],
)
def test_bad_list_arguments_are_422_with_the_field(api, query):
    resp = api.get("/api/v1/procedures", query_string=query)
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert set(resp.json["errors"]) == set(query)


# -- get ----------------------------------------------------------------------------
def test_get_one_with_etag_and_304(api, fixture_records):
    rec = fixture_records[0]
    resp = api.get(f"/api/v1/procedures/{rec['code']}")
    assert resp.status_code == 200 and _etag(resp) == '"1"'
    body = resp.json
    assert {k: body[k] for k in rec} == rec
    assert body["online_mode"] == {4: "toan_trinh", 3: "mot_phan"}.get(rec["service_level"], "none")
    again = api.get(f"/api/v1/procedures/{rec['code']}", headers={"If-None-Match": '"1"'})
    assert again.status_code == 304 and again.data == b"" and _etag(again) == '"1"'
    assert (
        api.get(f"/api/v1/procedures/{rec['code']}", headers={"If-None-Match": '"7"'}).status_code
        == 200
    )


def test_get_unknown_is_404_problem(api):
    resp = api.get("/api/v1/procedures/9.999999")
    assert resp.status_code == 404 and resp.mimetype == PROBLEM
    assert resp.json["status"] == 404 and resp.json["instance"] == "/api/v1/procedures/9.999999"


def test_evidence_comes_from_the_probe_store(api, db, fixture_records):
    code = fixture_records[0]["code"]
    db.record_attempts(
        [
            {
                "run_id": None,
                "code": code,
                "dimension": "linkage",
                "verdict": "integrated",
                "checked_at": "2026-01-01T00:00:00+07:00",
            }
        ]
    )
    body = api.get(f"/api/v1/procedures/{code}").json
    # Older than the 7-day staleness window by now: reported, but stale.
    assert body["linkage"] == {
        "verdict": "integrated",
        "checked_at": "2026-01-01T00:00:00+07:00",
        "stale": True,
    }
    assert body["payment"]["verdict"] is None


# -- create -------------------------------------------------------------------------
def test_create_returns_201_location_etag_and_defaults(api, bearer, db):
    resp = api.post("/api/v1/procedures", json=NEW, headers=bearer("editor"))
    assert resp.status_code == 201, resp.json
    assert resp.headers["Location"] == "/api/v1/procedures/1.001193.H26" and _etag(resp) == '"1"'
    body = resp.json
    assert set(body) == PROCEDURE_KEYS
    assert (
        body["version"] == 1
        and body["online_mode"] == "toan_trinh"
        and body["agencies"] == [JUSTICE]
    )
    assert (body["has_fee"], body["dvcqg_integrated"], body["payment_channel"], body["status"]) == (
        False,
        False,
        "none",
        "active",
    )
    assert api.get(resp.headers["Location"]).json == body
    [entry] = db.list_audit(entity="procedure", key=NEW["code"])
    assert (entry["actor"], entry["source"], entry["action"]) == ("tuphap", "api", "create")


def test_create_normalises_vietnamese_to_nfc(api, bearer):
    nfd = unicodedata.normalize("NFD", "  Đăng   ký khai sinh ")
    body = api.post("/api/v1/procedures", json={**NEW, "name": nfd}, headers=bearer("admin")).json
    assert body["name"] == "Đăng ký khai sinh" and unicodedata.is_normalized("NFC", body["name"])


def test_duplicate_code_is_409(api, bearer, fixture_records):
    rec = single_agency(fixture_records, JUSTICE)
    resp = api.post(
        "/api/v1/procedures",
        json={"code": rec["code"], "name": "x", "agency": JUSTICE},
        headers=bearer("editor"),
    )
    assert (
        resp.status_code == 409 and resp.mimetype == PROBLEM and rec["code"] in resp.json["detail"]
    )


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "no code"}, {"code"}),
        ({"code": "1.001193.H26"}, {"name"}),
        ({**NEW, "code": "ABC"}, {"code"}),
        ({**NEW, "service_level": 7}, {"service_level"}),
        ({**NEW, "payment_channel": "cash"}, {"payment_channel"}),
        ({**NEW, "levels": ["xa", "galaxy"]}, {"levels.1"}),
        ({**NEW, "colour": "red"}, {"colour"}),
        ({**NEW, "online_mode": "mot_phan"}, {"online_mode"}),
    ],
)
def test_invalid_bodies_are_422_with_field_errors(api, bearer, db, body, fields):
    resp = api.post("/api/v1/procedures", json=body, headers=bearer("admin"))
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert set(resp.json["errors"]) == fields
    assert all(isinstance(m, list) and m for m in resp.json["errors"].values())
    assert db.list_audit(entity="procedure", key=body.get("code", "-")) == []


@pytest.mark.parametrize(
    "payload, status",
    [
        (b'{"code": "1.001193.H26", "name": ', 400),
        (b'{"name": "\\ud800"}', 400),
        (b"[1, 2]", 422),
        (b"null", 422),
    ],
)
def test_unparseable_or_non_object_json(api, bearer, payload, status):
    resp = api.post(
        "/api/v1/procedures", data=payload, content_type="application/json", headers=bearer("admin")
    )
    assert resp.status_code == status and resp.mimetype == PROBLEM


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_non_json_body_is_415(api, bearer, content_type):
    resp = api.post(
        "/api/v1/procedures",
        data="code=1.001193.H26",
        content_type=content_type,
        headers=bearer("admin"),
    )
    assert resp.status_code == 415 and resp.mimetype == PROBLEM


# -- update --------------------------------------------------------------------------
@pytest.fixture
def justice_code(fixture_records) -> str:
    return single_agency(fixture_records, JUSTICE)["code"]


@pytest.mark.parametrize("if_match", ['"1"', "1", 'W/"1"', '"9", "1"', "*"])
def test_patch_with_if_match_forms(api, bearer, justice_code, if_match):
    resp = api.patch(
        f"/api/v1/procedures/{justice_code}",
        json={"dvcqg_integrated": True, "service_level": 4},
        headers=bearer("editor", **{"If-Match": if_match}),
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["version"] == 2 and _etag(resp) == '"2"'
    assert resp.json["dvcqg_integrated"] is True and resp.json["online_mode"] == "toan_trinh"


def test_patch_without_if_match_is_428_and_changes_nothing(api, bearer, db, justice_code):
    resp = api.patch(
        f"/api/v1/procedures/{justice_code}", json={"sso": True}, headers=bearer("editor")
    )
    assert resp.status_code == 428 and resp.mimetype == PROBLEM
    assert db.get_procedure(justice_code)["version"] == 1


@pytest.mark.parametrize("if_match", ['"2"', '"0"', '"abc"', '""', 'W/"x"'])
def test_patch_with_a_stale_or_bogus_etag_is_412(api, bearer, db, justice_code, if_match):
    before = db.get_procedure(justice_code)
    resp = api.patch(
        f"/api/v1/procedures/{justice_code}",
        json={"sso": not before["sso"]},
        headers=bearer("editor", **{"If-Match": if_match}),
    )
    assert resp.status_code == 412 and resp.mimetype == PROBLEM
    assert resp.json["current_version"] == 1 and _etag(resp) == '"1"'
    assert db.get_procedure(justice_code) == before


def test_second_update_with_the_old_etag_is_412_and_the_first_is_kept(
    api, bearer, db, justice_code
):
    url = f"/api/v1/procedures/{justice_code}"
    etag = _etag(api.get(url))
    first = api.patch(url, json={"name": "Tên mới"}, headers=bearer("editor", **{"If-Match": etag}))
    second = api.patch(
        url, json={"name": "Tên khác"}, headers=bearer("admin", **{"If-Match": etag})
    )
    assert (first.status_code, second.status_code) == (200, 412)
    assert db.get_procedure(justice_code)["name"] == "Tên mới"


def test_patch_of_unknown_code_is_404(api, bearer):
    resp = api.patch(
        "/api/v1/procedures/9.999999",
        json={"sso": True},
        headers=bearer("admin", **{"If-Match": '"1"'}),
    )
    assert resp.status_code == 404 and resp.mimetype == PROBLEM


def test_patch_cannot_change_the_code(api, bearer, justice_code):
    resp = api.patch(
        f"/api/v1/procedures/{justice_code}",
        json={"code": "1.000001"},
        headers=bearer("admin", **{"If-Match": '"1"'}),
    )
    assert resp.status_code == 422 and "code" in resp.json["errors"]


def test_put_replaces_every_field_absent_ones_default(api, bearer, db, justice_code):
    db.update_procedure(
        justice_code,
        {"sso": True, "service_level": 4, "has_fee": True, "payment_channel": "paygov"},
        expected_version=1,
        actor="t",
        source="t",
    )
    resp = api.put(
        f"/api/v1/procedures/{justice_code}",
        json={"name": "Thay toàn bộ", "agency": JUSTICE},
        headers=bearer("editor", **{"If-Match": '"2"'}),
    )
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (
        body["name"],
        body["sso"],
        body["service_level"],
        body["has_fee"],
        body["payment_channel"],
        body["version"],
    ) == ("Thay toàn bộ", False, 2, False, "none", 3)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"agency": JUSTICE}, "name"),  # name is required in a PUT
        ({"name": "x", "agency": JUSTICE, "code": "1.000001"}, "code"),  # the code cannot change
    ],
)
def test_put_errors(api, bearer, db, justice_code, body, field):
    resp = api.put(
        f"/api/v1/procedures/{justice_code}",
        json=body,
        headers=bearer("admin", **{"If-Match": "1"}),
    )
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert list(resp.json["errors"]) == [field]
    assert db.get_procedure(justice_code)["version"] == 1


def test_put_with_its_own_code_is_fine(api, bearer, justice_code):
    resp = api.put(
        f"/api/v1/procedures/{justice_code}",
        json={"code": justice_code, "name": "x", "agency": JUSTICE},
        headers=bearer("admin", **{"If-Match": "1"}),
    )
    assert resp.status_code == 200 and resp.json["code"] == justice_code


# -- retire -------------------------------------------------------------------------
@pytest.mark.parametrize("method, suffix", [("delete", ""), ("post", "/retire")])
def test_retire_is_a_soft_delete_with_history(api, bearer, db, justice_code, method, suffix):
    url = f"/api/v1/procedures/{justice_code}"
    total_before = api.get("/api/v1/coverage").json["totals"]["procedures"]
    resp = getattr(api, method)(url + suffix, headers=bearer("editor", **{"If-Match": '"1"'}))
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "retired" and resp.json["version"] == 2 and _etag(resp) == '"2"'
    assert api.get(url).json["status"] == "retired"  # still readable
    assert justice_code not in {
        p["code"]
        for p in api.get(
            "/api/v1/procedures", query_string={"agency": JUSTICE, "per_page": 500}
        ).json["items"]
    }
    assert justice_code in {
        p["code"]
        for p in api.get("/api/v1/procedures", query_string={"status": "retired"}).json["items"]
    }
    assert api.get("/api/v1/coverage").json["totals"]["procedures"] == total_before - 1
    actions = [e["action"] for e in db.history(justice_code)]
    assert actions[-1] == "retire"


@pytest.mark.parametrize("method, suffix", [("delete", ""), ("post", "/retire")])
def test_retire_needs_if_match(api, bearer, db, justice_code, method, suffix):
    resp = getattr(api, method)(
        f"/api/v1/procedures/{justice_code}{suffix}", headers=bearer("editor")
    )
    assert resp.status_code == 428
    stale = getattr(api, method)(
        f"/api/v1/procedures/{justice_code}{suffix}",
        headers=bearer("editor", **{"If-Match": '"5"'}),
    )
    assert stale.status_code == 412
    assert db.get_procedure(justice_code)["status"] == "active"
