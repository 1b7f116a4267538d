"""/api/v1/coverage: JSON and CSV, grouping, basis, as_of from the audit history, ETag/304."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from registry.store import VN_TZ

from .conftest import JUSTICE, single_agency

PROBLEM = "application/problem+json"
CSV_HEADER = [
    "scope",
    "group",
    "key",
    "indicator",
    "numerator",
    "denominator",
    "percent",
    "target_percent",
    "due",
    "source",
    "met",
    "needed",
]


def _indicator(report: dict, name: str) -> dict:
    return next(i for i in report["indicators"] if i["id"] == name)


def test_json_report_shape_and_the_seeds_figures(api, fixture_records):
    resp = api.get("/api/v1/coverage")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    report = resp.json
    assert {
        "method",
        "as_of",
        "basis",
        "unit",
        "rounding",
        "totals",
        "indicators",
        "groups",
        "freshness",
    } <= set(report)
    assert (report["method"], report["basis"], report["rounding"]) == (
        "tthc-coverage/1",
        "declared",
        "truncate",
    )
    online = [r for r in fixture_records if r["service_level"] in (3, 4)]
    assert report["totals"]["procedures"] == len(fixture_records)
    assert report["totals"]["online"] == len(online)
    # The seeds' own figure (design.md): 444 integrated of 1,431 online -> 31.02%, target 30%.
    dvcqg = _indicator(report, "dvcqg_integration_rate")
    assert (dvcqg["numerator"], dvcqg["denominator"], dvcqg["percent"]) == (444, 1431, 31.02)
    assert dvcqg["target"]["percent"] == 30.0 and dvcqg["met"] is True and dvcqg["needed"] == 0


@pytest.mark.parametrize(
    "how",
    [
        {"query_string": {"format": "csv"}},
        {"headers": {"Accept": "text/csv"}},
        {"headers": {"Accept": "text/csv;q=0.9, application/json;q=0.5"}},
    ],
)
def test_csv_by_parameter_or_accept(api, how):
    resp = api.get("/api/v1/coverage", **how)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8"))))
    assert rows[0] == CSV_HEADER
    by_indicator = {r[3]: r for r in rows[1:] if r[0] == "total"}
    assert by_indicator["dvcqg_integration_rate"][4:7] == ["444", "1431", "31.02"]


def test_json_wins_when_preferred_or_forced(api):
    assert (
        api.get("/api/v1/coverage", headers={"Accept": "application/json, text/csv;q=0.1"}).mimetype
        == "application/json"
    )
    assert (
        api.get("/api/v1/coverage?format=json", headers={"Accept": "text/csv"}).mimetype
        == "application/json"
    )


@pytest.mark.parametrize("group_by", [["agency"], ["level"], ["field"], ["agency", "field"]])
def test_group_by(api, fixture_records, group_by):
    report = api.get("/api/v1/coverage", query_string=[("group_by", g) for g in group_by]).json
    assert sorted(report["groups"]) == sorted(group_by)
    if "agency" in group_by:
        justice = next(g for g in report["groups"]["agency"] if g["key"] == JUSTICE)
        assert justice["totals"]["procedures"] == sum(
            1 for r in fixture_records if r["agency"] == JUSTICE
        )


def test_csv_has_group_rows(api):
    rows = list(
        csv.DictReader(
            io.StringIO(api.get("/api/v1/coverage?format=csv&group_by=level").data.decode())
        )
    )
    assert {r["group"] for r in rows if r["scope"] == "group"} == {"level"}


def test_verified_basis_counts_only_confirmed_evidence(api, db, fixture_records):
    report = api.get("/api/v1/coverage?basis=verified").json
    assert report["basis"] == "verified"
    assert _indicator(report, "dvcqg_integration_rate")["numerator"] == 0  # nothing probed yet
    online = next(r for r in fixture_records if r["service_level"] == 4 and r["dvcqg_integrated"])
    db.record_attempts(
        [
            {
                "run_id": None,
                "code": online["code"],
                "dimension": "linkage",
                "verdict": "integrated",
                "checked_at": datetime.now(VN_TZ).isoformat(),
            }
        ]
    )
    report = api.get("/api/v1/coverage?basis=verified").json
    assert _indicator(report, "dvcqg_integration_rate")["numerator"] == 1


def test_as_of_before_a_change_returns_the_old_figures(api, bearer, db, fixture_records):
    # Move the fixture's history back: a day after the load and before the change.
    db.db.execute("UPDATE audit SET at = '2025-01-01T10:00:00.000000+07:00'")
    rec = next(
        r
        for r in fixture_records
        if r["agencies"] == [JUSTICE] and r["service_level"] in (3, 4) and not r["dvcqg_integrated"]
    )
    resp = api.patch(
        f"/api/v1/procedures/{rec['code']}",
        json={"dvcqg_integrated": True},
        headers=bearer("editor", **{"If-Match": '"1"'}),
    )
    assert resp.status_code == 200
    now = _indicator(api.get("/api/v1/coverage").json, "dvcqg_integration_rate")
    before = api.get("/api/v1/coverage", query_string={"as_of": "2025-06-30"}).json
    assert now["numerator"] == 445
    assert _indicator(before, "dvcqg_integration_rate")["numerator"] == 444
    assert before["as_of"].startswith("2025-06-30T23:59:59")
    # Before anything was loaded, the registry was empty.
    empty = api.get("/api/v1/coverage", query_string={"as_of": "2024-12-31"}).json
    assert empty["totals"]["procedures"] == 0


def test_as_of_sees_a_retirement_leave_the_denominator(api, bearer, db, fixture_records):
    db.db.execute("UPDATE audit SET at = '2025-01-01T10:00:00.000000+07:00'")
    code = single_agency(fixture_records, JUSTICE)["code"]
    assert (
        api.delete(
            f"/api/v1/procedures/{code}", headers=bearer("editor", **{"If-Match": '"1"'})
        ).status_code
        == 200
    )
    today = date.today().isoformat()
    assert (
        api.get(f"/api/v1/coverage?as_of={today}").json["totals"]["procedures"]
        == len(fixture_records) - 1
    )
    assert api.get("/api/v1/coverage?as_of=2025-01-02").json["totals"]["procedures"] == len(
        fixture_records
    )


def test_etag_and_304_until_the_figures_change(api, bearer, fixture_records):
    first = api.get("/api/v1/coverage")
    etag = first.headers["ETag"]
    again = api.get("/api/v1/coverage", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    # CSV has its own tag.
    csv_tag = api.get("/api/v1/coverage?format=csv").headers["ETag"]
    assert csv_tag != etag
    assert (
        api.get("/api/v1/coverage?format=csv", headers={"If-None-Match": csv_tag}).status_code
        == 304
    )
    code = single_agency(fixture_records, JUSTICE)["code"]
    api.patch(
        f"/api/v1/procedures/{code}",
        json={"service_level": 4, "dvcqg_integrated": True},
        headers=bearer("editor", **{"If-Match": '"1"'}),
    )
    changed = api.get("/api/v1/coverage", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize(
    "query, field",
    [
        ({"basis": "guessed"}, "basis"),
        ({"group_by": "colour"}, "group_by.0"),
        ({"as_of": "2021-13-01"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": "9999-12-31"}, "as_of"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_arguments_are_422(api, query, field):
    resp = api.get("/api/v1/coverage", query_string=query)
    assert (
        resp.status_code == 422
        and resp.mimetype == PROBLEM
        and list(resp.json["errors"]) == [field]
    )


def test_future_as_of_is_the_current_state(api):
    later = (date.today() + timedelta(days=30)).isoformat()
    assert (
        api.get(f"/api/v1/coverage?as_of={later}").json["totals"]
        == api.get("/api/v1/coverage").json["totals"]
    )
