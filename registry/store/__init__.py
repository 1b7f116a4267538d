"""The store: the only part of tthc that knows table names or SQL."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import migrations
from .audit import AuditMixin
from .auth import AuthMixin
from .dossiers import DossierExists, DossiersMixin
from .db import VN_TZ, connect, now_iso, write_transaction
from .errors import DuplicateCode, NotFound, StoreBusy, StoreError, VersionConflict
from .maintenance import MaintenanceMixin
from .probes import ProbesMixin, SweepBusy
from .procedures import ProceduresMixin
from .targets import TargetsMixin

__all__ = ["Store", "open_store", "StoreError", "StoreBusy", "NotFound", "DuplicateCode", "VersionConflict",
           "VN_TZ", "now_iso", "SweepBusy", "DossierExists"]


class Store(ProceduresMixin, AuditMixin, TargetsMixin, ProbesMixin, MaintenanceMixin, AuthMixin,
            DossiersMixin):
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


def open_store(path: str | Path, busy_timeout_ms: int = 10000, migrate: bool = True) -> Store:
    """Open the database file, upgrading its schema in place unless told not to."""
    store = Store(connect(path, busy_timeout_ms), path)
    if migrate:
        store.migrate()
    return store
