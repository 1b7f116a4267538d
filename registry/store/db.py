"""Opening the SQLite file: WAL mode, busy timeout, explicit write transactions."""
from __future__ import annotations

import contextlib
import sqlite3
from itertools import chain
from pathlib import Path
from typing import Any, Iterator, Sequence

import sqlite_utils

from .errors import StoreBusy, StoreFull

from ..clock import VN_TZ, now_iso  # noqa: F401 - re-exported: the store stamps its writes with it


def connect(path: str | Path, busy_timeout_ms: int = 10000) -> sqlite_utils.Database:
    """Open (creating if needed) the database in WAL mode with a busy timeout.

    With the disk full, opening a WAL database fails when SQLite must (re)create its `-wal` and
    `-shm` files (the last connection to close deletes them). Then, if no WAL content is
    pending (no `-wal` file, or an empty one: everything is in the database file), the file is
    opened read-only and immutable instead: reads keep working, and every write is refused
    with StoreFull (a clear 503) instead of every request failing.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _connect_wal(path, busy_timeout_ms)
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if (str(path) == ":memory:" or not Path(path).is_file() or not _disk_trouble(exc)
                or (wal.exists() and wal.stat().st_size > 0)):
            raise
        return _connect_frozen(path)


def _disk_trouble(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR) or (code is not None and code & 0xFF in (10, 13))


def _connect_wal(path: str | Path, busy_timeout_ms: int) -> sqlite_utils.Database:
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so a writer takes the
    # lock up front (waiting up to the busy timeout) instead of failing on upgrade.
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a first read maps the WAL index
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def _connect_frozen(path: str | Path) -> sqlite_utils.Database:
    uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.frozen = True  # type: ignore[attr-defined]  # read by write_transaction
    return db


def is_frozen(db: sqlite_utils.Database) -> bool:
    """True for a read-only fallback connection (the disk was full when it was opened)."""
    return bool(getattr(db, "frozen", False))


DISK_FULL = "the disk holding the database is full: nothing was written (reads still work)"


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full" (SQLITE_FULL)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc))


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One atomic write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    if db.conn.in_transaction:  # nested: let the outer transaction decide
        with db.atomic():
            yield db
        return
    if is_frozen(db):
        raise StoreFull(DISK_FULL)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # the busy timeout ran out waiting for the write lock
        if is_disk_full(exc):
            raise StoreFull(DISK_FULL) from exc
        raise StoreBusy(f"the database is busy: {exc}") from exc
    try:
        yield db
    except BaseException as exc:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        if is_disk_full(exc):
            raise StoreFull(DISK_FULL) from exc
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            if is_disk_full(exc):
                raise StoreFull(DISK_FULL) from exc
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
