""""Liên thông": units side by side, national sums, flagged units and trends, in Vietnamese."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest

from registry.dashboard.federation import reason_vi
from registry.reporting import coverage_report
from registry import settings
from registry.store import VN_TZ

from .test_accessibility import check


def _report(dash_store, code: str, name: str, scale: int) -> dict:
    report = coverage_report(dash_store, settings.load({}), basis="declared")
    report = {**report, "unit": {"code": code, "name": name}}
    report["indicators"] = [{**i, "numerator": i["numerator"] // scale if i["available"] else None}
                            for i in report["indicators"]]
    return report


def _federate(dash_store) -> None:
    now = datetime.now(VN_TZ)
    units = [("000.00.00.H01", "UBND tỉnh Một", 1, now), ("000.00.00.H02", "UBND tỉnh Hai", 2, now),
             ("000.00.00.H03", "UBND tỉnh Ba", 3, now - timedelta(days=9))]
    for code, name, scale, when in units:
        dash_store.add_federation_unit(code, f"http://127.0.0.1:9/{code}", name, actor="t", source="cli")
        for days_ago in (2, 0):
            at = when - timedelta(days=days_ago)
            report = _report(dash_store, code, name, scale + days_ago)
            dash_store.record_pull(code, "declared", outcome="changed", report=report, at=at.isoformat())
    dash_store.add_federation_unit("000.00.00.H04", "http://127.0.0.1:9/x", "UBND tỉnh Bốn", actor="t", source="cli")
    dash_store.record_pull("000.00.00.H04", "declared", outcome="failed", reason="no answer: timeout")


def test_the_page_shows_units_sums_flags_and_trends_in_vietnamese(dash_client, dash_store):
    empty = dash_client.get("/lien-thong").get_data(as_text=True)
    assert 'id="no-units"' in empty and "tthc federation add" in empty
    _federate(dash_store)
    resp = dash_client.get("/lien-thong")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    check(html, "/lien-thong")
    assert '<html lang="vi">' in html and "Liên thông" in html
    for row in ("unit-000.00.00.H01", "unit-000.00.00.H02", "unit-000.00.00.H03", "unit-000.00.00.H04"):
        assert f'id="{row}"' in html
    flagged = re.search(r'<ul id="flagged">(.*?)</ul>', html, re.S).group(1)
    assert "UBND tỉnh Ba" in flagged and "Số liệu quá cũ" in flagged
    assert "UBND tỉnh Bốn" in flagged and "Chưa có số liệu" in flagged
    assert "không trả lời: hết thời gian chờ" in flagged and "timeout" not in flagged
    assert "UBND tỉnh Một" not in flagged
    assert 'id="trend-online_rate"' in html and "<polyline" in html
    assert "hạng 1" in html
    national = re.search(r'<tr id="nat-online_rate">.*?<td class="num">.*?</td>\s*<td class="num">(.*?)</td>',
                         html, re.S)
    caption = re.search(r'id="trend-online_rate".*?<figcaption>[^:]*: (.*?) ngày', html, re.S)
    assert national.group(1) == caption.group(1)  # today's trend point is the national row
    # No English leaks into the page's own words (codes, URLs and the CLI hint aside).
    text = re.sub(r"<[^>]+>|<code>.*?</code>", " ", re.sub(r"<svg.*?</svg>", " ", html, flags=re.S))
    for word in ("stale", "missing", "failing", "declared", "verified", "Units", "None", "answer", "timeout"):
        assert not re.search(rf"\b{word}\b", text), word


def test_national_row_sums_counts_of_included_units_only(dash_client, dash_store):
    _federate(dash_store)
    rows = list(csv.DictReader(io.StringIO(
        dash_client.get("/lien-thong?format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    online = {r["code"]: r for r in rows if r["indicator"] == "online_rate"}
    assert set(online) == {"000.00.00.H01", "000.00.00.H02", "000.00.00.H03"}
    assert online["000.00.00.H03"]["status"] == "stale"
    api = dash_client.get("/api/v1/federation/coverage").get_json()
    national = next(i for i in api["indicators"] if i["id"] == "online_rate")
    parts = (int(online[code]["numerator"]) for code in ("000.00.00.H01", "000.00.00.H02"))
    assert national["numerator"] == sum(parts)
    assert national["units"] == 2 and api["stale"] == ["000.00.00.H03"] and api["missing"] == ["000.00.00.H04"]
    assert dash_client.get("/lien-thong?basis=claimed").status_code == 400


@pytest.mark.parametrize("reason, said", [
    ("no answer: connection_error (ConnectError: refused)", "không trả lời: không kết nối được"),
    ("the answer is not a JSON object", "trả về dữ liệu không phải JSON"),
    ("invalid report: unknown method 'tthc-coverage/9' (published: tthc-coverage/1)",
     "báo cáo theo phương pháp chưa hỗ trợ (tthc-coverage/9)"),
    ("invalid report: totals/online: None is not of type 'integer'", "báo cáo không đúng lược đồ đã công bố"),
    ("HTTP 404", "trả mã HTTP 404"),
])
def test_pull_failures_are_said_in_vietnamese(reason, said):
    assert reason_vi(reason) == said
