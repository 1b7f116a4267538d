"""Online backup, restore and integrity checks of the database file (SQLite backup API)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


class MaintenanceMixin:
    """Backup/restore operations; mixed into `Store`."""

    db: Any

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: 'ok' when the file is sound."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def backup_to(self, target: str | Path) -> Path:
        """Copy the live database to `target` consistently while others keep reading and writing."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(str(target))
        try:
            self.db.conn.backup(dst, pages=1024)
            dst.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
        finally:
            dst.close()
        return target

    def restore_from(self, source: str | Path) -> None:
        """Replace the live database's content with a backup (checked first, then copied atomically)."""
        src = sqlite3.connect(f"file:{Path(source)}?mode=ro", uri=True)
        try:
            status = src.execute("PRAGMA integrity_check").fetchone()[0]
            if status != "ok":
                raise ValueError(f"{source} is not a sound database: {status}")
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "procedures" not in tables:
                raise ValueError(f"{source} is not a tthc database (no procedures table)")
            src.backup(self.db.conn)
        finally:
            src.close()
        if self.db["change_counter"].exists():  # a restored file is new data: new cache keys and ETags
            self.db.conn.execute("UPDATE change_counter SET instance = lower(hex(randomblob(6)))")
