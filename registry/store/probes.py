"""Probe runs, attempts (every one kept), latest verdicts, confirmed payments and refused callbacks."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from .. import errors
from .db import now_iso, write_transaction
from .errors import NotFound, StoreError

RUN_COLS = ("id", "kind", "selection", "status", "actor", "started_at", "heartbeat_at", "finished_at",
            "total", "done", "counts", "message")
ATTEMPT_COLS = ("id", "run_id", "code", "dimension", "verdict", "checked_at", "duration_ms", "details",
                "evidence")
FINAL_STATUSES = ("completed", "portal_unavailable", "failed", "interrupted", "cancelled")


class SweepBusy(StoreError, errors.Conflict):
    """Another sweep is running on this database."""


def _run(row: Iterable[Any]) -> dict[str, Any]:
    rec = dict(zip(RUN_COLS, row))
    rec["selection"] = json.loads(rec["selection"])
    rec["counts"] = json.loads(rec["counts"])
    return rec


def _attempt(row: Iterable[Any]) -> dict[str, Any]:
    rec = dict(zip(ATTEMPT_COLS, row))
    rec["details"] = json.loads(rec["details"])
    rec["evidence"] = json.loads(rec["evidence"])
    return rec


class ProbesMixin:
    """Probe evidence operations; mixed into `Store`."""

    db: Any

    # -- runs ----------------------------------------------------------------
    def start_run(self, *, kind: str, selection: Any, total: int, actor: str,
                  lease_seconds: float = 60.0) -> dict[str, Any]:
        """Open a new run; SweepBusy if another is running with a live heartbeat.

        A run whose heartbeat is older than `lease_seconds` was killed: it is marked
        `interrupted` (and can be resumed) instead of blocking sweeps forever.
        """
        now = now_iso()
        with write_transaction(self.db):
            self._expire_dead_runs(lease_seconds)
            busy = self.db.execute("SELECT id FROM probe_runs WHERE status = 'running'").fetchone()
            if busy:
                raise SweepBusy(f"sweep {busy[0]} is already running")
            cur = self.db.execute(
                "INSERT INTO probe_runs (kind, selection, status, actor, started_at, heartbeat_at, total) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?)",
                [kind, json.dumps(selection, ensure_ascii=False), actor, now, now, total])
            run_id = cur.lastrowid
        return self.get_run(run_id)

    def resume_run(self, run_id: int, *, lease_seconds: float = 60.0) -> dict[str, Any]:
        """Take over an interrupted run again (same id, its finished items kept)."""
        now = now_iso()
        with write_transaction(self.db):
            self._expire_dead_runs(lease_seconds)
            run = self.get_run(run_id)
            if run["status"] != "interrupted":
                raise StoreError(f"run {run_id} is {run['status']}, only an interrupted run resumes")
            busy = self.db.execute("SELECT id FROM probe_runs WHERE status = 'running'").fetchone()
            if busy:
                raise SweepBusy(f"sweep {busy[0]} is already running")
            self.db.execute("UPDATE probe_runs SET status = 'running', heartbeat_at = ?, finished_at = NULL "
                            "WHERE id = ?", [now, run_id])
        return self.get_run(run_id)

    def _expire_dead_runs(self, lease_seconds: float) -> None:
        limit = (datetime.fromisoformat(now_iso()) - timedelta(seconds=lease_seconds)).isoformat()
        self.db.execute("UPDATE probe_runs SET status = 'interrupted', finished_at = heartbeat_at, "
                        "message = 'stopped without finishing (process ended)' "
                        "WHERE status = 'running' AND heartbeat_at < ?", [limit])

    def heartbeat(self, run_id: int, *, done: int | None = None,
                  counts: Mapping[str, int] | None = None) -> None:
        """Record progress and prove the sweep is alive."""
        sets, params = ["heartbeat_at = ?"], [now_iso()]
        if done is not None:
            sets.append("done = ?")
            params.append(done)
        if counts is not None:
            sets.append("counts = ?")
            params.append(json.dumps(dict(counts), sort_keys=True))
        with write_transaction(self.db):
            self.db.execute(f"UPDATE probe_runs SET {', '.join(sets)} WHERE id = ?", [*params, run_id])

    def finish_run(self, run_id: int, *, status: str, message: str = "", done: int | None = None,
                   counts: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Close a run with its final status (completed, portal_unavailable, failed, ...)."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        now = now_iso()
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE probe_runs SET status = ?, message = ?, finished_at = ?, heartbeat_at = ?, "
                "done = coalesce(?, done), counts = coalesce(?, counts) WHERE id = ?",
                [status, message, now, now, done,
                 None if counts is None else json.dumps(dict(counts), sort_keys=True), run_id])
        return self.get_run(run_id)

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One probe run; NotFound if absent."""
        row = self.db.execute(f"SELECT {', '.join(RUN_COLS)} FROM probe_runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFound(f"no probe run {run_id}")
        return _run(row)

    def list_runs(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Probe runs, newest first."""
        cur = self.db.execute(f"SELECT {', '.join(RUN_COLS)} FROM probe_runs ORDER BY id DESC LIMIT ? OFFSET ?",
                              [limit, offset])
        return [_run(r) for r in cur.fetchall()]

    def last_interrupted_run(self, lease_seconds: float = 60.0) -> dict[str, Any] | None:
        """The newest run that stopped without finishing, if any (after expiring dead ones)."""
        with write_transaction(self.db):
            self._expire_dead_runs(lease_seconds)
        row = self.db.execute(f"SELECT {', '.join(RUN_COLS)} FROM probe_runs WHERE status = 'interrupted' "
                              "ORDER BY id DESC LIMIT 1").fetchone()
        return _run(row) if row else None

    def finished_items(self, run_id: int) -> set[tuple[str, str]]:
        """(code, dimension) pairs this run already probed: a resumed run skips them."""
        cur = self.db.execute("SELECT code, dimension FROM probe_attempts WHERE run_id = ?", [run_id])
        return {(c, d) for c, d in cur.fetchall()}

    # -- attempts and verdicts -----------------------------------------------
    def record_attempts(self, attempts: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store attempts and fold them into the latest verdicts, in one transaction.

        Each attempt: run_id, code, dimension, verdict, checked_at, duration_ms, details, evidence.
        An `unknown` never overwrites a verdict: it marks the earlier one stale.
        """
        ids = []
        with write_transaction(self.db):
            for a in attempts:
                cur = self.db.execute(
                    "INSERT INTO probe_attempts (run_id, code, dimension, verdict, checked_at, duration_ms, "
                    "details, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [a.get("run_id"), a["code"], a["dimension"], a["verdict"], a["checked_at"],
                     float(a.get("duration_ms", 0)), json.dumps(a.get("details", {}), ensure_ascii=False),
                     json.dumps(a.get("evidence", []), ensure_ascii=False)])
                attempt_id = cur.lastrowid
                ids.append(attempt_id)
                prev = self.db.execute("SELECT verdict FROM verdicts WHERE code = ? AND dimension = ?",
                                       [a["code"], a["dimension"]]).fetchone()
                if a["verdict"] == "unknown" and prev is not None and prev[0] != "unknown":
                    self.db.execute(
                        "UPDATE verdicts SET stale = 1, stale_since = coalesce(stale_since, ?) "
                        "WHERE code = ? AND dimension = ?", [a["checked_at"], a["code"], a["dimension"]])
                    continue
                self.db.execute(
                    "INSERT INTO verdicts (code, dimension, verdict, checked_at, stale, stale_since, attempt_id, "
                    "details) VALUES (?, ?, ?, ?, 0, NULL, ?, ?) ON CONFLICT (code, dimension) DO UPDATE SET "
                    "verdict = excluded.verdict, checked_at = excluded.checked_at, stale = 0, "
                    "stale_since = NULL, attempt_id = excluded.attempt_id, details = excluded.details",
                    [a["code"], a["dimension"], a["verdict"], a["checked_at"], attempt_id,
                     json.dumps(a.get("details", {}), ensure_ascii=False)])
        return ids

    def latest_verdicts(self, as_of: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """{code: {"linkage": {...}, "payment": {...}}}: verdict, checked_at, stale flag, details.

        With `as_of`, rebuilt from the attempts made up to then (the last non-unknown one).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        if as_of is None:
            cur = self.db.execute("SELECT code, dimension, verdict, checked_at, stale, details FROM verdicts")
        else:
            cur = self.db.execute(
                "SELECT a.code, a.dimension, a.verdict, a.checked_at, "
                "EXISTS (SELECT 1 FROM probe_attempts u WHERE u.code = a.code AND u.dimension = a.dimension "
                "AND u.verdict = 'unknown' AND u.id > a.id AND u.checked_at <= ?) AS stale, a.details "
                "FROM probe_attempts a JOIN (SELECT code, dimension, max(id) AS id FROM probe_attempts "
                "WHERE checked_at <= ? AND verdict != 'unknown' GROUP BY code, dimension) last "
                "ON last.id = a.id", [as_of, as_of])
        for code, dimension, verdict, checked_at, stale, details in cur.fetchall():
            out.setdefault(code, {})[dimension] = {"verdict": verdict, "checked_at": checked_at,
                                                   "stale": bool(stale), "details": json.loads(details)}
        return out

    def verdicts_for(self, code: str) -> dict[str, dict[str, Any]]:
        """The latest verdict of each dimension for one procedure (missing dimensions absent)."""
        cur = self.db.execute("SELECT dimension, verdict, checked_at, stale, details FROM verdicts "
                              "WHERE code = ?", [code])
        return {d: {"verdict": v, "checked_at": c, "stale": bool(s), "details": json.loads(det)}
                for d, v, c, s, det in cur.fetchall()}

    def probe_history(self, code: str, *, dimension: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[dict[str, Any]]:
        """Every attempt made for one procedure, newest first, with its evidence."""
        where, params = ["code = ?"], [code]
        if dimension:
            where.append("dimension = ?")
            params.append(dimension)
        cur = self.db.execute(f"SELECT {', '.join(ATTEMPT_COLS)} FROM probe_attempts WHERE "
                              f"{' AND '.join(where)} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [_attempt(r) for r in cur.fetchall()]

    def run_attempts(self, run_id: int) -> list[dict[str, Any]]:
        """Every attempt of one run, in the order they were stored."""
        cur = self.db.execute(f"SELECT {', '.join(ATTEMPT_COLS)} FROM probe_attempts WHERE run_id = ? "
                              "ORDER BY id", [run_id])
        return [_attempt(r) for r in cur.fetchall()]

    def probe_stats(self) -> dict[str, Any]:
        """Counts for monitoring: verdicts, stored attempts, procedures, last finished sweep."""
        verdicts = {(d, v, s): n for d, v, s, n in self.db.execute(
            "SELECT dimension, verdict, stale, count(*) FROM verdicts GROUP BY 1, 2, 3").fetchall()}
        attempts = {(d, v): n for d, v, n in self.db.execute(
            "SELECT dimension, verdict, count(*) FROM probe_attempts GROUP BY 1, 2").fetchall()}
        procedures = dict(self.db.execute("SELECT status, count(*) FROM procedures GROUP BY 1").fetchall())
        last = self.db.execute("SELECT max(finished_at) FROM probe_runs WHERE status != 'running'").fetchone()[0]
        last_ts = datetime.fromisoformat(last).timestamp() if last else None
        return {"verdicts": verdicts, "attempts": attempts, "procedures": procedures,
                "last_sweep_finished": last_ts}

    # -- payment callbacks ---------------------------------------------------
    def record_payment(self, *, channel: str, reference: str, code: str | None, amount: str | None,
                       transaction_no: str | None, status: str, payload: Mapping[str, Any]) -> bool:
        """Keep a confirmed payment; False (and nothing written) if this reference is already known."""
        with write_transaction(self.db):
            cur = self.db.execute(
                "INSERT OR IGNORE INTO payments (channel, reference, code, amount, transaction_no, status, "
                "received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [channel, reference, code, amount, transaction_no, status, now_iso(),
                 json.dumps(dict(payload), ensure_ascii=False, sort_keys=True)])
            return cur.rowcount == 1

    def list_payments(self, code: str | None = None) -> list[dict[str, Any]]:
        """Confirmed online payments, newest first (optionally of one procedure)."""
        cols = ("id", "channel", "reference", "code", "amount", "transaction_no", "status", "received_at",
                "payload")
        where, params = ("WHERE code = ?", [code]) if code else ("", [])
        cur = self.db.execute(f"SELECT {', '.join(cols)} FROM payments {where} ORDER BY id DESC", params)
        out = []
        for r in cur.fetchall():
            rec = dict(zip(cols, r))
            rec["payload"] = json.loads(rec["payload"])
            out.append(rec)
        return out

    def record_callback_rejection(self, *, channel: str, reason: str, payload: Any) -> None:
        """Keep a refused (forged or malformed) callback for the audit."""
        # A forged body may hold anything, lone surrogates included: keep it escaped (ASCII).
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        with write_transaction(self.db):
            self.db.execute("INSERT INTO callback_rejections (channel, received_at, reason, payload) "
                            "VALUES (?, ?, ?, ?)", [channel, now_iso(), reason,
                                                    json.dumps(payload, ensure_ascii=True, default=str)])

    def list_callback_rejections(self) -> list[dict[str, Any]]:
        """Refused callbacks, newest first."""
        cols = ("id", "channel", "received_at", "reason", "payload")
        cur = self.db.execute(f"SELECT {', '.join(cols)} FROM callback_rejections ORDER BY id DESC")
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    # -- added for the probe engine (registry.probing) -------------------------
    def mark_stale(self, pairs: Iterable[tuple[str, str]], since: str) -> int:
        """Mark the verdicts of these (code, dimension) pairs stale: a sweep could not re-check them."""
        pairs = list(pairs)
        with write_transaction(self.db):
            cur = self.db.conn.executemany(
                "UPDATE verdicts SET stale = 1, stale_since = coalesce(stale_since, ?) "
                "WHERE code = ? AND dimension = ? AND verdict != 'unknown'",
                [(since, code, dimension) for code, dimension in pairs])
            return cur.rowcount

    def confirm_payment(self, *, channel: str, reference: str, code: str | None, amount: str | None,
                        transaction_no: str | None, status: str, payload: Mapping[str, Any],
                        actor: str, source: str, attempt: Mapping[str, Any] | None = None) -> bool:
        """Keep a verified payment callback, audited, with its probe-style attempt, in one transaction.

        False (and nothing written) when this channel + reference is already known: a callback
        delivered twice changes nothing.
        """
        with write_transaction(self.db):
            new = self.record_payment(channel=channel, reference=reference, code=code, amount=amount,
                                      transaction_no=transaction_no, status=status, payload=payload)
            if not new:
                return False
            self.audit_many([(actor, source, "payment.confirmed", "payment", f"{channel}:{reference}", None,
                              {"channel": channel, "reference": reference, "code": code, "amount": amount,
                               "transaction_no": transaction_no, "status": status})])
            if attempt is not None:
                self.record_attempts([attempt])
        return True

    def reject_callback(self, *, channel: str, reason: str, payload: Any, reference: str,
                        actor: str, source: str) -> None:
        """Keep a refused (forged or malformed) callback and audit the refusal, in one transaction."""
        with write_transaction(self.db):
            self.record_callback_rejection(channel=channel, reason=reason, payload=payload)
            self.audit_many([(actor, source, "payment.callback_rejected", "payment",
                              f"{channel}:{reference}", None, {"reason": reason})])

    def run_counts(self, run_id: int) -> dict[str, int]:
        """Verdict counts of one run's stored attempts ("linkage.integrated": n, ...), with
        "linkage.level_mismatch" for integrated procedures found at another level."""
        counts: dict[str, int] = {}
        for dimension, verdict, n in self.db.execute(
                "SELECT dimension, verdict, count(*) FROM probe_attempts WHERE run_id = ? GROUP BY 1, 2",
                [run_id]).fetchall():
            counts[f"{dimension}.{verdict}"] = n
        mismatched = self.db.execute(
            "SELECT count(*) FROM probe_attempts WHERE run_id = ? AND dimension = 'linkage' "
            "AND json_extract(details, '$.level_mismatch') = 1", [run_id]).fetchone()[0]
        if mismatched:
            counts["linkage.level_mismatch"] = mismatched
        return counts

    def count_runs(self) -> int:
        """How many probe runs exist."""
        return self.db.execute("SELECT count(*) FROM probe_runs").fetchone()[0]

    def count_probe_history(self, code: str, *, dimension: str | None = None) -> int:
        """How many attempts one procedure has (of one dimension, if given)."""
        where, params = ["code = ?"], [code]
        if dimension:
            where.append("dimension = ?")
            params.append(dimension)
        return self.db.execute(f"SELECT count(*) FROM probe_attempts WHERE {' AND '.join(where)}",
                               params).fetchone()[0]
