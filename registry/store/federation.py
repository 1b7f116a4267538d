"""Federation: the units we pull coverage from, every pull, and dated snapshots of their reports."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from .db import now_iso, write_transaction
from .errors import DuplicateCode, NotFound

_UNIT = ("code", "url", "name", "created_at")
_SNAPSHOT = ("id", "unit_code", "basis", "method", "as_of", "pulled_at", "confirmed_at", "etag", "sha256")
_PULL = ("id", "unit_code", "basis", "at", "outcome", "reason", "http_status", "snapshot_id", "evidence")


def _snapshot(row: Sequence[Any], with_report: bool) -> dict[str, Any]:
    out = dict(zip(_SNAPSHOT, row))
    if with_report:
        out["report"] = json.loads(row[len(_SNAPSHOT)])
    return out


class FederationMixin:
    """Federation operations; mixed into `Store`."""

    db: Any

    def add_federation_unit(self, code: str, url: str, name: str, *, actor: str, source: str) -> dict[str, Any]:
        """Register a unit to pull from; DuplicateCode when its code is taken."""
        unit = {"code": code, "url": url, "name": name, "created_at": now_iso()}
        with write_transaction(self.db):
            if self.db.execute("SELECT 1 FROM federation_units WHERE code = ?", [code]).fetchone():
                raise DuplicateCode(code)
            self.db.execute("INSERT INTO federation_units (code, url, name, created_at) VALUES (?, ?, ?, ?)",
                            [unit[c] for c in _UNIT])
            self.audit_many([(actor, source, "create", "federation_unit", code, None, unit)])  # type: ignore[attr-defined]
        return unit

    def remove_federation_unit(self, code: str, *, actor: str, source: str) -> None:
        """Stop pulling from a unit (its snapshots and pulls stay, as history)."""
        with write_transaction(self.db):
            before = self.get_federation_unit(code)
            self.db.execute("DELETE FROM federation_units WHERE code = ?", [code])
            self.audit_many([(actor, source, "delete", "federation_unit", code, before, None)])  # type: ignore[attr-defined]

    def get_federation_unit(self, code: str) -> dict[str, Any]:
        row = self.db.execute(f"SELECT {', '.join(_UNIT)} FROM federation_units WHERE code = ?", [code]).fetchone()
        if row is None:
            raise NotFound(code)
        return dict(zip(_UNIT, row))

    def list_federation_units(self) -> list[dict[str, Any]]:
        cur = self.db.execute(f"SELECT {', '.join(_UNIT)} FROM federation_units ORDER BY code")
        return [dict(zip(_UNIT, r)) for r in cur.fetchall()]

    def latest_snapshot(self, unit_code: str, basis: str, *, as_of: str | None = None,
                        with_report: bool = True) -> dict[str, Any] | None:
        """The newest snapshot of a unit's report (pulled up to `as_of`, when given)."""
        cols = ", ".join(_SNAPSHOT) + (", report" if with_report else "")
        sql = f"SELECT {cols} FROM federation_snapshots WHERE unit_code = ? AND basis = ?"
        params: list[Any] = [unit_code, basis]
        if as_of is not None:
            sql += " AND julianday(pulled_at) <= julianday(?)"
            params.append(as_of)
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return None if row is None else _snapshot(row, with_report)

    def list_snapshots(self, basis: str, *, until: str | None = None) -> list[dict[str, Any]]:
        """Every snapshot of every unit for one basis, oldest first, with its report."""
        sql = f"SELECT {', '.join(_SNAPSHOT)}, report FROM federation_snapshots WHERE basis = ?"
        params: list[Any] = [basis]
        if until is not None:
            sql += " AND julianday(pulled_at) <= julianday(?)"
            params.append(until)
        return [_snapshot(r, True) for r in self.db.execute(sql + " ORDER BY id", params).fetchall()]

    def record_pull(self, unit_code: str, basis: str, *, outcome: str, reason: str = "",
                    http_status: int | None = None, evidence: Sequence[Mapping[str, Any]] = (),
                    report: Mapping[str, Any] | None = None, etag: str | None = None,
                    at: str | None = None) -> dict[str, Any]:
        """Record one pull. `changed` stores a new snapshot (unless its content equals the
        last one: then that one is confirmed); `not_modified` confirms the last snapshot;
        `failed` touches no snapshot."""
        at = at or now_iso()
        snapshot_id = None
        with write_transaction(self.db):
            last = self.latest_snapshot(unit_code, basis, with_report=False)
            if outcome == "changed" and report is not None:
                text = json.dumps(report, ensure_ascii=False, sort_keys=True)
                digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
                if last is not None and last["sha256"] == digest:
                    outcome, snapshot_id = "not_modified", last["id"]
                else:
                    cur = self.db.execute(
                        "INSERT INTO federation_snapshots (unit_code, basis, method, as_of, pulled_at, "
                        "confirmed_at, etag, sha256, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [unit_code, basis, str(report.get("method")), str(report.get("as_of")), at, at,
                         etag, digest, text])
                    snapshot_id = cur.lastrowid
            elif outcome == "not_modified" and last is not None:
                snapshot_id = last["id"]
            if outcome == "not_modified" and snapshot_id is not None:
                self.db.execute("UPDATE federation_snapshots SET confirmed_at = ?, etag = coalesce(?, etag) "
                                "WHERE id = ?", [at, etag, snapshot_id])
            cur = self.db.execute(
                "INSERT INTO federation_pulls (unit_code, basis, at, outcome, reason, http_status, snapshot_id, "
                "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [unit_code, basis, at, outcome, reason, http_status, snapshot_id,
                 json.dumps(list(evidence), ensure_ascii=False)])
        return {"id": cur.lastrowid, "unit_code": unit_code, "basis": basis, "at": at, "outcome": outcome,
                "reason": reason, "http_status": http_status, "snapshot_id": snapshot_id}

    def last_pull(self, unit_code: str, basis: str) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT {', '.join(_PULL)} FROM federation_pulls WHERE unit_code = ? AND basis = ? "
                              "ORDER BY id DESC LIMIT 1", [unit_code, basis]).fetchone()
        if row is None:
            return None
        out = dict(zip(_PULL, row))
        out["evidence"] = json.loads(out["evidence"])
        return out
