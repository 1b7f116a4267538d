"""Public pages over the Flask test client: overview, breakdowns, procedure browser, downloads."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from .helpers import fold

PAGES = ["/", "/breakdowns", "/breakdowns/level", "/breakdowns/field", "/procedures",
         "/procedures/1.001193", "/probes", "/discrepancies", "/login"]


def download_json(client, url: str) -> list[dict]:
    resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    return json.loads(resp.get_data(as_text=True))


def download_csv(client, url: str) -> list[dict]:
    resp = client.get(url)
    assert resp.status_code == 200, url
    assert resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_in_vietnamese(dash_client, url):
    resp = dash_client.get(url)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert 'href="#main"' in html  # the skip link
    assert "cdn" not in html.lower() and "https://" not in html  # nothing loaded from elsewhere


@pytest.mark.parametrize("url", [u for u in PAGES if u != "/login"])
def test_every_table_page_offers_csv_and_json(dash_client, url):
    html = dash_client.get(url).get_data(as_text=True)
    assert "format=csv" in html and "format=json" in html


def test_overview_figures_match_the_fixture(dash_client, fixture_records):
    online = [r for r in fixture_records if r["service_level"] in (3, 4)]
    integrated = [r for r in online if r["dvcqg_integrated"]]
    html = dash_client.get("/").get_data(as_text=True)
    # Vietnamese thousands separator: 1685 -> 1.685
    assert f'id="total-procedures">{len(fixture_records):,}<'.replace(",", ".") in html
    assert f'id="total-online">{len(online):,}<'.replace(",", ".") in html
    rows = {r["indicator"]: r for r in download_csv(dash_client, "/?format=csv")}
    dvcqg = rows["dvcqg_integration_rate"]
    assert int(dvcqg["declared_numerator"]) == len(integrated)
    assert int(dvcqg["declared_denominator"]) == len(online)
    # No probe has run: nothing is verified yet, everything declared is unconfirmed.
    assert int(dvcqg["verified_numerator"]) == 0
    assert int(dvcqg["claimed_unconfirmed"]) == len(integrated)
    assert "<svg" in html and 'role="img"' in html


def test_overview_json_download_has_every_indicator(dash_client):
    rows = download_json(dash_client, "/?format=json")
    ids = {r["indicator"] for r in rows}
    assert {"online_rate", "level4_rate", "dvcqg_integration_rate", "sso_payment_rate"} <= ids


@pytest.mark.parametrize("query", ["dang ky khai sinh", "Đăng ký khai sinh", "ĐĂNG KÝ KHAI SINH",
                                   "dang  ky   khai sinh"])
def test_search_ignores_diacritics_and_case(dash_client, fixture_records, query):
    def words(r: dict) -> list[str]:
        return re.findall(r"[0-9a-z]+", fold(" ".join([r["code"], r["name"], r["field"], *r["agencies"]])))

    # Every query word must begin some word of the record (prefix search).
    expected = {r["code"] for r in fixture_records
                if all(any(t.startswith(w) for t in words(r)) for w in ["dang", "ky", "khai", "sinh"])}
    resp = dash_client.get("/procedures", query_string={"q": query})
    html = resp.get_data(as_text=True)
    assert "Thủ tục đăng ký khai sinh</a>" in html
    found = {r["code"] for r in download_json(dash_client, "/procedures?format=json&q=" + query)}
    assert found == expected


@pytest.mark.parametrize("args,check", [
    ({"agency": "Sở Tư pháp"}, lambda r: "Sở Tư pháp" in [r["agency"], *r["agencies"]]),
    ({"field": "Hộ tịch"}, lambda r: r["field"] == "Hộ tịch"),
    ({"tier": "xa"}, lambda r: "xa" in r["levels"]),
    ({"level": "4"}, lambda r: r["service_level"] == 4),
    ({"integrated": "1"}, lambda r: r["dvcqg_integrated"]),
    ({"integrated": "0", "sso": "1"}, lambda r: not r["dvcqg_integrated"] and r["sso"]),
    ({"payment_channel": "paygov"}, lambda r: r["payment_channel"] == "paygov"),
    ({"has_fee": "0"}, lambda r: not r["has_fee"]),
])
def test_filters_select_exactly_the_matching_procedures(dash_client, fixture_records, args, check):
    expected = {r["code"] for r in fixture_records if check(r)}
    found = download_json(dash_client, "/procedures?" + "&".join(f"{k}={v}" for k, v in args.items())
                          + "&format=json")
    assert {r["code"] for r in found} == expected
    assert expected  # the filter is exercised on a non-empty set


def test_pagination_walks_every_procedure_once(dash_client, fixture_records):
    seen: list[str] = []
    for page in range(1, 100):
        html = dash_client.get(f"/procedures?page={page}").get_data(as_text=True)
        codes = re.findall(r'<td><a href="/procedures/([^"]+)">\1</a>', html)
        if not codes:
            break
        seen.extend(codes)
        if 'rel="next"' not in html:
            break
    assert len(seen) == len(set(seen)) == len(fixture_records)
    assert seen == sorted(seen)


def test_detail_page_shows_every_field(dash_client, fixture_records):
    rec = next(r for r in fixture_records if r["code"] == "1.001193")
    html = dash_client.get("/procedures/1.001193").get_data(as_text=True)
    for label in ("Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Cơ quan thực hiện chính", "Cơ quan ban hành",
                  "Cấp thực hiện", "Mức độ DVC trực tuyến", "Hình thức trực tuyến", "Có phí, lệ phí",
                  "Tích hợp Cổng DVCQG", "Kênh thanh toán trực tuyến", "Đăng nhập một lần", "Trạng thái",
                  "Phiên bản", "Nhật ký thay đổi", "Lịch sử kiểm tra"):
        assert label in html, label
    assert rec["name"] in html and rec["issuing_agency"] in html
    audit = download_json(dash_client, "/procedures/1.001193?format=json&table=audit")
    assert [e["action"] for e in audit] == ["create"]


def test_unknown_procedure_is_a_vietnamese_404(dash_client):
    resp = dash_client.get("/procedures/9.999999")
    assert resp.status_code == 404
    assert "Không có thủ tục mã 9.999999" in resp.get_data(as_text=True)


def test_unknown_table_download_is_404(dash_client):
    assert dash_client.get("/procedures/1.001193?format=csv&table=nope").status_code == 404


@pytest.mark.parametrize("group,key_of", [
    ("agency", lambda r: [r["agency"]]),
    ("field", lambda r: [r["field"]]),
    ("level", lambda r: r["levels"] or [""]),
])
def test_breakdown_counts_and_default_sort(dash_client, fixture_records, group, key_of):
    expected: dict[str, int] = {}
    for r in fixture_records:
        for k in key_of(r):
            expected[k] = expected.get(k, 0) + 1
    rows = download_json(dash_client, f"/breakdowns/{group}?format=json")
    assert {r["key"]: r["procedures"] for r in rows} == expected
    counts = [r["procedures"] for r in rows]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("sort", ["key", "procedures", "dvcqg_integration_rate"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_breakdown_sorts_by_any_column(dash_client, sort, direction):
    rows = download_json(dash_client, f"/breakdowns/agency?format=json&sort={sort}&dir={direction}")
    values = [r[sort] for r in rows if r[sort] is not None]
    key = (lambda v: v.casefold()) if sort == "key" else (lambda v: v)
    assert values == sorted(values, key=key, reverse=direction == "desc")
    html = dash_client.get(f"/breakdowns/agency?sort={sort}&dir={direction}").get_data(as_text=True)
    assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in html


def test_breakdown_rows_link_to_their_procedures(dash_client, fixture_records):
    html = dash_client.get("/breakdowns/level").get_data(as_text=True)
    assert 'href="/procedures?tier=xa"' in html
    html = dash_client.get("/breakdowns/agency").get_data(as_text=True)
    assert "/procedures?agency=S%E1%BB%9F+T%C6%B0+ph%C3%A1p" in html


def test_verified_breakdown_is_zero_without_evidence(dash_client):
    rows = download_json(dash_client, "/breakdowns/agency?format=json&basis=verified")
    assert all(not r["dvcqg_integration_rate"] for r in rows)
