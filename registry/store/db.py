"""Opening the SQLite file: WAL mode, busy timeout, explicit write transactions."""
from __future__ import annotations

import contextlib
import sqlite3
from itertools import chain
from pathlib import Path
from typing import Any, Iterator, Sequence

import sqlite_utils

from .errors import StoreBusy

from ..clock import VN_TZ, now_iso  # noqa: F401 - re-exported: the store stamps its writes with it


def connect(path: str | Path, busy_timeout_ms: int = 10000) -> sqlite_utils.Database:
    """Open (creating if needed) the database in WAL mode with a busy timeout."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so a writer takes the
    # lock up front (waiting up to the busy timeout) instead of failing on upgrade.
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    if db.conn.in_transaction:  # nested: let the outer transaction decide
        with db.atomic():
            yield db
        return
    try:
        db.conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # the busy timeout ran out waiting for the write lock
        raise StoreBusy(f"the database is busy: {exc}") from exc
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise StoreBusy(f"the database is busy: {exc}") from exc


def rows_per_statement(conn: sqlite3.Connection, width: int) -> int:
    """How many rows of `width` bound values fit in one statement (at most 1000)."""
    return max(1, min(1000, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))


def insert_many(conn: sqlite3.Connection, table: str, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT `rows` with multi-row VALUES statements, up to 1000 rows per statement.

    Faster than executemany for bulk writes: SQLite does its per-statement work (and, on a
    table with FTS5 triggers, a flush of the full-text index's pending terms) once per
    statement, not once per row.
    """
    size = rows_per_statement(conn, len(columns))
    one = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    for i in range(0, len(rows), size):
        part = rows[i:i + size]
        conn.execute(head + ", ".join([one] * len(part)), list(chain.from_iterable(part)))
