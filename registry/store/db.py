"""Opening the SQLite file: WAL mode, busy timeout, explicit write transactions."""
from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import sqlite_utils

from .errors import StoreBusy

# Asia/Ho_Chi_Minh has had no daylight saving since 1975: a fixed offset is exact.
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def now_iso() -> str:
    """Now in Vietnam time, ISO 8601 with offset, microseconds kept so audit order is total."""
    return datetime.now(VN_TZ).isoformat(timespec="microseconds")


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
