"""Procedures: reads, writes with optimistic concurrency, bulk import, search, history."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..schemas import online_mode, with_defaults
from ..text import fold, search_tokens
from .db import insert_many, now_iso, rows_per_statement, write_transaction
from .errors import DuplicateCode, NotFound, VersionConflict

EDITABLE = ("name", "field", "agency", "agencies", "issuing_agency", "levels", "service_level",
            "has_fee", "dvcqg_integrated", "payment_channel", "sso", "status")
_JSON = ("agencies", "levels")
_BOOL = ("has_fee", "dvcqg_integrated", "sso")
COLUMNS = ("code", *EDITABLE, "version", "created_at", "updated_at", "search_text")

SORTABLE = {"code", "name", "field", "agency", "service_level", "updated_at", "created_at"}
FILTERS = ("level", "agency", "field", "integrated", "payment_channel", "sso", "status", "has_fee")


ROW_COLUMNS = ("code", *EDITABLE, "search_text")  # the order of row_values()
# Built once: json.dumps(x, ensure_ascii=False) makes a new encoder per call. Same output.
_encode_list = json.JSONEncoder(ensure_ascii=False).encode


@functools.lru_cache(maxsize=4096)
def _encode_items(items: tuple[str, ...]) -> str:
    # agencies and levels repeat across rows (a handful of distinct lists per import)
    return _encode_list(items)


def _search_text(rec: Mapping[str, Any]) -> str:
    return fold(" ".join([rec["code"], rec["name"], rec["field"], *rec["agencies"], rec["agency"]]))


def row_values(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """A canonical record as the values of a table row, in ROW_COLUMNS order."""
    return (rec["code"], rec["name"], rec["field"], rec["agency"],
            _encode_items(tuple(rec["agencies"])), rec["issuing_agency"],
            _encode_items(tuple(rec["levels"])), rec["service_level"],
            1 if rec["has_fee"] else 0, 1 if rec["dvcqg_integrated"] else 0, rec["payment_channel"],
            1 if rec["sso"] else 0, rec["status"], _search_text(rec))


def to_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical record as a table row."""
    return dict(zip(ROW_COLUMNS, row_values(rec)))


