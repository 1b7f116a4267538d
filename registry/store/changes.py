"""The change counter: one integer the database bumps in the same transaction as every write
that a report depends on (procedures, targets, verdicts, probe attempts, agencies, dossiers).

Triggers do the bumping, so no code path can write without it (imports, the API, the
dashboard, probes and tools that write with plain SQL alike). The counter is the key of the
report cache (`registry/cache.py`) and part of its ETag: equal counters mean equal data.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from typing import Any, Iterator

# Tables whose rows feed a coverage report or a procedure page. A table that does not exist
# (yet) is skipped; `watch_tables` runs after every migration, so a table added later by its
# own migration is watched from then on (dossier tables: add their names here).
WATCHED = ("procedures", "targets", "verdicts", "probe_attempts", "agencies",
           "dossiers", "dossier_ratings", "dossier_daily", "dossier_monthly")
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def watch_tables(db: Any, tables: tuple[str, ...] = WATCHED) -> list[str]:
    """Create the bumping triggers on every watched table that exists; names of tables watched."""
    if not db["change_counter"].exists():
        return []
    existing = set(db.table_names())
    watched = []
    for table in tables:
        if table not in existing:
            continue
        for event in _EVENTS:
            db.execute(
                f"CREATE TRIGGER IF NOT EXISTS change_counter_{table}_{event.lower()} "
                f"AFTER {event} ON [{table}] BEGIN "
                "UPDATE change_counter SET value = value + 1 WHERE id = 1; END")
        watched.append(table)
    return watched


_local = threading.local()
_STATE_SQL = "SELECT instance, value FROM change_counter WHERE id = 1"


def current_state(path: str, busy_timeout_ms: int = 10000) -> str | None:
    """`data_state` of the database file at `path`, read on a connection this thread keeps
    open (a cache hit or a 304 then opens nothing). A file replaced on disk is noticed by its
    inode and gets a new connection. None when the file or its counter does not exist (yet):
    nothing may be cached then."""
    conns: dict[str, tuple[tuple[int, int], sqlite3.Connection]] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    try:
        stat = os.stat(path)
    except OSError:
        return None
    ident = (stat.st_dev, stat.st_ino)
    held = conns.get(path)
    if held is None or held[0] != ident:
        if held is not None:
            held[1].close()
        if len(conns) >= 8:  # a thread serves one database; tests open many
            for _ident, old in conns.values():
                old.close()
            conns.clear()
        conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        held = conns[path] = (ident, conn)
    try:
        row = held[1].execute(_STATE_SQL).fetchone()
    except sqlite3.OperationalError:  # not migrated yet (no change_counter table)
        return None
    return f"{row[0]}-{row[1]}" if row else None


class ChangesMixin:
    """Reading the change counter, and reading several queries from one snapshot."""

    db: Any

    def change_counter(self) -> int:
        """The number of writes so far to the tables reports depend on."""
        row = self.db.execute("SELECT value FROM change_counter WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def data_state(self) -> str:
        """`<instance>-<counter>`: equal states mean equal data, across processes and restarts
        (a database without the counter gets a state of its own at every call)."""
        try:
            row = self.db.execute(_STATE_SQL).fetchone()
        except sqlite3.OperationalError:
            row = None
        return f"{row[0]}-{row[1]}" if row else f"uncounted{os.urandom(6).hex()}-0"

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[str]:
        """A read transaction: every query inside sees the same state; yields its `data_state`."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self.data_state()
            return
        conn.execute("BEGIN")
        try:
            yield self.data_state()  # the first read fixes the snapshot (WAL)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def evidence_expiry(self, fresh_after: str) -> str | None:
        """The oldest `checked_at` among verdicts still fresh (newer than `fresh_after`): the
        first moment a report's verified figures or freshness change with no write at all."""
        row = self.db.execute(
            "SELECT checked_at FROM verdicts WHERE verdict != 'unknown' AND "
            "julianday(checked_at) > julianday(?) ORDER BY julianday(checked_at) LIMIT 1",
            [fresh_after]).fetchone()
        return row[0] if row else None
