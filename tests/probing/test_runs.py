"""Runs: a killed run resumes without probing again what it finished; one sweep at a time
(API 409, CLI refusal); the API's run endpoints and their auth; the scheduler."""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from registry import probing
from registry.store import open_store

from .conftest import PROCEDURES_FILE, TTHC, add_token, cli_env, make_app


def _codes(db: Path, n: int, start: int = 0) -> list[str]:
    with open_store(db) as store:
        return [p["code"] for p in store.all_procedures()][start:start + n]


def _codes_in(entry: dict[str, Any]) -> set[str]:
    """Procedure codes a journal entry (a request the portal received) is about."""
    body = entry.get("json") or {}
    found = {body.get("q"), body.get("maTTHC")}
    parts = entry["path"].strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "dich-vu-cong-truc-tuyen":
        found.add(parts[2])
    return {c for c in found if c}


def _wait(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_a_killed_run_resumes_without_probing_again_what_it_finished(portal, db):
    codes = _codes(db, 120)
    portal.faults({"name": "slow", "kind": "latency", "ms": 30})
    env = cli_env(db, portal.url, PROBE_CONCURRENCY=2, PROBE_LEASE=1, PROBE_BACKOFF=0.01)
    proc = subprocess.Popen([*TTHC, "probe", "--kind", "linkage", "--no-progress", *codes], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def halfway() -> bool:
            with open_store(db) as store:
                runs = store.list_runs(limit=1)
                return bool(runs) and len(store.finished_items(runs[0]["id"])) >= 20
        assert _wait(halfway, 60), "the sweep did not get going"
        proc.kill()  # no chance to clean up: the run stays "running" until its lease lapses
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open_store(db) as store:
        run = store.list_runs(limit=1)[0]
        finished = store.finished_items(run["id"])
    assert run["status"] == "running" and 20 <= len(finished) < len(codes)
    portal.admin("DELETE", "/faults")
    seen = portal.journal()[-1]["seq"]
    app = make_app(db, portal.url, PROBE_LEASE=1.0)
    time.sleep(1.2)  # the killed run's lease lapses
    out = app.test_cli_runner().invoke(args=["probe", "--resume", "--no-progress"])
    assert out.exit_code == 0, out.output
    with open_store(db) as store:
        resumed = store.get_run(run["id"])
        attempts = store.run_attempts(run["id"])
    assert resumed["status"] == "completed" and resumed["id"] == run["id"]
    assert sorted(a["code"] for a in attempts) == sorted(codes)  # each once, none lost
    probed_again = set().union(*(_codes_in(e) for e in portal.journal(since=seen)))
    unfinished = set(codes) - {c for c, _ in finished}
    # Nothing finished is asked again; of the rest, the catalogue walk and the bulk LayDVC
    # answer most, and the integrated ones are asked for their deep links.
    assert probed_again and probed_again <= unfinished


def test_resume_without_an_interrupted_run_is_refused(portal, db):
    out = make_app(db, portal.url).test_cli_runner().invoke(args=["probe", "--resume"])
    assert out.exit_code == 1 and "no interrupted sweep" in out.output


@pytest.mark.parametrize("args", [[], ["--all", "1.000028"], ["--resume", "--all"]])
def test_probe_needs_one_selection(portal, db, args):
    out = make_app(db, portal.url).test_cli_runner().invoke(args=["probe", *args])
    assert out.exit_code == 2


def test_probe_names_unknown_codes_and_probes_nothing(portal, db):
    out = make_app(db, portal.url).test_cli_runner().invoke(args=["probe", "1.000028", "9.999999"])
    assert out.exit_code == 1 and "9.999999" in out.output
    with open_store(db) as store:
        assert store.list_runs() == []
    assert portal.journal() == []


def test_two_sweeps_at_once_the_second_is_refused(portal, db):
    portal.faults({"name": "slow", "kind": "latency", "ms": 200})  # the first sweep takes seconds
    app = make_app(db, portal.url, PROBE_CONCURRENCY=2)
    token = add_token(db, "editor")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    codes = _codes(db, 12)
    first = client.post("/api/v1/probe-runs", json={"kind": "linkage", "codes": codes}, headers=auth)
    assert first.status_code == 202, first.get_json()
    run = first.get_json()
    assert first.headers["Location"].endswith(f"/api/v1/probe-runs/{run['id']}")
    assert run["status"] == "running" and run["total"] == len(codes) and run["actor"] == "editor-user"
    second = client.post("/api/v1/probe-runs", json={"kind": "all"}, headers=auth)
    assert second.status_code == 409 and second.mimetype == "application/problem+json"
    cli = app.test_cli_runner().invoke(args=["probe", "--all", "--no-progress"])
    assert cli.exit_code == 1 and "already running" in cli.output
    assert _wait(lambda: client.get(first.headers["Location"]).get_json()["status"] != "running", 60)
    done = client.get(first.headers["Location"]).get_json()
    assert done["status"] == "completed" and done["done"] == len(codes)
    with open_store(db) as store:
        assert [r["id"] for r in store.list_runs()] == [run["id"]]  # nothing else ever started
    third = client.post("/api/v1/probe-runs", json={"codes": codes[:1]}, headers=auth)
    assert third.status_code == 202
    assert probing.wait_background(third.get_json()["id"], 60)


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer tthc_nope"}, 401),
                                             ("viewer", 403)])
