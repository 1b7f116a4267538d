"""Dossiers against a real mock_portal process: the dossier sweep finds exactly the world's
deliberate sync gaps; the relay keeps every dossier through a DVCQG outage and delivers them
after, in order, exactly once."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from registry import create_app, dossiers, probing
from registry.seeding import load_fixture
from registry.store import open_store
from tests.probing.conftest import FAST, PortalProcess

from .conftest import bearer, month_of_dossiers, resolve

REPO = Path(__file__).resolve().parents[2]
WORLD_DOSSIERS = REPO / "fixtures" / "worlds" / "hanoi-2021-dossiers.json.gz"


@pytest.fixture(scope="module")
def portal_proc() -> Iterator[PortalProcess]:
    proc = PortalProcess()
    yield proc
    proc.stop()


@pytest.fixture
def portal(portal_proc: PortalProcess) -> PortalProcess:
    portal_proc.admin("POST", "/reset", json={"faults": True, "seed": 0})
    return portal_proc


@pytest.fixture(scope="module")
def gaps() -> dict[str, list[str]]:
    return json.loads(gzip.decompress(WORLD_DOSSIERS.read_bytes()))["expected_gaps"]


@pytest.fixture(scope="module")
def hanoi_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hanoi-dossiers") / "hanoi.db"
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
    return path


def test_the_dossier_sweep_finds_exactly_the_worlds_gaps(portal, gaps, hanoi_template, tmp_path):
    path = tmp_path / "r.db"
    path.write_bytes(hanoi_template.read_bytes())
    # A patient timeout: the machine may be busy, and this test is about answers, not speed.
    app = create_app({"DATABASE": str(path), "TESTING": True, "PORTAL_URL": portal.url,
                      **FAST, "PROBE_TIMEOUT": 30.0})
    run = probing.sweep_now(app, kind="dossier_sync", actor="test")
    assert run["status"] == "completed", run
    counts = dict(run["counts"])
    # A lookup that got no answer (`unknown`) stays queued: the next sweep tries it again.
    for _ in range(3):
        if not counts.get("dossier_sync.unknown"):
            break
        again = probing.sweep_now(app, kind="dossier_sync", actor="test")
        counts["dossier_sync.unknown"] = again["counts"].get("dossier_sync.unknown", 0)
        for key, n in again["counts"].items():
            if key != "dossier_sync.unknown":
                counts[key] = counts.get(key, 0) + n
    with open_store(path) as store:
        total = store.db.execute("SELECT count(*) FROM dossiers").fetchone()[0]
        assert {k: v for k, v in counts.items() if v} == {
            "dossier_sync.synced": total - len(gaps["missing"]) - len(gaps["status_behind"]),
            "dossier_sync.missing": len(gaps["missing"]),
            "dossier_sync.status_behind": len(gaps["status_behind"])}
        found = store.unsynced_dossiers(limit=1000)
        assert sorted(r["mahoso"] for r in found if r["sync_state"] == "missing") == gaps["missing"]
        assert sorted(r["mahoso"] for r in found if r["sync_state"] == "status_behind") == gaps["status_behind"]
        assert store.dossier_queue_size() == 0
        with app.app_context():
            from registry.context import settings
            cfg = settings()
        declared = dossiers.dossier_report(store, cfg, period=dossiers.parse_period("2021"))
        verified = dossiers.dossier_report(store, cfg, period=dossiers.parse_period("2021"), basis="verified")
    sync = verified["dossiers"]["dvcqg_sync"]
    assert sync["received"] == declared["dossiers"]["received"]["total"] == total
    assert sync["received"] - sync["confirmed"] == sync["missing"] + sync["status_behind"] == 75
    # The verified basis counts only confirmed dossiers: never more than declared.
    for d, v in zip(declared["indicators"][-4:], verified["indicators"][-4:]):
        assert v["denominator"] <= d["denominator"] and v["claimed_unconfirmed"] >= 0
    # Checked once after the last change: a second sweep has nothing to do.
    again = probing.sweep_now(app, kind="dossier_sync", actor="test")
    assert again["total"] == 0


def relay_app(tmp_path: Path, template: Path, portal: PortalProcess, auto: bool = False) -> Any:
    path = tmp_path / "relay.db"
    path.write_bytes(template.read_bytes())
    return create_app({"DATABASE": str(path), "TESTING": True, "PORTAL_URL": portal.url, "DOSSIER_RELAY": True,
                       "DOSSIER_RELAY_BATCH": 7, "DOSSIER_RELAY_AUTO": auto, **FAST})


def test_the_relay_keeps_every_dossier_through_an_outage_and_delivers_in_order_exactly_once(
        portal, template, tokens, tmp_path):
    app = relay_app(tmp_path, template[0], portal)
    client = app.test_client()
    month = month_of_dossiers(20)
    assert client.post("/api/v1/dossiers/sync", json={"isUpdating": "False", "data": month},
                       headers=bearer(tokens["system"])).status_code == 200
    portal.admin("POST", "/faults", json={"profile": "down"})
    updates = [resolve(d, 2) for d in month[:10]]
    assert client.post("/api/v1/dossiers/sync", json={"isUpdating": "True", "data": updates},
                       headers=bearer(tokens["system"])).status_code == 200
    with app.app_context():
        from registry.context import get_store, settings
        store, cfg = get_store(), settings()
        down = probing.relay_once(store, cfg)
        assert down["failed"] and down["delivered"] == 0
        status = client.get("/api/v1/dossiers/relay").get_json()
        assert status["queued"] == 30 and status["oldest_age_seconds"] >= 0 and status["last_error"]
        assert portal.admin("GET", "/dossiers/log")["total"] == 0  # nothing got through
        portal.admin("DELETE", "/faults")
        up = probing.relay_once(store, cfg)
        assert up == {**up, "failed": False, "delivered": 30, "queued": 0}
        assert probing.relay_once(store, cfg)["delivered"] == 0
    log = portal.admin("GET", "/dossiers/log")["log"]
    sent = [(d["MaHoSo"], "False") for d in month] + [(d["MaHoSo"], "True") for d in updates]
    assert [(e["MaHoSo"], e["isUpdating"]) for e in log] == sent  # in order, exactly once
    held = {d["MaHoSo"]: d for d in portal.admin("GET", "/dossiers")["dossiers"]}
    assert all(held[d["MaHoSo"]]["dossier"]["TrangThaiHoSo"] == "10" for d in updates)


def test_a_lost_acknowledgement_is_not_delivered_twice(portal, template, tokens, tmp_path):
    """DVCQG kept a creation whose answer we never saw: its "04" on the retry acknowledges it."""
    app = relay_app(tmp_path, template[0], portal)
    month = month_of_dossiers(3)
    app.test_client().post("/api/v1/dossiers/sync", json={"isUpdating": "False", "data": month},
                           headers=bearer(tokens["system"]))
    with app.app_context():
        from registry.context import get_store, settings
        store, cfg = get_store(), settings()
        first = store.outbox_pending(10)
        # Deliver the first one behind the relay's back, as if the answer had been lost.
        import httpx
        auth = httpx.post(f"{portal.url}/adapter/auth", json={"username": "hanoi", "password": "hanoi-secret"}).json()
        httpx.post(f"{portal.url}/adapter/integration", json={
            "session": auth["session"], "madonvi": "000.00.00.H26", "service": "DongBoHoSoMC",
            "isUpdating": "False", "data": [first[0]["body"]]})
        outcome = probing.relay_once(store, cfg)
        assert outcome["delivered"] == 3 and not outcome["failed"]
        codes = {e["id"]: e["answer_code"] for e in store.outbox_entries()}
    assert sorted(codes.values()) == ["00", "00", "04"]
    log = portal.admin("GET", "/dossiers/log")["log"]
    assert sorted(e["MaHoSo"] for e in log) == sorted(d["MaHoSo"] for d in month)


def test_the_relay_delivers_on_its_own_after_each_sync(portal, template, tokens, tmp_path):
    app = relay_app(tmp_path, template[0], portal, auto=True)
    month = month_of_dossiers(5)
    r = app.test_client().post("/api/v1/dossiers/sync", json={"isUpdating": "False", "data": month},
                               headers=bearer(tokens["system"]))
    assert r.status_code == 200
    assert probing.relay_join(timeout=120)  # the thread ends once the outbox is empty
    assert [e["MaHoSo"] for e in portal.admin("GET", "/dossiers/log")["log"]] == [d["MaHoSo"] for d in month]
    status = app.test_client().get("/api/v1/dossiers/relay").get_json()
    assert status["queued"] == 0 and status["delivered"] == 5
