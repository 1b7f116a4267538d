"""Contract section 1 over real sockets: catalogue list (cursor, q, filters), detail, pages."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from tests.mock_portal.helpers import SMALL_WORLD

LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"
DETAIL = "/dvcqg/api/v1/configuring/formality/get-formality-by-citizen"
NATIONAL = Path(__file__).resolve().parents[2] / "fixtures" / "national-catalog.jsonl"


def walk(portal, limit, **filters):
    """Every item of the catalogue, following lastId; bounded."""
    items, last = [], ""
    for _ in range(10_000):
        body = portal.post(LIST, json={"limit": limit, "lastId": last, "q": "", "categoryId": "",
                                       "departmentCode": "", **filters}).json()
        assert body["code"] == "OK", body
        assert len(body["data"]["items"]) <= limit
        items += body["data"]["items"]
        last = body["data"]["lastId"]
        if not last:
            return items
    raise AssertionError("cursor never ended")


@pytest.mark.parametrize("limit", [200, 500])
def test_walk_default_world_returns_every_national_procedure_once(start_portal, limit):
    portal = start_portal(world=None)
    expected = [json.loads(line)["code"] for line in NATIONAL.open(encoding="utf-8")]
    items = walk(portal, limit)
    codes = [i["code"] for i in items]
    assert len(codes) == len(set(codes)) == len(expected) == 2642
    assert set(codes) == set(expected)
    assert len({i["id"] for i in items}) == len(items)


@pytest.mark.parametrize("limit", [1, 2, 3, 6, 7, 8, 200])
def test_walk_small_world_any_page_size(portal, limit):
    codes = [i["code"] for i in walk(portal, limit)]
    assert codes == sorted(p["code"] for p in SMALL_WORLD["procedures"])


def test_excluded_procedures_are_not_listed(start_portal):
    world = dict(SMALL_WORLD, catalog={"source": None, "exclude": ["1.000003"]})
    portal = start_portal(world=world)
    codes = [i["code"] for i in walk(portal, 2)]
    assert "1.000003" not in codes and len(codes) == len(SMALL_WORLD["procedures"]) - 1
    assert portal.get("/dvcqg/dich-vu-cong-truc-tuyen/1.000003").status_code == 404


@pytest.mark.parametrize("q, expected", [
    ("1.000001", ["1.000001"]),
    ("Đăng ký", ["1.000001", "1.000003"]),
    ("dang ky", ["1.000001", "1.000003"]),
    ("ĐĂNG KÝ KẾT HÔN", ["1.000003"]),
    ("giấy phép lái xe", ["2.000005", "2.000006", "2.000007"]),
    ("2.00000", ["2.000004", "2.000005", "2.000006", "2.000007"]),
    ("không có", []),
])
def test_q_matches_code_or_name(portal, q, expected):
    assert [i["code"] for i in walk(portal, 2, q=q)] == expected


def test_q_with_cursor_across_pages(portal):
    first = portal.post(LIST, json={"limit": 1, "q": "lái xe"}).json()["data"]
    assert [i["code"] for i in first["items"]] == ["2.000005"]
    nxt = portal.post(LIST, json={"limit": 5, "q": "lái xe", "lastId": first["lastId"]}).json()
    assert [i["code"] for i in nxt["data"]["items"]] == ["2.000006", "2.000007"]
    assert nxt["data"]["lastId"] == ""


def test_item_shape_and_filters(portal):
    item = walk(portal, 10, q="1.000002")[0]
    assert set(item) == {"id", "code", "name", "type", "categories", "departments"}
    assert item["name"] == "Cấp giấy phép xây dựng" and item["type"] == "STANDARD"
    category = item["categories"][0]["code"]
    department = item["departments"][0]["code"]
    assert [i["code"] for i in walk(portal, 10, categoryId=category)] == ["1.000002"]
    hotich = walk(portal, 10, q="1.000001")[0]["categories"][0]["code"]
    assert [i["code"] for i in walk(portal, 10, categoryId=hotich)] == ["1.000001", "1.000003"]
    assert [i["code"] for i in walk(portal, 10, departmentCode=department)] == ["1.000002"]


@pytest.mark.parametrize("body", [
    {"limit": 0}, {"limit": 100000}, {"limit": "abc"}, {"limit": True},
    {"limit": 5, "lastId": "no-such-id"}, {"q": 5}, [], "text",
])
def test_bad_list_requests(portal, body):
    resp = portal.post(LIST, json=body)
    assert resp.status_code == 200
    assert resp.json()["code"] == "BAD_REQUEST"


def test_detail(portal):
    item = walk(portal, 10, q="1.000001")[0]
    body = portal.post(DETAIL, json={"id": item["id"]}).json()
    assert body["code"] == "OK"
    d = body["data"]
    assert (d["id"], d["code"], d["name"]) == (item["id"], "1.000001", "Đăng ký khai sinh")
    assert (d["isWard"], d["isProvince"], d["isMinistry"], d["isOtherAgency"]) == \
        (True, False, False, False)
    assert d["isFullProcess"] is True  # integrated at MUCDO 4 for a unit
    assert [m["submissionMethod"] for m in d["executionMethods"]] == ["ONLINE", "DIRECT"]
    assert d["executionMethods"][0]["fees"] == [{"type": "LE_PHI", "value": "8000"}]
    assert d["categoriesDetails"][0]["name"] == "Hộ tịch"
    assert set(d) >= {"state", "categoriesDetails", "executionMethods"}


@pytest.mark.parametrize("body, code", [({"id": "missing"}, "NOT_FOUND"), ({}, "BAD_REQUEST"),
                                        ({"id": 3}, "BAD_REQUEST")])
def test_detail_refusals(portal, body, code):
    assert portal.post(DETAIL, json=body).json()["code"] == code


def test_detail_of_national_procedure_parses_methods(start_portal):
    portal = start_portal(world=None)
    item = walk(portal, 5, q="1.012545")[0]
    d = portal.post(DETAIL, json={"id": item["id"]}).json()["data"]
    # national-catalog.jsonl: "Dịch vụ bưu chính 3 Ngày làm việc ... Trực tiếp" for this one
    assert item["id"] == "019d2bf7-8ea6-713f-aeba-01150f99efc8"
    assert [m["submissionMethod"] for m in d["executionMethods"]] == ["POSTAL", "DIRECT"]
    assert d["executionMethods"][0]["processingTime"] == "3"
    assert d["isProvince"] is True and d["isFullProcess"] is False


@pytest.mark.parametrize("code, status, names_code", [
    ("1.000001", 200, True),      # integrated, link works
    ("1.000003", 200, True),      # listed, not integrated for us: the page still exists
    ("2.000004", 404, False),     # broken: 404
    ("2.000005", 410, False),     # broken: 410
    ("2.000006", 200, False),     # broken: a 200 page that does not name the code
    ("9.999999", 404, False),     # not listed
])
def test_deep_link(portal, code, status, names_code):
    resp = portal.get(f"/dvcqg/dich-vu-cong-truc-tuyen/{code}/nop-ho-so")
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("text/html")
    assert (code in resp.text) is names_code


@pytest.mark.parametrize("code, status", [("1.000001", 200), ("2.000004", 200), ("9.999999", 404)])
def test_procedure_page(portal, code, status):
    resp = portal.get(f"/dvcqg/dich-vu-cong-truc-tuyen/{code}")
    assert resp.status_code == status
    assert (code in resp.text) is (status == 200)


def _naive_fold(text: str) -> str:
    # Written apart from mock_portal.catalog.fold: strip combining marks, đ → d, casefold.
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").casefold()


@pytest.mark.parametrize("q, limit", [
    ("1.000771", 200),      # a code that other codes contain
    ("1.00", 7),            # many matches across many pages
    ("đăng ký", 50),        # a name, with diacritics
    ("CẤP GIẤY PHÉP", 13),
    ("zzz-no-match", 200),
])
def test_q_search_of_the_national_catalogue_matches_a_plain_scan(start_portal, q, limit):
    portal = start_portal(world=None)
    rows = [json.loads(line) for line in NATIONAL.open(encoding="utf-8")]
    folded = _naive_fold(q)
    expected = sorted(r["code"] for r in rows if folded in _naive_fold(f"{r['code']} {r['name']}"))
    assert [i["code"] for i in walk(portal, limit, q=q)] == expected