def test_starting_a_run_needs_an_editor_or_admin_token(portal, db, headers, status):
    app = make_app(db, portal.url)
    if headers == "viewer":
        headers = {"Authorization": f"Bearer {add_token(db, 'viewer')}"}
    resp = app.test_client().post("/api/v1/probe-runs", json={}, headers=headers)
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    with open_store(db) as store:
        assert store.list_runs() == []


@pytest.mark.parametrize("body, status, field", [
    ({"kind": "everything"}, 422, "kind"),
    ({"codes": ["1.000028", "9.999999"]}, 422, "codes"),
    ({"codes": ["not a code"]}, 422, "codes.0"),
    ({"resume": True, "kind": "linkage"}, 422, "resume"),
    ({"resume": True}, 409, None),
])
def test_bad_run_requests_are_problems(portal, db, body, status, field):
    app = make_app(db, portal.url)
    auth = {"Authorization": f"Bearer {add_token(db)}"}
    resp = app.test_client().post("/api/v1/probe-runs", json=body, headers=auth)
    assert resp.status_code == status, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    if field:
        assert field in resp.get_json()["errors"]


def test_without_a_portal_url_nothing_starts(db):
    app = make_app(db, "")
    auth = {"Authorization": f"Bearer {add_token(db)}"}
    resp = app.test_client().post("/api/v1/probe-runs", json={}, headers=auth)
    assert resp.status_code == 503 and "TTHC_PORTAL_URL" in resp.get_json()["detail"]
    out = app.test_cli_runner().invoke(args=["probe", "--all"])
    assert out.exit_code == 1 and "TTHC_PORTAL_URL" in out.output


def _small_db(path: Path, n: int) -> Path:
    """A database holding the first `n` procedures of the fixture only."""
    from registry.importer import parse
    lines = PROCEDURES_FILE.read_bytes().splitlines(keepends=True)[:n]
    parsed = parse(b"".join(lines), "few.jsonl")
    with open_store(path) as store:
        store.apply_import(parsed.rows, actor="test", source="test")
    return path


def test_scheduler_sweeps_periodically_and_stops(portal, tmp_path):
    db = _small_db(tmp_path / "small.db", 8)
    app = make_app(db, portal.url)
    stop = threading.Event()
    # 0.005 minute: a tick every 0.3 s.
    thread = probing.start_scheduler(app, 0.005, stop=stop)
    assert thread is not None
    try:
        def two_finished() -> bool:
            with open_store(db) as store:
                return sum(r["status"] == "completed" for r in store.list_runs()) >= 2
        assert _wait(two_finished, 60, step=0.1)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    with open_store(db) as store:
        runs = store.list_runs()
    assert {r["actor"] for r in runs} == {"scheduler"}
    assert all(r["status"] in ("completed", "interrupted") for r in runs)
    assert probing.start_scheduler(app, 0, stop=threading.Event()) is None
