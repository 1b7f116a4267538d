"""Transient faults never turn into wrong verdicts; a portal that is down ends the run early
with `unknown` attempts, and every earlier verdict survives (stale)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry import probing
from registry.store import open_store

from .conftest import PortalProcess, make_app

UNIT = "000.00.00.H26"
# About 10% of all calls fail transiently, each kind on its own seeded stream.
TRANSIENT = [
    {"name": "t-503", "kind": "http_error", "status": 503, "rate": 0.03},
    {"name": "t-502", "kind": "http_error", "status": 502, "rate": 0.01},
    {"name": "t-429", "kind": "rate_limit", "retry_after": 0, "rate": 0.02},
    {"name": "t-reset", "kind": "reset", "rate": 0.02},
    {"name": "t-timeout", "kind": "timeout", "delay": 1.5, "rate": 0.02},
]


def _truth(world: dict[str, Any], declared: dict[str, Any]) -> dict[str, str]:
    """What the world says each fixture procedure's linkage verdict is."""
    ours = world["integrations"][UNIT]
    excluded = set(world["catalog"]["exclude"])
    truth = {}
    for code in declared:
        if code in excluded:
            truth[code] = "not_listed"
        elif code not in ours:
            truth[code] = "not_integrated"
        elif code in world["broken_links"]:
            truth[code] = "link_broken"
        else:
            truth[code] = "integrated"
    return truth


def _latest(db: Path) -> dict[str, dict[str, Any]]:
    with open_store(db) as store:
        return store.latest_verdicts()


def test_transient_faults_never_make_an_integrated_procedure_broken_or_missing(portal, db, world, declared):
    truth = _truth(world, declared)
    integrated = sorted(c for c, v in truth.items() if v == "integrated")[:120]
    others = sorted(c for c, v in truth.items() if v != "integrated")[:40]
    portal.faults(*TRANSIENT)
    # Six retries: a call fails for good only if seven draws in a row fault (about 1e-7).
    app = make_app(db, portal.url, PROBE_RETRIES=6, PROBE_TIMEOUT=1.0, PROBE_CONCURRENCY=24)
    run = probing.sweep_now(app, kind="linkage", codes=integrated + others, actor="test")
    assert run["status"] == "completed"
    fired = {r["name"]: r["fired"] for r in portal.admin("GET", "/faults")["rules"]}
    assert all(n > 0 for n in fired.values()), fired  # every kind of fault really happened
    verdicts = _latest(db)
    for code in integrated:
        assert verdicts[code]["linkage"]["verdict"] == "integrated", code
    for code in others:
        got = verdicts[code]["linkage"]["verdict"]
        # A broken link is broken only if every attempt says so; a fault among them leaves it
        # unknown. Unknown is no verdict; a different verdict would be a wrong one.
        assert got in (truth[code], "unknown"), (code, got, truth[code])
        if truth[code] != "link_broken":
            assert got == truth[code], code


def _sweep_then_go_down(portal: PortalProcess, db: Path, go_down) -> tuple[dict, dict, dict, list[str]]:
    codes = sorted(c for c in _all_codes(db))[:240]
    first = codes[::12]  # 20 procedures probed while the portal works
    app = make_app(db, portal.url, PROBE_CONCURRENCY=8)
    before_run = probing.sweep_now(app, kind="all", codes=first, actor="test")
    assert before_run["status"] == "completed"
    before = _latest(db)
    go_down()
    run = probing.sweep_now(app, kind="all", codes=codes, actor="test")
    return before, _latest(db), run, first


def _all_codes(db: Path) -> list[str]:
    with open_store(db) as store:
        return [p["code"] for p in store.all_procedures()]


def _check_down_run(db: Path, before: dict, after: dict, run: dict, first: list[str]) -> None:
    assert run["status"] == "portal_unavailable"
    assert 0 < run["done"] < run["total"], "the breaker stops the run early"
    with open_store(db) as store:
        attempts = store.run_attempts(run["id"])
    assert attempts and all(a["verdict"] == "unknown" for a in attempts)
    assert all(a["details"]["cause"] == "unavailable" for a in attempts)
    assert len(attempts) == run["done"]
    for code in first:
        for dimension, old in before[code].items():
            new = after[code][dimension]
            assert (new["verdict"], new["checked_at"]) == (old["verdict"], old["checked_at"]), code
            assert new["stale"] is True and old["stale"] is False


def test_portal_down_profile_ends_the_run_and_keeps_earlier_verdicts(portal, db):
    before, after, run, first = _sweep_then_go_down(
        portal, db, lambda: portal.admin("POST", "/faults", json={"profile": "down", "replace": True}))
    _check_down_run(db, before, after, run, first)
    assert "unavailable" in run["message"]


def test_portal_process_stopped_ends_the_run_and_keeps_earlier_verdicts(db):
    own = PortalProcess()
    try:
        before, after, run, first = _sweep_then_go_down(own, db, own.stop)
    finally:
        own.stop()
    _check_down_run(db, before, after, run, first)


@pytest.mark.parametrize("profile", ["maintenance"])
def test_html_answers_everywhere_count_as_unavailable(portal, db, profile):
    portal.admin("POST", "/faults", json={"profile": profile, "replace": True})
    app = make_app(db, portal.url, PROBE_CONCURRENCY=4)
    run = probing.sweep_now(app, kind="linkage", codes=_all_codes(db)[:60], actor="test")
    assert run["status"] == "portal_unavailable"
    assert set(run["counts"]) == {"linkage.unknown"}
    with open_store(db) as store:
        assert probing.discrepancies(store) == []  # an unknown contradicts nothing


def test_verdicts_left_stale_by_a_dead_portal_leave_the_verified_basis(portal, db):
    # Issue 12 item 7: before, the 20 verdicts of the first sweep stayed counted as verified
    # after the portal died (they are younger than the staleness window).
    from registry.reporting import coverage_report

    def verified(app) -> tuple[int, int, int]:
        with open_store(db) as store:
            report = coverage_report(store, app.config["TTHC"], basis="verified")
            declared = coverage_report(store, app.config["TTHC"], basis="declared")
        item = next(i for i in report["indicators"] if i["id"] == "dvcqg_integration_rate")
        assert declared["freshness"]["unverified"] == report["freshness"]["unverified"]
        return item["numerator"], report["freshness"]["unverified"], report["totals"]["online"]

    app = make_app(db, portal.url, PROBE_CONCURRENCY=8)
    codes = sorted(_all_codes(db))[:240][::12]
    assert probing.sweep_now(app, kind="linkage", codes=codes, actor="test")["status"] == "completed"
    integrated, unverified, online = verified(app)
    assert integrated > 0 and unverified < online
    portal.admin("POST", "/faults", json={"profile": "down", "replace": True})
    run = probing.sweep_now(app, kind="linkage", codes=codes, actor="test")
    assert run["status"] == "portal_unavailable"
    assert verified(app) == (0, online, online)  # stale is unverified, on both bases
