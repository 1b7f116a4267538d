"""Probe evidence on the dashboard: runs and their progress, verdicts, verified coverage."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from registry.store import VN_TZ

from .helpers import ADMIN, EDITOR, csrf_of, login



def integrated_online(store, n: int) -> list[str]:
    rows, _ = store.list_procedures(filters={"integrated": True, "level": 4}, limit=n)
    return [r["code"] for r in rows]


def attempt(run_id, code, dimension, verdict, checked_at=None):
    return {"run_id": run_id, "code": code, "dimension": dimension, "verdict": verdict,
            "checked_at": checked_at or datetime.now(VN_TZ).isoformat(timespec="seconds"),
            "duration_ms": 12.5, "details": {"mucdo": 4},
            "evidence": [{"call": "LayDVC", "status": 200, "ms": 12}]}


@pytest.fixture
def running_run(dash_store):
    codes = integrated_online(dash_store, 3)
    run = dash_store.start_run(kind="linkage", selection="all", total=3, actor=ADMIN.username)
    dash_store.record_attempts([attempt(run["id"], codes[0], "linkage", "integrated"),
                                attempt(run["id"], codes[1], "linkage", "link_broken")])
    dash_store.heartbeat(run["id"], done=2, counts={"integrated": 1, "link_broken": 1})
    return run["id"], codes


def test_a_running_sweep_refreshes_itself_and_shows_progress(dash_client, running_run):
    run_id, _ = running_run
    html = dash_client.get(f"/probes/{run_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in html
    assert 'data-status="running"' in html
    assert re.search(r'<progress id="run-progress"[^>]*max="3" value="2"', html)


def test_a_finished_sweep_shows_its_result_and_stops_refreshing(dash_client, dash_store, running_run):
    run_id, codes = running_run
    dash_store.record_attempts([attempt(run_id, codes[2], "linkage", "integrated")])
    dash_store.finish_run(run_id, status="completed", done=3, counts={"integrated": 2, "link_broken": 1})
    html = dash_client.get(f"/probes/{run_id}").get_data(as_text=True)
    assert "http-equiv" not in html
    assert "Hoàn thành" in html and "Liên kết hỏng" in html
    for code in codes:
        assert f'href="/procedures/{code}#probe-history"' in html
    for key in ("link_broken", "linkage.link_broken"):  # plain and dimension-qualified count keys
        broken = dash_client.get(f"/probes/{run_id}?verdict={key}").get_data(as_text=True)
        assert codes[1] in broken and f"/procedures/{codes[0]}#" not in broken
    assert f"/procedures/{codes[1]}#" not in dash_client.get(
        f"/probes/{run_id}?verdict=payment.link_broken").get_data(as_text=True)
    listing = dash_client.get("/probes").get_data(as_text=True)
    assert f'href="/probes/{run_id}"' in listing


def test_run_tables_download(dash_client, running_run):
    run_id, codes = running_run
    attempts = json.loads(dash_client.get(f"/probes/{run_id}?format=json").get_data(as_text=True))
    assert sorted(a["code"] for a in attempts) == sorted(codes[:2])
    runs = json.loads(dash_client.get("/probes?format=json").get_data(as_text=True))
    assert [r["id"] for r in runs] == [run_id]


def test_detail_page_shows_verdict_and_evidence(dash_client, running_run):
    _, codes = running_run
    html = dash_client.get(f"/procedures/{codes[0]}").get_data(as_text=True)
    assert "Đã tích hợp" in html and "LayDVC" in html
    history = json.loads(dash_client.get(f"/procedures/{codes[0]}?format=json&table=probes").get_data(as_text=True))
    assert [(h["dimension"], h["verdict"]) for h in history] == [("linkage", "integrated")]


def test_verified_basis_counts_only_fresh_confirmations(dash_client, dash_store):
    codes = integrated_online(dash_store, 3)
    old = (datetime.now(VN_TZ) - timedelta(days=30)).isoformat(timespec="seconds")
    dash_store.record_attempts([attempt(None, codes[0], "linkage", "integrated"),
                                attempt(None, codes[1], "linkage", "not_integrated"),
                                attempt(None, codes[2], "linkage", "integrated", checked_at=old)])
    rows = json.loads(dash_client.get("/?format=json").get_data(as_text=True))
    dvcqg = next(r for r in rows if r["indicator"] == "dvcqg_integration_rate")
    assert dvcqg["verified_numerator"] == 1  # the stale and the refuted ones do not count
    html = dash_client.get("/").get_data(as_text=True)
    assert "30 ngày trước" in html  # the oldest evidence's age


def test_editors_may_not_start_sweeps(dash_client, dash_store):
    login(dash_client, EDITOR)
    resp = dash_client.post("/probes", data={"kind": "all", "csrf_token": csrf_of(dash_client, "/")})
    assert resp.status_code == 403
    assert dash_store.list_runs() == []


def test_discrepancies_are_counted_on_the_overview_and_listed(dash_client, dash_store):
    declared, _ = dash_store.list_procedures(filters={"integrated": True, "level": 4}, limit=2)
    undeclared, _ = dash_store.list_procedures(filters={"integrated": False, "level": 3}, limit=1)
    dash_store.record_attempts([attempt(None, declared[0]["code"], "linkage", "not_listed"),
                                attempt(None, declared[1]["code"], "linkage", "integrated"),
                                attempt(None, undeclared[0]["code"], "linkage", "integrated")])
    html = dash_client.get("/").get_data(as_text=True)
    assert 'id="discrepancy-count">2<' in html and 'href="/discrepancies"' in html
    page = dash_client.get("/discrepancies").get_data(as_text=True)
    assert "Kê khai tích hợp, nhưng Cổng DVCQG không có thủ tục" in page
    assert "Đã tích hợp trên Cổng, nhưng chưa kê khai" in page
    rows = json.loads(dash_client.get("/discrepancies?format=json").get_data(as_text=True))
    assert {(r["code"], r["kind"]) for r in rows} == {(declared[0]["code"], "not_listed"),
                                                      (undeclared[0]["code"], "undeclared_integrated")}
    only = dash_client.get("/discrepancies?kind=not_listed").get_data(as_text=True)
    assert declared[0]["code"] in only and undeclared[0]["code"] not in only
