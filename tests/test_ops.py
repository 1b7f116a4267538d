"""Operations: health, readiness, metrics, backup and restore."""
from __future__ import annotations

import sqlite3

from registry.store.db import connect


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_ok_on_current_schema(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json["pending_migrations"] == []


def test_readyz_503_when_a_migration_is_pending(app, db_path):
    db = connect(db_path)
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_probes'")
    db.close()
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.json["pending_migrations"] == ["m003_probes"]


def test_metrics_count_requests_and_verdicts(client, store):
    store.record_attempts([{"run_id": None, "code": "1.000001", "dimension": "linkage",
                            "verdict": "integrated", "checked_at": "2026-01-01T00:00:00+07:00"}])
    client.get("/healthz")
    client.get("/healthz")
    text = client.get("/metrics").data.decode()
    assert 'tthc_http_requests_total{endpoint="/healthz",method="GET",status="200"} 2.0' in text
    assert 'tthc_verdicts{dimension="linkage",stale="false",verdict="integrated"} 1.0' in text
    assert "tthc_last_sweep_finished_timestamp_seconds 0.0" in text


def test_backup_and_restore(runner, store, tmp_path):
    store.create_procedure({"code": "1.000001", "name": "Một"}, actor="t", source="cli")
    target = tmp_path / "b.db"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    src = sqlite3.connect(target)
    assert src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert src.execute("SELECT name FROM procedures").fetchall() == [("Một",)]
    src.close()
    store.create_procedure({"code": "1.000002", "name": "Hai"}, actor="t", source="cli")
    result = runner.invoke(args=["restore", "--yes", str(target)])
    assert result.exit_code == 0, result.output
    assert [p["code"] for p in store.all_procedures()] == ["1.000001"]


def test_restore_refuses_a_file_that_is_not_a_registry(runner, store, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    store.create_procedure({"code": "1.000001", "name": "Một"}, actor="t", source="cli")
    result = runner.invoke(args=["restore", "--yes", str(other)])
    assert result.exit_code != 0 and "not a tthc database" in result.output
    assert store.count_procedures() == 1
