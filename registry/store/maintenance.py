"""Online backup, restore and integrity checks of the database file (SQLite backup API)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .errors import StoreDamaged, StoreError


class MaintenanceMixin:
    """Backup/restore operations; mixed into `Store`."""

    db: Any

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: 'ok' when the file is sound."""
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def quick_check(self) -> str:
        """`PRAGMA quick_check` in one line: 'ok' when sound, else what SQLite found (first problems)."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.DatabaseError as exc:  # not a database at all, or a damaged header
            return str(exc)
        return "ok" if rows == ["ok"] else "; ".join(str(r).replace("\n", " ") for r in rows)[:300]

    def backup_to(self, target: str | Path) -> Path:
        """Copy the live database to `target` consistently while others keep reading and writing.

        A database that fails `quick_check` is not copied (StoreDamaged): a backup of a damaged
        file would silently replace a good older one.
        """
        status = self.quick_check()
        if status != "ok":
            raise StoreDamaged(f"{self.path} is damaged (quick_check: {status}); no backup written")
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            dst = sqlite3.connect(str(target))
            try:
                self.db.conn.backup(dst, pages=1024)
                dst.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the backup {target}: {exc}") from None
        return target

    def restore_from(self, source: str | Path) -> None:
        """Replace the live database's content with a backup (checked first, then copied atomically)."""
        try:
            src = sqlite3.connect(f"file:{Path(source)}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise ValueError(f"{source} cannot be opened: {exc}") from None
        try:
            try:
                status = src.execute("PRAGMA integrity_check").fetchone()[0]
                if status != "ok":
                    raise ValueError(f"{source} is not a sound database: {str(status).splitlines()[0]}")
                tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.DatabaseError as exc:  # not a database, encrypted, truncated header...
                raise ValueError(f"{source} is not a SQLite database ({exc}); nothing was changed") from None
            if "procedures" not in tables:
                raise ValueError(f"{source} is not a tthc database (no procedures table); nothing was changed")
            src.backup(self.db.conn)
        finally:
            src.close()
        if self.db["change_counter"].exists():  # a restored file is new data: new cache keys and ETags
            self.db.conn.execute("UPDATE change_counter SET instance = lower(hex(randomblob(6)))")
