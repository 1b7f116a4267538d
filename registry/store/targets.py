"""Coverage targets: data, loaded from fixtures and editable by admins (audited)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .db import now_iso, write_transaction
from .errors import NotFound

_COLS = ("id", "indicator", "percent", "due", "source", "note")


class TargetsMixin:
    """Target operations; mixed into `Store`."""

    db: Any

    def list_targets(self) -> list[dict[str, Any]]:
        """Every target, by indicator then due date."""
        cur = self.db.execute(f"SELECT {', '.join(_COLS)} FROM targets ORDER BY indicator, due")
        return [dict(zip(_COLS, r)) for r in cur.fetchall()]

    def replace_targets(self, targets: Sequence[Mapping[str, Any]], *, actor: str, source: str) -> None:
        """Replace the whole targets table (fixture load, admin bulk edit); audited."""
        now = now_iso()
        with write_transaction(self.db):
            before = self.list_targets()
            self.db.execute("DELETE FROM targets")
            self.db.conn.executemany(
                "INSERT INTO targets (indicator, percent, due, source, note) VALUES (?, ?, ?, ?, ?)",
                [(t["indicator"], float(t["percent"]), t["due"], t["source"], t.get("note", ""))
                 for t in targets])
            self.audit_many([(actor, source, "replace", "targets", "*", before, self.list_targets())],
                            at=now)

    def upsert_target(self, target: Mapping[str, Any], *, actor: str, source: str) -> dict[str, Any]:
        """Create or change the target of one indicator for one due date; audited."""
        now = now_iso()
        with write_transaction(self.db):
            cur = self.db.execute(f"SELECT {', '.join(_COLS)} FROM targets WHERE indicator = ? AND due = ?",
                                  [target["indicator"], target["due"]])
            row = cur.fetchone()
            before = dict(zip(_COLS, row)) if row else None
            self.db.execute(
                "INSERT INTO targets (indicator, percent, due, source, note) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (indicator, due) DO UPDATE SET percent = excluded.percent, "
                "source = excluded.source, note = excluded.note",
                [target["indicator"], float(target["percent"]), target["due"], target["source"],
                 target.get("note", "")])
            cur = self.db.execute(f"SELECT {', '.join(_COLS)} FROM targets WHERE indicator = ? AND due = ?",
                                  [target["indicator"], target["due"]])
            after = dict(zip(_COLS, cur.fetchone()))
            self.audit_many([(actor, source, "update" if before else "create", "target",
                              f"{after['indicator']}@{after['due']}", before, after)], at=now)
        return after

    def delete_target(self, target_id: int, *, actor: str, source: str) -> None:
        """Remove one target; audited."""
        with write_transaction(self.db):
            cur = self.db.execute(f"SELECT {', '.join(_COLS)} FROM targets WHERE id = ?", [target_id])
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no target with id {target_id}")
            before = dict(zip(_COLS, row))
            self.db.execute("DELETE FROM targets WHERE id = ?", [target_id])
            self.audit_many([(actor, source, "delete", "target",
                              f"{before['indicator']}@{before['due']}", before, None)])
