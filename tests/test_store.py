"""The SQLite store: migrations, WAL, optimistic concurrency, audit, retire, search, history."""
from __future__ import annotations

import sqlite3

import pytest

from registry.store import DuplicateCode, NotFound, VersionConflict, open_store
from registry.store.db import connect
from registry.store.migrations import migrations

BIRTH = {"code": "1.001193", "name": "Đăng ký khai sinh", "field": "Hộ tịch",
         "agency": "Ủy ban nhân dân cấp xã", "service_level": 4, "sso": True}


def test_older_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = connect(path)
    migrations.apply(db, stop_before="m002_settings")
    db.execute("INSERT INTO procedures (code, name, service_level, created_at, updated_at) "
               "VALUES ('1.000001', 'Cũ', 3, 't', 't')")
    db.close()
    store = open_store(path)
    assert store.pending_migrations() == []
    assert store.get_procedure("1.000001")["name"] == "Cũ"
    store.meta_set("k", "v")  # the table of the newer migration exists
    assert store.meta_get("k") == "v"
    store.close()


def test_wal_mode_and_busy_timeout(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_create_get_and_audit(store):
    rec = store.create_procedure(BIRTH, actor="alice", source="api")
    assert rec["version"] == 1 and rec["online_mode"] == "toan_trinh"
    assert store.get_procedure("1.001193")["agencies"] == ["Ủy ban nhân dân cấp xã"]
    [entry] = store.list_audit(key="1.001193")
    assert (entry["actor"], entry["source"], entry["action"]) == ("alice", "api", "create")
    assert entry["before"] is None and entry["after"]["name"] == "Đăng ký khai sinh"


def test_duplicate_code_is_refused_and_nothing_changes(store):
    store.create_procedure(BIRTH, actor="a", source="api")
    with pytest.raises(DuplicateCode):
        store.create_procedure({**BIRTH, "name": "Khác"}, actor="a", source="api")
    assert store.get_procedure("1.001193")["name"] == "Đăng ký khai sinh"
    assert store.count_audit(key="1.001193") == 1


def test_update_with_stale_version_conflicts(store):
    store.create_procedure(BIRTH, actor="a", source="api")
    updated = store.update_procedure("1.001193", {"has_fee": True}, expected_version=1, actor="b",
                                     source="api")
    assert updated["version"] == 2 and updated["has_fee"] is True
    with pytest.raises(VersionConflict) as exc:
        store.update_procedure("1.001193", {"sso": False}, expected_version=1, actor="c", source="api")
    assert exc.value.current_version == 2
    assert store.get_procedure("1.001193")["sso"] is True
    entry = store.list_audit(key="1.001193")[0]
    assert entry["before"]["has_fee"] is False and entry["after"]["has_fee"] is True


def test_update_without_change_keeps_version(store):
    store.create_procedure(BIRTH, actor="a", source="api")
    assert store.update_procedure("1.001193", {"sso": True}, expected_version=1, actor="a",
                                  source="api")["version"] == 1
    assert store.count_audit(key="1.001193") == 1


def test_retire_keeps_history_and_leaves_active_lists(store):
    store.create_procedure(BIRTH, actor="a", source="api")
    store.retire_procedure("1.001193", expected_version=1, actor="a", source="api")
    assert store.get_procedure("1.001193")["status"] == "retired"
    assert store.all_procedures() == []
    assert [e["action"] for e in store.history("1.001193")] == ["create", "retire"]


def test_a_writer_that_waits_too_long_gets_store_busy(db_path, store):
    from registry.store import StoreBusy
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    impatient = open_store(db_path, busy_timeout_ms=50)
    try:
        with pytest.raises(StoreBusy):
            impatient.create_procedure({"code": "1.000001", "name": "A"}, actor="t", source="t")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    impatient.create_procedure({"code": "1.000001", "name": "A"}, actor="t", source="t")
    assert impatient.count_procedures() == 1
    impatient.close()


def test_missing_procedure(store):
    with pytest.raises(NotFound):
        store.get_procedure("9.999999")


def test_failed_transaction_writes_nothing(store):
    rows = [{"code": "1.000001", "name": "A"}, {"code": "1.000002", "name": "B", "service_level": 9}]
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK constraint is the last line of defence
        store.apply_import(rows, actor="a", source="import")
    assert store.count_procedures() == 0 and store.count_audit() == 0


@pytest.mark.parametrize("query, expected", [
    ("dang ky khai sinh", "1.001193"),
    ("ĐĂNG KÝ", "1.001193"),
    ("dat dai", "1.000002"),
    ("ho tich", "1.001193"),
    ("1.000002", "1.000002"),
    ("uy ban", "1.001193"),
])
def test_search_ignores_diacritics(store, query, expected):
    store.create_procedure(BIRTH, actor="a", source="api")
    store.create_procedure({"code": "1.000002", "name": "Giao đất, cho thuê đất", "field": "Đất đai"},
                           actor="a", source="api")
    assert [r["code"] for r in store.search(query)][0] == expected


def test_list_filters_and_paging(store):
    for i in range(1, 8):
        store.create_procedure({"code": f"1.00000{i}", "name": f"Thủ tục {i}", "service_level": 3 + i % 2,
                                "agency": "Sở A" if i < 4 else "Sở B"}, actor="a", source="api")
    rows, total = store.list_procedures(filters={"agency": "Sở B"}, limit=2, offset=1)
    assert total == 4 and [r["code"] for r in rows] == ["1.000005", "1.000006"]
    rows, total = store.list_procedures(filters={"level": 4}, sort="-code")
    assert total == 4 and rows[0]["code"] == "1.000007"


def test_as_of_rebuilds_old_state(store):
    store.create_procedure(BIRTH, actor="a", source="api")
    first = store.list_audit()[0]["at"]
    store.update_procedure("1.001193", {"service_level": 2}, expected_version=1, actor="a", source="api")
    [old] = store.procedures_as_of(first)
    assert old["service_level"] == 4
    [new] = store.procedures_as_of("9999")
    assert new["service_level"] == 2
