"""The API on a real HTTP server (127.0.0.1): concurrent updates, a round trip with requests."""

from __future__ import annotations

import threading

import pytest
import requests

from .conftest import JUSTICE, single_agency

TIMEOUT = 30


def test_two_concurrent_updates_one_wins_one_412_nothing_lost(
    live_server, bearer, db, fixture_records
):
    code = single_agency(fixture_records, JUSTICE)["code"]
    url = f"{live_server}/api/v1/procedures/{code}"
    etag = requests.get(url, timeout=TIMEOUT).headers["ETag"]
    changes = {"editor": {"name": "Tên của biên tập viên"}, "admin": {"name": "Tên của quản trị"}}
    barrier = threading.Barrier(len(changes))
    results: dict[str, requests.Response] = {}

    def update(role: str) -> None:
        barrier.wait(timeout=TIMEOUT)  # both requests leave together with the same If-Match
        results[role] = requests.patch(
            url, json=changes[role], timeout=TIMEOUT, headers=bearer(role, **{"If-Match": etag})
        )

    threads = [threading.Thread(target=update, args=(role,)) for role in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 412]
    winner = next(role for role, r in results.items() if r.status_code == 200)
    loser = next(role for role, r in results.items() if r.status_code == 412)
    assert results[loser].headers["Content-Type"] == "application/problem+json"
    assert results[loser].json()["current_version"] == 2
    stored = db.get_procedure(code)
    assert stored["name"] == changes[winner]["name"] and stored["version"] == 2
    # Exactly one update is in the history, and it is the winner's.
    updates = [e for e in db.history(code) if e["action"] == "update"]
    assert [(e["actor"], e["after"]["name"]) for e in updates] == [
        ({"editor": "tuphap", "admin": "root"}[winner], changes[winner]["name"])
    ]
    # The loser re-reads and re-applies: nothing is lost.
    fresh = requests.get(url, timeout=TIMEOUT)
    retry = requests.patch(
        url,
        json=changes[loser],
        timeout=TIMEOUT,
        headers=bearer(loser, **{"If-Match": fresh.headers["ETag"]}),
    )
    assert retry.status_code == 200 and retry.json()["version"] == 3


@pytest.mark.parametrize("rounds", [8])
def test_many_concurrent_writers_on_distinct_procedures_all_succeed(
    live_server, bearer, db, fixture_records, rounds
):
    flipped = {r["code"]: not r["sso"] for r in fixture_records if r["agencies"] == [JUSTICE]}
    codes = sorted(flipped)[:rounds]
    results: list[int] = []
    lock = threading.Lock()

    def update(code: str) -> None:
        resp = requests.patch(
            f"{live_server}/api/v1/procedures/{code}",
            json={"sso": flipped[code]},
            timeout=TIMEOUT,
            headers=bearer("editor", **{"If-Match": '"1"'}),
        )
        with lock:
            results.append(resp.status_code)

    threads = [threading.Thread(target=update, args=(c,)) for c in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert results == [200] * len(codes)
    assert {c: (db.get_procedure(c)["sso"], db.get_procedure(c)["version"]) for c in codes} == {
        c: (flipped[c], 2) for c in codes
    }


def test_round_trip_over_http(live_server, bearer):
    base = f"{live_server}/api/v1"
    new = {
        "code": "1.001193.H26",
        "name": "Đăng ký khai sinh (thí điểm)",
        "agency": JUSTICE,
        "service_level": 4,
    }
    created = requests.post(
        f"{base}/procedures", json=new, headers=bearer("editor"), timeout=TIMEOUT
    )
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    location = created.headers["Location"]
    assert requests.get(live_server + location, timeout=TIMEOUT).json()["name"] == new["name"]
    unauth = requests.post(f"{base}/procedures", json=new, timeout=TIMEOUT)
    assert (
        unauth.status_code == 401 and unauth.headers["Content-Type"] == "application/problem+json"
    )
    upload = requests.post(
        f"{base}/imports",
        headers=bearer("editor"),
        timeout=TIMEOUT,
        files={"file": ("p.csv", "code,name,agency\n1.001194.H26,Kết hôn,Sở Tư pháp\n")},
        data={"dry_run": "true"},
    )
    assert upload.status_code == 200 and upload.json()["inserted"] == 1
    report = requests.get(f"{base}/coverage", headers={"Accept": "text/csv"}, timeout=TIMEOUT)
    assert report.headers["Content-Type"].startswith("text/csv")
    cached = requests.get(
        f"{base}/coverage",
        headers={"Accept": "text/csv", "If-None-Match": report.headers["ETag"]},
        timeout=TIMEOUT,
    )
    assert cached.status_code == 304
    assert requests.get(f"{live_server}/api/docs", timeout=TIMEOUT).status_code == 200
