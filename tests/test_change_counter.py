"""The change counter: bumped in the writing transaction by triggers, never by a failed write."""
from __future__ import annotations

import sqlite3

import pytest

from registry.store import current_state, open_store


def test_every_watched_table_bumps_it_and_a_rollback_does_not(store):
    before = store.change_counter()
    store.db.execute("INSERT INTO targets (indicator, percent, due, source) "
                     "VALUES ('online_rate', 50, '2030-01-01', 's')")
    store.db.execute("UPDATE targets SET percent = 60")
    store.db.execute("DELETE FROM targets")
    assert store.change_counter() == before + 3
    store.db.execute("INSERT INTO agencies (name, created_at) VALUES ('Sở Tư pháp', 'now')")
    assert store.change_counter() == before + 4
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO targets (indicator, percent, due, source) VALUES ('online_rate', 5, '2031-01-01', 's')")
    conn.execute("ROLLBACK")
    assert store.change_counter() == before + 4
    # Tables no report reads do not bump it.
    store.meta_set("k", "v")
    assert store.change_counter() == before + 4


def test_the_state_of_a_file_seen_from_another_connection(store, db_path, tmp_path):
    state = current_state(str(db_path))
    assert state == store.data_state()
    store.db.execute("INSERT INTO targets (indicator, percent, due, source) "
                     "VALUES ('level4_rate', 5, '2030-01-01', 's')")
    assert current_state(str(db_path)) == store.data_state() != state
    assert current_state(str(tmp_path / "absent.db")) is None
    bare = tmp_path / "bare.db"
    sqlite3.connect(bare).execute("CREATE TABLE x (y)").connection.close()
    assert current_state(str(bare)) is None  # not migrated: nothing may be cached


def test_a_restored_backup_is_a_new_instance(store, tmp_path):
    backup = tmp_path / "backup.db"
    store.backup_to(backup)
    instance = store.data_state().split("-")[0]
    store.db.execute("DELETE FROM targets")
    store.restore_from(backup)
    assert store.data_state().split("-")[0] != instance


@pytest.mark.parametrize("table", ["procedures", "targets", "verdicts", "probe_attempts", "agencies"])
def test_triggers_exist_after_migration(tmp_path, table):
    with open_store(tmp_path / "r.db") as s:
        names = {r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {f"change_counter_{table}_{e}" for e in ("insert", "update", "delete")} <= names
