"""The audit log: who changed what, when, from where, with the record before and after."""
from __future__ import annotations

import json
from typing import Any, Iterable

from .db import insert_many, now_iso

AuditEntry = tuple[str, str, str, str, str, Any, Any]  # actor, source, action, entity, key, before, after

# One encoder built once: json.dumps(..., ensure_ascii=False, sort_keys=True) builds a new
# JSONEncoder on every call, which costs as much as encoding a small record. Same output.
encode_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_COLUMNS = ("at", "actor", "source", "action", "entity", "key", "before", "after", "reason")


class AuditMixin:
    """Audit operations; mixed into `Store`."""

    db: Any

    def audit_many(self, entries: Iterable[AuditEntry], at: str | None = None,
                   reason: str | None = None) -> None:
        """Append entries (call inside the write transaction of the change they describe).

        `reason` (why the change was made, e.g. a retirement's) is kept with every entry.
        """
        at = at or now_iso()
        enc = encode_json
        insert_many(self.db.conn, "audit", _COLUMNS,
                    [(at, actor, source, action, entity, key, None if before is None else enc(before),
                      None if after is None else enc(after), reason)
                     for actor, source, action, entity, key, before, after in entries])

    def list_audit(self, *, entity: str | None = None, key: str | None = None,
                   actor: str | None = None, source: str | None = None, since: str | None = None,
                   until: str | None = None, limit: int = 100, offset: int = 0,
                   order: str = "desc") -> list[dict[str, Any]]:
        """Audit entries filtered by entity/key/actor/source and time range."""
        where, params = [], []
        for col, value in (("entity", entity), ("key", key), ("actor", actor), ("source", source)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if since:
            where.append("at >= ?")
            params.append(since)
        if until:
            where.append("at <= ?")
            params.append(until)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        direction = "ASC" if order == "asc" else "DESC"
        cur = self.db.execute(
            f"SELECT id, at, actor, source, action, entity, key, before, after, reason FROM audit {clause} "
            f"ORDER BY id {direction} LIMIT ? OFFSET ?", [*params, limit, offset])
        out = []
        for row in cur.fetchall():
            rec = dict(zip(("id", "at", "actor", "source", "action", "entity", "key", "before", "after",
                            "reason"), row))
            rec["before"] = json.loads(rec["before"]) if rec["before"] else None
            rec["after"] = json.loads(rec["after"]) if rec["after"] else None
            out.append(rec)
        return out

    def count_audit(self, **filters: Any) -> int:
        """How many audit entries match (same filters as list_audit, no paging)."""
        where, params = [], []
        for col in ("entity", "key", "actor", "source"):
            if filters.get(col) is not None:
                where.append(f"{col} = ?")
                params.append(filters[col])
        if filters.get("since"):
            where.append("at >= ?")
            params.append(filters["since"])
        if filters.get("until"):
            where.append("at <= ?")
            params.append(filters["until"])
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self.db.execute(f"SELECT count(*) FROM audit {clause}", params).fetchone()[0]