def from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as the canonical record (JSON decoded, booleans, derived online_mode)."""
    rec = {k: row[k] for k in ("code", *EDITABLE)}
    for k in _JSON:
        rec[k] = json.loads(rec[k])
    for k in _BOOL:
        rec[k] = bool(rec[k])
    rec["online_mode"] = online_mode(rec["service_level"])
    for k in ("version", "created_at", "updated_at"):
        if k in row.keys():
            rec[k] = row[k]
    return rec


_AUDITED = ("code", *EDITABLE)
_AUDITED_KEYS = frozenset(_AUDITED)


def _audit_view(rec: Mapping[str, Any] | None, version: int | None = None) -> dict | None:
    """What the audit log keeps of a record: every editable field plus its version.

    `version` overrides the record's own (a row about to be written carries none yet).
    """
    if rec is None:
        return None
    if rec.keys() == _AUDITED_KEYS:
        view = dict(rec)  # exactly the audited keys (a new import row): a copy, at C speed
    else:
        view = {k: rec[k] for k in _AUDITED}
    view["version"] = rec.get("version") if version is None else version
    return view


def fts_query(q: str) -> str | None:
    """An FTS5 MATCH expression: every folded token as a prefix term, all required."""
    tokens = search_tokens(q)
    return " ".join(f'"{t}"*' for t in tokens) if tokens else None


class ProceduresMixin:
    """Procedure operations; mixed into `Store`, which provides `db` and `audit_many`."""

    db: Any

    # -- reads -------------------------------------------------------------
    def get_procedure(self, code: str) -> dict[str, Any]:
        """One procedure by code (retired ones included); NotFound if absent."""
        cur = self.db.execute("SELECT * FROM procedures WHERE code = ?", [code])
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no procedure with code {code}")
        return from_row(dict(zip([d[0] for d in cur.description], row)))

    def count_procedures(self) -> int:
        """How many procedures are stored, retired included."""
        return self.db.execute("SELECT count(*) FROM procedures").fetchone()[0]

    def all_procedures(self, include_retired: bool = False) -> list[dict[str, Any]]:
        """Every procedure (active only unless asked), ordered by code."""
        where = "" if include_retired else "WHERE status = 'active'"
        cur = self.db.execute(f"SELECT * FROM procedures {where} ORDER BY code")
        names = [d[0] for d in cur.description]
        return [from_row(dict(zip(names, r))) for r in cur.fetchall()]

    def coverage_cohorts(self, group_by: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Active procedures aggregated by what the declared coverage maths reads.

        One row per distinct combination (plus the grouping columns asked for) with `count`
        and `codes` (comma-separated): the report's candidates come from them. The covering
        index `idx_procedures_coverage` serves the plain report without reading table rows.
        """
        keys = ["service_level", "has_fee", "dvcqg_integrated", "payment_channel", "sso"]
        keys += [k for k in ("agency", "field", "levels")
                 if k in group_by or (k == "levels" and "level" in group_by)]
        cols = ", ".join(keys)
        cur = self.db.execute(
            f"SELECT {cols}, count(*) AS count, min(code) AS code, group_concat(code, ',') AS codes "
            f"FROM procedures WHERE status = 'active' GROUP BY {cols}")
        names = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            d = dict(zip(names, r))
            for k in _BOOL:
                d[k] = bool(d[k])
            out.append(d)
        return out

    def evidence_summary(self, fresh_after: str) -> dict[str, Any]:
        """Oldest verdict time of active procedures, and how many online ones have a fresh linkage
        verdict (younger than `fresh_after` and not marked stale by a later `unknown`)."""
        oldest, fresh_online = self.db.execute(
            "SELECT min(v.checked_at), sum(v.dimension = 'linkage' AND p.service_level IN (3, 4) "
            "AND v.stale = 0 AND julianday(v.checked_at) >= julianday(?)) FROM verdicts v JOIN procedures p "
            "ON p.code = v.code WHERE p.status = 'active' AND v.verdict != 'unknown'",
            [fresh_after]).fetchone()
        return {"oldest_evidence": oldest, "fresh_online": fresh_online or 0}

    def coverage_rows(self) -> list[dict[str, Any]]:
        """The columns the coverage maths needs, one row per active procedure."""
        cur = self.db.execute(
            "SELECT code, name, field, agency, levels, service_level, has_fee, dvcqg_integrated, "
            "payment_channel, sso, status FROM procedures WHERE status = 'active'")
        names = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            d = dict(zip(names, r))
            for k in _BOOL:
                d[k] = bool(d[k])
            out.append(d)
        return out

    def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Diacritic-insensitive search over code, name, field and agency, best first."""
        rows, _ = self.list_procedures(q=query, limit=limit, sort=None, include_retired=True)
        return rows

    def list_procedures(self, *, q: str | None = None, filters: Mapping[str, Any] | None = None,
                        sort: str | None = "code", limit: int = 50, offset: int = 0,
                        include_retired: bool = False) -> tuple[list[dict[str, Any]], int]:
        """A filtered, sorted page of procedures and the total count matching."""
        where, params = [], []
        filters = dict(filters or {})
        if "status" not in filters and not include_retired:
            filters["status"] = "active"
        source = "procedures p"
        order = "p.code"
        if q:
            match = fts_query(q)
            if match is None:
                return [], 0
            # CROSS JOIN makes SQLite run the full-text match first; left to itself it may
            # scan an index on status and evaluate MATCH once per procedure (100x slower).
            source = "procedures_fts CROSS JOIN procedures p ON p.rowid = procedures_fts.rowid"
            where.append("procedures_fts MATCH ?")
            params.append(match)
            order = "procedures_fts.rank, p.code"
        mapping = {"level": "p.service_level", "agency": "p.agency", "field": "p.field",
                   "integrated": "p.dvcqg_integrated", "payment_channel": "p.payment_channel",
                   "sso": "p.sso", "status": "p.status", "has_fee": "p.has_fee"}
        for key, value in filters.items():
            if value is None:
                continue
            if key == "agency" and isinstance(value, (list, tuple)):
                # Several agencies (an officer's own): any of the procedure's agencies is one.
                marks = ", ".join("?" * len(value))
                where.append(f"(p.agency IN ({marks}) OR EXISTS (SELECT 1 FROM json_each(p.agencies) "
                             f"WHERE json_each.value IN ({marks})))")
                params.extend([*value, *value])
                continue
            if key == "agency":
                # An agency filter matches any of the procedure's agencies.
                where.append("(p.agency = ? OR EXISTS (SELECT 1 FROM json_each(p.agencies) "
                             "WHERE json_each.value = ?))")
                params.extend([value, value])
                continue
            where.append(f"{mapping[key]} = ?")
            params.append(int(value) if isinstance(value, bool) else value)
        if sort:
            desc = sort.startswith("-")
            col = sort.lstrip("-")
            if col not in SORTABLE:
                raise ValueError(f"cannot sort by {col}")
            order = f"p.{col} {'DESC' if desc else 'ASC'}, p.code"
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.db.execute(f"SELECT count(*) FROM {source} {clause}", params).fetchone()[0]
        cur = self.db.execute(f"SELECT p.* FROM {source} {clause} ORDER BY {order} "
                              "LIMIT ? OFFSET ?", [*params, limit, offset])
        names = [d[0] for d in cur.description]
        return [from_row(dict(zip(names, r))) for r in cur.fetchall()], total

    # -- writes ------------------------------------------------------------
    def create_procedure(self, data: Mapping[str, Any], *, actor: str, source: str) -> dict[str, Any]:
        """Insert a new procedure (defaults filled in); DuplicateCode if the code exists."""
        rec = with_defaults(dict(data))
        now = now_iso()
        with write_transaction(self.db):
            exists = self.db.execute("SELECT 1 FROM procedures WHERE code = ?", [rec["code"]]).fetchone()
            if exists:
                raise DuplicateCode(f"a procedure with code {rec['code']} already exists")
            self._insert_rows([rec], now)
            rec = self.get_procedure(rec["code"])
            self.audit_many([(actor, source, "create", "procedure", rec["code"], None, _audit_view(rec))],
                            at=now)
        return rec

    def update_procedure(self, code: str, changes: Mapping[str, Any], *, expected_version: int | None,
                         actor: str, source: str, action: str = "update", reason: str | None = None,
                         guard: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = None,
                         ) -> dict[str, Any]:
        """Apply `changes` if the stored version is `expected_version` (None: skip the check).

        `guard(before, after)`, if given, runs inside the write transaction after the version
        check and may raise to refuse the change (the procedure service's scope rule).
        `reason` is kept with the audit entry.
        """
        now = now_iso()
        with write_transaction(self.db):
            before = self.get_procedure(code)
            if expected_version is not None and before["version"] != expected_version:
                raise VersionConflict(
                    f"procedure {code} is at version {before['version']}, not {expected_version}",
                    before["version"])
            after = with_defaults({**{k: before[k] for k in ("code", *EDITABLE)}, **changes})
            if guard is not None:
                guard(before, after)
            if all(after[k] == before[k] for k in EDITABLE):
                return before
            row = to_row(after)
            sets = ", ".join(f"{k} = :{k}" for k in (*EDITABLE, "search_text"))
            cur = self.db.execute(
                f"UPDATE procedures SET {sets}, version = version + 1, updated_at = :now "
                "WHERE code = :code AND version = :version",
                {**row, "now": now, "version": before["version"]})
            if cur.rowcount != 1:  # pragma: no cover - the write lock makes this unreachable
                raise VersionConflict(f"procedure {code} changed concurrently")
            self._ensure_agencies([after], now)
            stored = self.get_procedure(code)
            self.audit_many([(actor, source, action, "procedure", code, _audit_view(before),
                              _audit_view(stored))], at=now, reason=reason)
        return stored

    def retire_procedure(self, code: str, *, expected_version: int | None, actor: str,
                         source: str, reason: str | None = None) -> dict[str, Any]:
        """Soft-delete: status becomes 'retired'; history and the row are kept."""
        return self.update_procedure(code, {"status": "retired"}, expected_version=expected_version,
                                     actor=actor, source=source, action="retire", reason=reason)

    def apply_import(self, rows: Sequence[Mapping[str, Any]], *, actor: str, source: str,
                     dry_run: bool = False) -> dict[str, list[str]]:
        """Insert new codes and update changed ones in ONE transaction; returns codes by outcome.

        Each row holds only the columns the file had: for an existing procedure the
        absent columns keep their stored values, for a new one they take the defaults.
        """
        now = now_iso()
        outcome: dict[str, list[str]] = {"inserted": [], "updated": [], "unchanged": []}
        with write_transaction(self.db):
            existing = self._existing([r["code"] for r in rows])
            inserts, updates, audit = [], [], []
            inserted, updated, unchanged = (outcome["inserted"], outcome["updated"],
                                            outcome["unchanged"])
            for data in rows:
                code = data["code"]
                before = existing.get(code)
                if before is None:
                    rec = with_defaults(data)
                    inserts.append(rec)
                    inserted.append(code)
                    audit.append((actor, source, "create", "procedure", code, None,
                                  _audit_view(rec, 1)))
                    continue
                after = with_defaults({**{k: before[k] for k in _AUDITED}, **data})
                if all(after[k] == before[k] for k in EDITABLE):
                    unchanged.append(code)
                    continue
                updates.append(after)
                updated.append(code)
                audit.append((actor, source, "update", "procedure", code, _audit_view(before),
                              _audit_view(after, before["version"] + 1)))
            if dry_run:  # nothing has been written yet: leaving now writes nothing
                return outcome
            self._insert_rows(inserts, now)
            self._update_rows(updates, now)
            self.audit_many(audit, at=now)
        return outcome

    def history(self, code: str) -> list[dict[str, Any]]:
        """The audit entries of one procedure, oldest first."""
        return self.list_audit(entity="procedure", key=code, order="asc", limit=100000)

    def procedures_as_of(self, cutoff_iso: str) -> list[dict[str, Any]]:
        """Every procedure as it stood at `cutoff_iso`, rebuilt from the audit log."""
        cur = self.db.execute(
            "SELECT a.after FROM audit a JOIN (SELECT key, max(id) AS id FROM audit "
            "WHERE entity = 'procedure' AND at <= ? GROUP BY key) last ON last.id = a.id "
            "ORDER BY a.key", [cutoff_iso])
        out = []
        for (after,) in cur.fetchall():
            if after:
                rec = json.loads(after)
                rec["online_mode"] = online_mode(rec["service_level"])
                out.append(rec)
        return out

    def last_change_at(self) -> str | None:
        """Time of the newest audited change (an ETag ingredient)."""
        row = self.db.execute("SELECT max(id), max(at) FROM audit").fetchone()
        return f"{row[0]}@{row[1]}" if row and row[0] else None

    def procedures_by_code(self, codes: Iterable[str]) -> list[dict[str, Any]]:
        """The stored procedures among `codes` (absent ones skipped)."""
        return list(self._existing(codes).values())

    # -- helpers -----------------------------------------------------------
    def _existing(self, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
        codes = list(codes)
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(codes), 500):
            chunk = codes[i:i + 500]
            cur = self.db.execute(
                f"SELECT * FROM procedures WHERE code IN ({','.join('?' * len(chunk))})", chunk)
            names = [d[0] for d in cur.description]
            for r in cur.fetchall():
                rec = from_row(dict(zip(names, r)))
                out[rec["code"]] = rec
        return out

    # Bulk writes use multi-row statements, not executemany: the FTS5 triggers make SQLite
    # flush the full-text index's pending terms at every statement, so one statement per
    # row writes (and later merges) one tiny index segment per row - 3x the cost of the row.
    # (Measured at 100,000 rows: 34 us/row with executemany, 12 us/row in 1000-row statements.)
    def _insert_rows(self, recs: Sequence[Mapping[str, Any]], now: str) -> None:
        if not recs:
            return
        stamp = (1, now, now)
        insert_many(self.db.conn, "procedures",
                    (*ROW_COLUMNS, "version", "created_at", "updated_at"),
                    [row_values(r) + stamp for r in recs])
        self._ensure_agencies(recs, now)

    def _update_rows(self, recs: Sequence[Mapping[str, Any]], now: str) -> None:
        if not recs:
            return
        conn = self.db.conn
        one = "(" + ", ".join("?" * len(ROW_COLUMNS)) + ")"
        sets = ", ".join(f"{k} = v.{k}" for k in ROW_COLUMNS if k != "code")
        values = [row_values(r) for r in recs]
        size = rows_per_statement(conn, len(ROW_COLUMNS) + 1)  # +1: the shared `now`
        for part in (values[i:i + size] for i in range(0, len(values), size)):
            conn.execute(
                f"WITH v ({', '.join(ROW_COLUMNS)}) AS (VALUES {', '.join([one] * len(part))}) "
                f"UPDATE procedures SET {sets}, version = procedures.version + 1, updated_at = ? "
                "FROM v WHERE procedures.code = v.code", [*(x for row in part for x in row), now])
        self._ensure_agencies(recs, now)

    def _ensure_agencies(self, recs: Iterable[Mapping[str, Any]], now: str) -> None:
        names = {a for r in recs for a in (r["agency"], *r["agencies"]) if a}
        self.db.conn.executemany("INSERT OR IGNORE INTO agencies (name, created_at) VALUES (?, ?)",
                                 [(n, now) for n in sorted(names)])

    def list_agencies(self) -> list[dict[str, Any]]:
        """Every agency named by a procedure, with how many active procedures name it first."""
        cur = self.db.execute(
            "SELECT a.name, a.code, (SELECT count(*) FROM procedures p WHERE p.agency = a.name "
            "AND p.status = 'active') AS procedures FROM agencies a ORDER BY a.name")
        return [{"name": n, "code": c, "procedures": k} for n, c, k in cur.fetchall()]
