"""The store: the only part of tthc that knows table names or SQL."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from . import migrations
from .alerts import AlertsMixin, CursorMoved
from .audit import AuditMixin
from .auth import AuthMixin
from .changes import ChangesMixin, current_state, watch_tables
from .db import DISK_FULL, VN_TZ, connect, is_disk_full, is_frozen, now_iso, write_transaction
from .dossiers import DossierExists, DossiersMixin
from .errors import (DuplicateCode, NotFound, StoreBusy, StoreDamaged, StoreError, StoreFull, StoreUnavailable,
                     VersionConflict)
from .federation import FederationMixin
from .maintenance import MaintenanceMixin
from .probes import ProbesMixin, SweepBusy
from .procedures import ProceduresMixin
from .sessions import SessionsMixin
from .targets import TargetsMixin

__all__ = ["Store", "open_store", "StoreError", "StoreBusy", "NotFound", "DuplicateCode", "VersionConflict",
           "VN_TZ", "now_iso", "SweepBusy", "StoreFull", "StoreDamaged", "StoreUnavailable", "current_state",
           "CursorMoved", "DossierExists"]


class Store(ProceduresMixin, AuditMixin, TargetsMixin, ProbesMixin, MaintenanceMixin, AuthMixin,
            SessionsMixin, ChangesMixin, FederationMixin, AlertsMixin, DossiersMixin):
    """A connection to the registry database with every operation the interfaces need."""

    def __init__(self, db: Any, path: str | Path) -> None:
        self.db = db
        self.path = str(path)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def migrate(self) -> None:
        """Apply pending migrations in place."""
        migrations.apply(self.db)
        watch_tables(self.db)

    def pending_migrations(self) -> list[str]:
        """Migrations not yet applied."""
        return migrations.pending(self.db)

    def ping(self) -> bool:
        """True when the database answers a query."""
        return self.db.execute("SELECT 1").fetchone()[0] == 1

    def meta_get(self, key: str, default: str | None = None) -> str | None:
        """A value of the key/value meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def meta_set(self, key: str, value: str) -> None:
        """Set a value of the key/value meta table."""
        with write_transaction(self.db):
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                            "DO UPDATE SET value = excluded.value", [key, value])

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_UNAVAILABLE = ("unable to open", "readonly", "read-only", "disk i/o error", "permission")


def open_store(path: str | Path, busy_timeout_ms: int = 10000, migrate: bool = True) -> Store:
    """Open the database file, upgrading its schema in place unless told not to.

    Failures say what is wrong in one line: StoreUnavailable (cannot be opened or written: a
    read-only directory, no permission), StoreFull (the disk is full), StoreDamaged (not a
    database, or malformed).
    """
    store = None
    try:
        store = Store(connect(path, busy_timeout_ms), path)
        if migrate and is_frozen(store.db) and store.pending_migrations():
            raise StoreFull(f"{path}: {DISK_FULL}; {len(store.pending_migrations())} migration(s) pending")
        if migrate and not is_frozen(store.db):
            store.migrate()
        return store
    except StoreFull:
        if store is not None:
            store.close()
        raise
    except (sqlite3.DatabaseError, OSError) as exc:
        if store is not None:
            store.close()
        message = str(exc)
        if is_disk_full(exc):
            raise StoreFull(f"{path}: {DISK_FULL}") from None
        if isinstance(exc, OSError) or any(m in message.lower() for m in _UNAVAILABLE):
            raise StoreUnavailable(f"cannot open the database {path}: {message} "
                                   "(check that its directory exists and is writable)") from None
        raise StoreDamaged(f"the database {path} is damaged ({message}); "
                           "restore a backup with `tthc restore FILE`") from None
