"""/api/v1/audit: every write recorded with actor, time, source, before/after; filters and pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from registry.store import VN_TZ

from .conftest import JUSTICE, single_agency

PROBLEM = "application/problem+json"
ENTRY_KEYS = {"id", "at", "actor", "source", "action", "entity", "key", "before", "after", "reason"}


@pytest.fixture
def edited(api, bearer, fixture_records) -> str:
    """A justice procedure changed twice over the API (by the editor, then the admin)."""
    code = single_agency(fixture_records, JUSTICE)["code"]
    url = f"/api/v1/procedures/{code}"
    assert (
        api.patch(
            url, json={"sso": True}, headers=bearer("editor", **{"If-Match": "1"})
        ).status_code
        == 200
    )
    assert (
        api.patch(
            url, json={"service_level": 4}, headers=bearer("admin", **{"If-Match": "2"})
        ).status_code
        == 200
    )
    return code


def test_history_of_one_procedure_newest_first(api, edited):
    body = api.get("/api/v1/audit", query_string={"procedure": edited}).json
    assert body["total"] == 3  # fixture load + two edits
    items = body["items"]
    assert all(set(e) == ENTRY_KEYS for e in items)
    assert [(e["actor"], e["source"], e["action"]) for e in items] == [
        ("root", "api", "update"),
        ("tuphap", "api", "update"),
        ("system", "fixture", "create"),
    ]
    assert items[1]["before"]["sso"] is False and items[1]["after"]["sso"] is True
    assert items[0]["before"]["version"] == 2 and items[0]["after"]["version"] == 3


def test_filter_by_actor(api, edited):
    body = api.get("/api/v1/audit", query_string={"actor": "tuphap"}).json
    assert body["total"] == 1 and body["items"][0]["key"] == edited


@pytest.mark.parametrize(
    "since, until, expected",
    [
        ("{today}", None, 2),
        (None, "{yesterday}", 1),
        ("{hour_ago}", "{in_an_hour}", 2),
        ("{tomorrow}", None, 0),
    ],
)
def test_filter_by_time(api, db, edited, since, until, expected):
    # Put the fixture load in the past so the two edits are the only entries of today.
    db.db.execute(
        "UPDATE audit SET at = '2025-01-01T10:00:00.000000+07:00' WHERE actor != 'tuphap' "
        "AND actor != 'root'"
    )
    now = datetime.now(VN_TZ)
    values = {
        "today": now.date().isoformat(),
        "yesterday": (now - timedelta(days=1)).date().isoformat(),
        "tomorrow": (now + timedelta(days=1)).date().isoformat(),
        "hour_ago": (now - timedelta(hours=1)).isoformat(),
        "in_an_hour": (now + timedelta(hours=1)).astimezone(VN_TZ).isoformat(),
    }
    query = {"procedure": edited}
    if since:
        query["since"] = since.format(**values)
    if until:
        query["until"] = until.format(**values)
    assert api.get("/api/v1/audit", query_string=query).json["total"] == expected


def test_time_filter_understands_other_offsets(api, db, edited):
    db.db.execute(
        "UPDATE audit SET at = '2025-01-01T10:00:00.000000+07:00' WHERE action = 'create'"
    )
    utc_hour_ago = (datetime.now(VN_TZ) - timedelta(hours=1)).astimezone(timezone.utc).isoformat()
    assert (
        api.get("/api/v1/audit", query_string={"procedure": edited, "since": utc_hour_ago}).json[
            "total"
        ]
        == 2
    )


def test_pages_and_links(api, edited):
    first = api.get("/api/v1/audit?procedure=" + edited + "&per_page=2").json
    assert len(first["items"]) == 2 and first["links"]["next"] and first["links"]["prev"] is None
    second = api.get(first["links"]["next"]).json
    assert len(second["items"]) == 1 and second["links"]["next"] is None
    assert {e["id"] for e in first["items"]}.isdisjoint({e["id"] for e in second["items"]})


@pytest.mark.parametrize(
    "query, field",
    [
        ({"since": "last week"}, "since"),
        ({"until": "2021-02-30"}, "until"),
        ({"page": "-1"}, "page"),
        ({"since": "0001-01-01"}, "since"),
    ],
)
def test_bad_filters_are_422(api, query, field):
    resp = api.get("/api/v1/audit", query_string=query)
    assert (
        resp.status_code == 422
        and resp.mimetype == PROBLEM
        and list(resp.json["errors"]) == [field]
    )


def test_imports_and_targets_are_audited_too(api, bearer, db):
    api.post(
        "/api/v1/targets",
        json={"indicator": "online_rate", "percent": 99, "due": "2031-12-31", "source": "x"},
        headers=bearer("admin"),
    )
    body = api.get("/api/v1/audit", query_string={"entity": "target", "actor": "root"}).json
    assert body["total"] == 1 and body["items"][0]["after"]["percent"] == 99.0
