"""Dossiers, ratings, their exact daily rollups, the DVCQG sync queue and the relay outbox.

Every write computes, for each dossier it touches, the rollup contribution before and after
(`contribution`) and applies the difference to `dossier_daily` in the same transaction, so the
rollups stay exactly equal to an aggregate over the dossier table (tests/store prove it) and a
report reads only `dossier_daily`.

Which day a counter lands on (Hà Nội dates, `YYYY-MM-DD`):
- received family (`received`, by channel, `online_fee_ok`, `paid_online`): the day received;
- resolved family (status 9 or 10): the day processing finished (`NgayKetThucXuLy`, else the
  day the result was returned); early/on time/late compare that day with the due day;
- `pending_due`: dossiers still in progress, on their due day; `pending_no_due` on the day
  received (or `0000-00-00` when there is none);
- ratings: the day rated. `v_*` twins count only dossiers DVCQG confirmed (`synced`), and
  ratings of such dossiers; `sync_*` count unconfirmed dossiers on the day received.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from .db import VN_TZ, now_iso, write_transaction
from .errors import NotFound, StoreError

COUNTERS = ("received", "recv_direct", "recv_online", "recv_post", "online_fee_ok", "paid_online",
            "resolved", "resolved_early", "resolved_on_time", "resolved_late", "resolved_no_due",
            "pending_due", "pending_no_due", "ratings", "ratings_ok")
SYNC_COUNTERS = ("sync_missing", "sync_behind", "sync_unknown")
COLUMNS = (*COUNTERS, *(f"v_{c}" for c in COUNTERS), *SYNC_COUNTERS)
_INDEX = {c: i for i, c in enumerate(COLUMNS)}
_INDEX_V = {c: _INDEX["v_" + c] for c in COUNTERS}
RESOLVED = (9, 10)
CLOSED = (3, 7, 8, 9, 10)  # refused, withdrawn, stopped, resolved: no longer in progress
SYNC_STATES = ("pending", "synced", "status_behind", "missing", "unknown")
NO_DAY = "0000-00-00"
DOSSIER_COLS = ("mahoso", "code", "status", "channel", "paid_online", "has_fee", "received_at", "due_at",
                "finished_at", "returned_at", "payload", "source", "created_at", "updated_at", "sync_state",
                "sync_checked_at", "sync_remote_status")
_STATE_COLS = ("mahoso", "code", "status", "channel", "paid_online", "has_fee", "received_at", "due_at",
               "finished_at", "returned_at", "sync_state", "payload", "updated_at")
_CHANNEL_COUNTER = {"1": "recv_direct", "2": "recv_online", "3": "recv_post"}


class DossierExists(StoreError):
    """`isUpdating` "False" named dossiers the registry already holds (adapter code "04")."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"dossiers already exist: {', '.join(codes[:20])}")
        self.codes = list(codes)


def payload_text(payload: Mapping[str, Any]) -> str:
    """How a dossier or rating is kept (and compared: an identical resend changes nothing)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _day(moment: str | None) -> str | None:
    return moment[:10] if moment else None


def contribution(d: Mapping[str, Any] | None, r: Mapping[str, Any] | None, *,
                 into: dict[tuple[str, str], list[int]] | None = None,
                 sign: int = 1) -> dict[tuple[str, str], list[int]]:
    """What one dossier (and its rating) adds to `dossier_daily`: {(day, code): counts by COLUMNS},
    added `sign` times into `into` when given (the write path: no intermediate dicts)."""
    out: dict[tuple[str, str], list[int]] = {} if into is None else into
    width = len(COLUMNS)

    def add(day: str, code: str, names: Iterable[str], verified: bool) -> None:
        counts = out.get((day, code))
        if counts is None:
            counts = out[(day, code)] = [0] * width
        for name in names:
            counts[_INDEX[name]] += sign
            if verified:
                counts[_INDEX_V[name]] += sign

    synced = d is not None and d["sync_state"] == "synced"
    if d is not None:
        code, status = d["code"], int(d["status"])
        received = _day(d["received_at"])
        if received:
            names = ["received"]
            if d["channel"] in _CHANNEL_COUNTER:
                names.append(_CHANNEL_COUNTER[d["channel"]])
            if d["channel"] == "2" and (not d["has_fee"] or d["paid_online"]):
                names.append("online_fee_ok")
            if d["paid_online"]:
                names.append("paid_online")
            add(received, code, names, synced)
        if status in RESOLVED:
            finished = _day(d["finished_at"]) or _day(d["returned_at"])
            due = _day(d["due_at"])
            if finished:
                if not due:
                    kind = "resolved_no_due"
                elif finished < due:
                    kind = "resolved_early"
                elif finished == due:
                    kind = "resolved_on_time"
                else:
                    kind = "resolved_late"
                add(finished, code, ("resolved", kind), synced)
        elif status not in CLOSED:
            due = _day(d["due_at"])
            if due:
                add(due, code, ("pending_due",), synced)
            else:
                add(received or NO_DAY, code, ("pending_no_due",), synced)
        state = d["sync_state"]
        if state in ("missing", "status_behind", "unknown"):
            name = {"missing": "sync_missing", "status_behind": "sync_behind", "unknown": "sync_unknown"}[state]
            add(received or NO_DAY, code, (name,), False)
    if r is not None:
        names = ["ratings"] + (["ratings_ok"] if r["score"] in ("1", "2") else [])
        add(_day(r["rated_at"]) or NO_DAY, r["code"], names, synced)
    return out


_UPSERT_ROLLUP = (
    f"INSERT INTO dossier_daily (day, code, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 2))}) "
    f"ON CONFLICT (day, code) DO UPDATE SET " + ", ".join(f"{c} = {c} + excluded.{c}" for c in COLUMNS))
_UPSERT_MONTHLY = _UPSERT_ROLLUP.replace("dossier_daily (day,", "dossier_monthly (month,").replace(
    "ON CONFLICT (day, code)", "ON CONFLICT (month, code)")
_UPSERT_DOSSIER = (
    f"INSERT INTO dossiers ({', '.join(DOSSIER_COLS)}) VALUES ({', '.join('?' * len(DOSSIER_COLS))}) "
    "ON CONFLICT (mahoso) DO UPDATE SET " + ", ".join(
        f"{c} = excluded.{c}" for c in DOSSIER_COLS if c not in ("mahoso", "created_at", "source")))


_INSERT_DOSSIER = f"INSERT INTO dossiers ({', '.join(DOSSIER_COLS)}) VALUES ({', '.join('?' * len(DOSSIER_COLS))})"
# What `contribution` adds for a new, unrated, unchecked dossier, as one set-based aggregate over
# the rows just inserted (rowid > :mark): the bulk path. Both paths are checked against the raw
# aggregate by tests/dossiers/test_rollups.py.
_FIN = "substr(coalesce(finished_at, returned_at), 1, 10)"
_DUE = "substr(due_at, 1, 10)"
_OPEN = "status NOT IN (3, 7, 8, 9, 10)"
_FRESH_COLS = ("received", "recv_direct", "recv_online", "recv_post", "online_fee_ok", "paid_online", "resolved",
               "resolved_early", "resolved_on_time", "resolved_late", "resolved_no_due", "pending_due",
               "pending_no_due")
_FRESH_UNION = f"""
    SELECT substr(received_at, 1, 10) AS day, code, 1 AS received, channel = '1' AS recv_direct,
           channel = '2' AS recv_online, channel = '3' AS recv_post,
           channel = '2' AND (has_fee = 0 OR paid_online = 1) AS online_fee_ok, paid_online,
           0 AS resolved, 0 AS resolved_early, 0 AS resolved_on_time, 0 AS resolved_late, 0 AS resolved_no_due,
           0 AS pending_due, 0 AS pending_no_due
    FROM dossiers WHERE rowid > :mark AND received_at IS NOT NULL
    UNION ALL
    SELECT {_FIN}, code, 0, 0, 0, 0, 0, 0, 1, due_at IS NOT NULL AND {_FIN} < {_DUE},
           due_at IS NOT NULL AND {_FIN} = {_DUE}, due_at IS NOT NULL AND {_FIN} > {_DUE}, due_at IS NULL, 0, 0
    FROM dossiers WHERE rowid > :mark AND status IN (9, 10) AND coalesce(finished_at, returned_at) IS NOT NULL
    UNION ALL
    SELECT {_DUE}, code, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM dossiers WHERE rowid > :mark AND {_OPEN} AND due_at IS NOT NULL
    UNION ALL
    SELECT coalesce(substr(received_at, 1, 10), '{NO_DAY}'), code, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM dossiers WHERE rowid > :mark AND {_OPEN} AND due_at IS NULL"""
_FRESH_ROLLUPS = tuple(
    f"INSERT INTO {table} ({key}, code, {', '.join(_FRESH_COLS)}) "
    f"SELECT {expr}, code, {', '.join(f'sum({c})' for c in _FRESH_COLS)} FROM ({_FRESH_UNION}) WHERE true "
    f"GROUP BY {expr}, code ON CONFLICT ({key}, code) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _FRESH_COLS)
    for table, key, expr in (("dossier_daily", "day", "day"), ("dossier_monthly", "month", "substr(day, 1, 7)")))


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class DossiersMixin:
    """Dossier operations; mixed into `Store`."""

    db: Any

    # -- reading state ---------------------------------------------------------
    def _dossier_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for part in _chunks(list(dict.fromkeys(keys))):
            sql = f"SELECT {', '.join(_STATE_COLS)} FROM dossiers WHERE mahoso IN ({', '.join('?' * len(part))})"
            for row in self.db.execute(sql, list(part)):
                out[row[0]] = dict(zip(_STATE_COLS, row))
        return out

    def _rating_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for part in _chunks(list(dict.fromkeys(keys))):
            sql = ("SELECT mahoso, code, score, rated_at, payload FROM dossier_ratings "
                   f"WHERE mahoso IN ({', '.join('?' * len(part))})")
            for row in self.db.execute(sql, list(part)):
                out[row[0]] = dict(zip(("mahoso", "code", "score", "rated_at", "payload"), row))
        return out

    def _apply_rollup(self, delta: dict[tuple[str, str], list[int]]) -> None:
        rows = [(day, code, *counts) for (day, code), counts in delta.items() if any(counts)]
        if not rows:
            return
        self.db.conn.executemany(_UPSERT_ROLLUP, rows)
        monthly: dict[tuple[str, str], list[int]] = {}
        for day, code, *counts in rows:
            acc = monthly.get((day[:7], code))
            if acc is None:
                monthly[(day[:7], code)] = list(counts)
            else:
                for i, n in enumerate(counts):
                    acc[i] += n
        self.db.conn.executemany(_UPSERT_MONTHLY, [(m, c, *counts) for (m, c), counts in monthly.items()])

    # -- writes ------------------------------------------------------------------
    def write_dossiers(self, rows: Sequence[Mapping[str, Any]], *, create_only: bool, source: str,
                       relay: bool = False, is_updating: bool = True) -> dict[str, int]:
        """Insert or replace dossiers (rows as `registry.dossiers` normalises them), all or nothing.

        `create_only`: DossierExists when any is already held (nothing written). An unchanged
        dossier (same payload) is left alone: its DVCQG check stays valid. `relay` queues each
        written dossier in the outbox to DVCQG in the same transaction.
        """
        now = now_iso()
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with write_transaction(self.db):
            keys = [r["mahoso"] for r in rows]
            old = self._dossier_states(keys)
            if create_only:
                seen: set[str] = set()
                twice = {k for k in keys if k in seen or seen.add(k)}
                exists = sorted({k for k in keys if k in old} | twice)
                if exists:
                    raise DossierExists(exists)
            ratings = self._rating_states(keys)
            delta: dict[tuple[str, str], list[int]] = {}
            writes = []
            fresh = []
            outbox = []
            seen_once: dict[str, int] = {}
            for k in keys:
                seen_once[k] = seen_once.get(k, 0) + 1
            for r in rows:
                key = r["mahoso"]
                payload = r.get("payload_text") or payload_text(r["payload"])
                before = old.get(key)
                if before is None and key not in ratings and seen_once[key] == 1:
                    # A new dossier without rating: its rollups are aggregated in SQL below.
                    counts["created"] += 1
                    fresh.append((key, r["code"], int(r["status"]), r["channel"], int(bool(r["paid_online"])),
                                  int(bool(r["has_fee"])), r["received_at"], r["due_at"], r["finished_at"],
                                  r["returned_at"], payload, source, now, now, "pending", None, None))
                    if relay:
                        outbox.append((key, int(is_updating), payload, now))
                    continue
                if before is not None and before["payload"] == payload:
                    counts["unchanged"] += 1
                    continue
                after = {**r, "payload": payload, "sync_state": "pending", "updated_at": now}
                rating = ratings.get(key)
                # Before: the stored dossier with its rating, or the rating alone (rated first).
                contribution(before, rating, into=delta, sign=-1)
                contribution(after, rating, into=delta, sign=+1)
                old[key] = after
                counts["updated" if before is not None else "created"] += 1
                writes.append((key, r["code"], int(r["status"]), r["channel"], int(bool(r["paid_online"])),
                               int(bool(r["has_fee"])), r["received_at"], r["due_at"], r["finished_at"],
                               r["returned_at"], payload, source, now, now, "pending", None, None))
                if relay:
                    outbox.append((key, int(before is not None or is_updating), payload, now))
            if fresh:
                mark = self.db.execute("SELECT coalesce(max(rowid), 0) FROM dossiers").fetchone()[0]
                self.db.conn.executemany(_INSERT_DOSSIER, fresh)
                for sql in _FRESH_ROLLUPS:
                    self.db.execute(sql, {"mark": mark})
            if writes:
                self.db.conn.executemany(_UPSERT_DOSSIER, writes)
            self._apply_rollup(delta)
            if outbox:
                self.db.conn.executemany(
                    "INSERT INTO dossier_outbox (mahoso, is_updating, body, created_at) VALUES (?, ?, ?, ?)", outbox)
        return counts

    def write_ratings(self, rows: Sequence[Mapping[str, Any]], *, source: str) -> dict[str, int]:
        """Insert or replace ratings (one per dossier; a new rating replaces the earlier one)."""
        now = now_iso()
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with write_transaction(self.db):
            keys = [r["mahoso"] for r in rows]
            dossiers = self._dossier_states(keys)
            old = self._rating_states(keys)
            delta: dict[tuple[str, str], list[int]] = {}
            writes = []
            for r in rows:
                key = r["mahoso"]
                payload = r.get("payload_text") or payload_text(r["payload"])
                before = old.get(key)
                if before is not None and before["payload"] == payload:
                    counts["unchanged"] += 1
                    continue
                after = {"mahoso": key, "code": r["code"], "score": r["score"], "rated_at": r["rated_at"],
                         "payload": payload}
                d = dossiers.get(key)
                # The dossier's own counters cancel out: only the rating's part changes.
                if before is not None:
                    contribution(d, before, into=delta, sign=-1)
                else:
                    contribution(d, None, into=delta, sign=-1)
                contribution(d, after, into=delta, sign=+1)
                old[key] = after
                counts["updated" if before is not None else "created"] += 1
                writes.append((key, r["code"], r["score"], r["rated_at"], payload, source, now))
            if writes:
                self.db.conn.executemany(
                    "INSERT INTO dossier_ratings (mahoso, code, score, rated_at, payload, source, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mahoso) DO UPDATE SET code = excluded.code, "
                    "score = excluded.score, rated_at = excluded.rated_at, payload = excluded.payload, "
                    "updated_at = excluded.updated_at", writes)
            self._apply_rollup(delta)
        return counts

    def delete_dossier(self, mahoso: str) -> None:
        """Remove a dossier (its rating stays, now counted as a rating of an unconfirmed dossier)."""
        with write_transaction(self.db):
            before = self._dossier_states([mahoso]).get(mahoso)
            if before is None:
                raise NotFound(f"no dossier {mahoso!r}")
            rating = self._rating_states([mahoso]).get(mahoso)
            delta: dict[tuple[str, str], list[int]] = {}
            contribution(before, rating, into=delta, sign=-1)
            contribution(None, rating, into=delta, sign=+1)
            self.db.execute("DELETE FROM dossiers WHERE mahoso = ?", [mahoso])
            self._apply_rollup(delta)

    def get_dossier(self, mahoso: str) -> dict[str, Any] | None:
        """One stored dossier with its sync state, or None."""
        row = self.db.execute(f"SELECT {', '.join(DOSSIER_COLS)} FROM dossiers WHERE mahoso = ?",
                              [mahoso]).fetchone()
        if row is None:
            return None
        rec = dict(zip(DOSSIER_COLS, row))
        rec["payload"] = json.loads(rec["payload"])
        return rec

    # -- DVCQG verification ----------------------------------------------------------
    def dossier_check_queue(self, limit: int) -> list[dict[str, Any]]:
        """Dossiers to look up on DVCQG: changed since their last check, or not answered; oldest first."""
        rows = self.db.execute(
            "SELECT mahoso, status, updated_at FROM dossiers WHERE sync_state IN ('pending', 'unknown') "
            "ORDER BY updated_at, mahoso LIMIT ?", [limit]).fetchall()
        return [{"mahoso": m, "status": s, "updated_at": u} for m, s, u in rows]

    def dossier_queue_size(self) -> int:
        """How many dossiers wait for a DVCQG check."""
        return self.db.execute("SELECT count(*) FROM dossiers WHERE sync_state IN ('pending', 'unknown')").fetchone()[0]

    def record_dossier_checks(self, results: Sequence[Mapping[str, Any]]) -> int:
        """Store check results (`mahoso`, `state`, `remote_status`, `checked_at`, `updated_at` seen
        when queued). A dossier changed since it was queued keeps `pending`; `unknown` never
        replaces a real answer. Returns how many were recorded."""
        recorded = 0
        with write_transaction(self.db):
            current = self._dossier_states([r["mahoso"] for r in results])
            ratings = self._rating_states([r["mahoso"] for r in results])
            delta: dict[tuple[str, str], list[int]] = {}
            updates = []
            for res in results:
                d = current.get(res["mahoso"])
                if d is None or d["updated_at"] != res["updated_at"]:
                    continue
                state = res["state"]
                if state not in SYNC_STATES or state == "pending":
                    raise ValueError(f"not a check result: {state!r}")
                if state == "unknown" and d["sync_state"] not in ("pending", "unknown"):
                    continue
                after = {**d, "sync_state": state}
                rating = ratings.get(res["mahoso"])
                contribution(d, rating, into=delta, sign=-1)
                contribution(after, rating, into=delta, sign=+1)
                current[res["mahoso"]] = after
                updates.append((state, res["checked_at"], res.get("remote_status"), res["mahoso"]))
                recorded += 1
            if updates:
                self.db.conn.executemany("UPDATE dossiers SET sync_state = ?, sync_checked_at = ?, "
                                         "sync_remote_status = ? WHERE mahoso = ?", updates)
            self._apply_rollup(delta)
        return recorded

    def unsynced_dossiers(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dossiers DVCQG does not have as we do (missing, status behind), most recent first."""
        rows = self.db.execute(
            "SELECT mahoso, code, status, received_at, sync_state, sync_remote_status, sync_checked_at "
            "FROM dossiers WHERE sync_state IN ('missing', 'status_behind') ORDER BY received_at DESC, mahoso "
            "LIMIT ?", [limit]).fetchall()
        cols = ("mahoso", "code", "status", "received_at", "sync_state", "remote_status", "checked_at")
        return [dict(zip(cols, r)) for r in rows]

    # -- rollup reads (reports) ------------------------------------------------------
    def _sum_counts(self, table: str, key: str, start: str, end: str, names: Sequence[str],
                    out: dict[str, dict[str, int]]) -> None:
        sql = (f"SELECT code, {', '.join(f'sum({n})' for n in names)} FROM {table} "
               f"WHERE {key} >= ? AND {key} <= ? GROUP BY code")
        plain = (*COUNTERS, *SYNC_COUNTERS)
        for row in self.db.execute(sql, [start, end]):
            acc = out.setdefault(row[0], dict.fromkeys(plain, 0))
            for name, value in zip(plain, row[1:]):
                acc[name] += value or 0

    def dossier_period_counts(self, day_from: str, day_to: str, *, verified: bool = False,
                              as_of: str | None = None) -> dict[str, dict[str, int]]:
        """Per procedure code, the rollup counters summed over [day_from, day_to] (inclusive).
        With `verified`, the `v_` twins under the plain names. Whole months come from
        `dossier_monthly`, the partial months at either end from `dossier_daily`."""
        names = [("v_" + c) if verified else c for c in COUNTERS] + list(SYNC_COUNTERS)
        out: dict[str, dict[str, int]] = {}
        for kind, start, end in _split_period(day_from, day_to):
            if kind == "months":
                self._sum_counts("dossier_monthly", "month", start, end, names, out)
            else:
                self._sum_counts("dossier_daily", "day", start, end, names, out)
        return out

    def dossier_pending_counts(self, today: str, *, verified: bool = False) -> dict[str, dict[str, int]]:
        """Per code, dossiers in progress now: `within` (due today or later, or no due day) and `past_due`."""
        p = "v_" if verified else ""
        out: dict[str, dict[str, int]] = {}

        def add(rows: Any) -> None:
            for code, within, late in rows:
                acc = out.setdefault(code, {"within": 0, "past_due": 0})
                acc["within"] += within or 0
                acc["past_due"] += late or 0

        month = today[:7]
        # Other months from the monthly rollup, this month day by day.
        add(self.db.execute(
            f"SELECT code, sum(CASE WHEN month > ? THEN {p}pending_due ELSE 0 END) + sum({p}pending_no_due), "
            f"sum(CASE WHEN month < ? THEN {p}pending_due ELSE 0 END) FROM dossier_monthly "
            f"WHERE month != ? GROUP BY code", [month, month, month]))
        add(self.db.execute(
            f"SELECT code, sum(CASE WHEN day >= ? THEN {p}pending_due ELSE 0 END) + sum({p}pending_no_due), "
            f"sum(CASE WHEN day < ? THEN {p}pending_due ELSE 0 END) FROM dossier_daily "
            f"WHERE day >= ? AND day <= ? GROUP BY code", [today, today, month + "-01", month + "-31"]))
        return {c: v for c, v in out.items() if v["within"] or v["past_due"]}

    def dossier_days(self) -> tuple[str | None, str | None]:
        """The first and last month with dossiers received (as days; only their months are exact)."""
        first = self.db.execute("SELECT month FROM dossier_monthly WHERE month > '0000-00' AND received > 0 "
                                "ORDER BY month LIMIT 1").fetchone()
        last = self.db.execute("SELECT month FROM dossier_monthly WHERE received > 0 ORDER BY month DESC "
                               "LIMIT 1").fetchone()
        return (first[0] + "-01" if first else None), (last[0] + "-28" if last else None)

    def dossier_monthly(self, day_from: str, day_to: str) -> list[dict[str, Any]]:
        """Month by month over the period: received, received online, resolved, late, ratings."""
        sql = ("SELECT month, sum(received), sum(recv_online), sum(resolved), "
               "sum(resolved_late), sum(v_received), sum(ratings), sum(ratings_ok) FROM dossier_monthly "
               "WHERE month >= ? AND month <= ? GROUP BY month ORDER BY month")
        cols = ("month", "received", "recv_online", "resolved", "resolved_late", "v_received", "ratings",
                "ratings_ok")
        return [dict(zip(cols, r)) for r in self.db.execute(sql, [day_from[:7], day_to[:7]])]

    def rollup_rows(self) -> dict[tuple[str, str], tuple[int, ...]]:
        """Every non-zero rollup row (for checks and tests)."""
        out = {}
        for row in self.db.execute(f"SELECT day, code, {', '.join(COLUMNS)} FROM dossier_daily"):
            if any(row[2:]):
                out[(row[0], row[1])] = tuple(row[2:])
        return out

    # -- the raw aggregate: the same figures from the dossier table (the rollups' yardstick) -----
    def dossier_raw_counts(self, day_from: str, day_to: str, *, verified: bool = False) -> dict[str, dict[str, int]]:
        """Per code, the period's main counters computed by scanning `dossiers` and `dossier_ratings`."""
        ok = "sync_state = 'synced'" if verified else "1"
        fin = "substr(coalesce(finished_at, returned_at), 1, 10)"
        due = "substr(due_at, 1, 10)"
        sql = f"""
            SELECT code, sum(received), sum(recv_online), sum(online_fee_ok), sum(resolved), sum(early),
                   sum(on_time), sum(late), sum(ratings), sum(ratings_ok)
            FROM (
              SELECT code, 1 AS received, channel = '2' AS recv_online,
                     channel = '2' AND (has_fee = 0 OR paid_online = 1) AS online_fee_ok,
                     0 AS resolved, 0 AS early, 0 AS on_time, 0 AS late, 0 AS ratings, 0 AS ratings_ok
              FROM dossiers WHERE {ok} AND substr(received_at, 1, 10) BETWEEN :a AND :b
              UNION ALL
              SELECT code, 0, 0, 0, 1, {fin} < {due}, {fin} = {due}, {fin} > {due}, 0, 0
              FROM dossiers WHERE {ok} AND status IN (9, 10) AND {fin} BETWEEN :a AND :b
              UNION ALL
              SELECT r.code, 0, 0, 0, 0, 0, 0, 0, 1, r.score IN ('1', '2')
              FROM dossier_ratings r LEFT JOIN dossiers d ON d.mahoso = r.mahoso
              WHERE {'d.sync_state = ' + repr('synced') if verified else '1'}
                AND substr(r.rated_at, 1, 10) BETWEEN :a AND :b
            ) GROUP BY code"""
        names = ("received", "recv_online", "online_fee_ok", "resolved", "resolved_early", "resolved_on_time",
                 "resolved_late", "ratings", "ratings_ok")
        return {row[0]: {n: v or 0 for n, v in zip(names, row[1:])}
                for row in self.db.execute(sql, {"a": day_from, "b": day_to})}

    def dossier_procedures(self, codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """What the dossier report needs of registered procedures (all, or those of `codes`)."""
        cols = ("code", "name", "service_level", "status", "agency", "agencies", "field", "levels")
        sql = f"SELECT {', '.join(cols)} FROM procedures"
        rows: list[Any] = []
        if codes is None:
            rows = self.db.execute(sql).fetchall()
        else:
            for part in _chunks(sorted(set(codes))):
                rows += self.db.execute(f"{sql} WHERE code IN ({', '.join('?' * len(part))})", list(part)).fetchall()
        out = []
        for row in rows:
            rec = dict(zip(cols, row))
            rec["agencies"] = json.loads(rec["agencies"] or "[]")
            rec["levels"] = json.loads(rec["levels"] or "[]")
            out.append(rec)
        return out

    def bulk_write_dossiers(self, chunks: Iterable[Sequence[Mapping[str, Any]]], *, source: str,
                            relay: bool = False) -> dict[str, int]:
        """Write many chunks of dossiers in ONE transaction (a file import: all or nothing)."""
        total = {"created": 0, "updated": 0, "unchanged": 0}
        with write_transaction(self.db):
            for chunk in chunks:
                for key, n in self.write_dossiers(chunk, create_only=False, source=source, relay=relay).items():
                    total[key] += n
        return total

    def bulk_write_ratings(self, chunks: Iterable[Sequence[Mapping[str, Any]]], *, source: str) -> dict[str, int]:
        """Write many chunks of ratings in ONE transaction."""
        total = {"created": 0, "updated": 0, "unchanged": 0}
        with write_transaction(self.db):
            for chunk in chunks:
                for key, n in self.write_ratings(chunk, source=source).items():
                    total[key] += n
        return total

    # -- relay outbox ------------------------------------------------------------------
    def outbox_pending(self, limit: int) -> list[dict[str, Any]]:
        """Undelivered outbox entries, oldest first."""
        cols = ("id", "mahoso", "is_updating", "body", "created_at", "attempts")
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM dossier_outbox WHERE delivered_at IS NULL "
                               "ORDER BY id LIMIT ?", [limit]).fetchall()
        return [{**dict(zip(cols, r)), "body": json.loads(r[3]), "is_updating": bool(r[2])} for r in rows]

    def outbox_delivered(self, ids: Sequence[int], answer_code: str, at: str) -> None:
        """Mark entries acknowledged by DVCQG."""
        with write_transaction(self.db):
            self.db.conn.executemany(
                "UPDATE dossier_outbox SET delivered_at = ?, answer_code = ?, attempts = attempts + 1, "
                "last_attempt_at = ? WHERE id = ? AND delivered_at IS NULL", [(at, answer_code, at, i) for i in ids])

    def outbox_failed(self, ids: Sequence[int], error: str, at: str) -> None:
        """Record a failed delivery attempt (the entries stay queued)."""
        with write_transaction(self.db):
            self.db.conn.executemany(
                "UPDATE dossier_outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? "
                "WHERE id = ? AND delivered_at IS NULL", [(at, error[:500], i) for i in ids])

    def relay_lease(self, owner: str, seconds: float) -> bool:
        """Take (or renew) the relay lease: one deliverer at a time across processes."""
        now = datetime.now(VN_TZ)
        with write_transaction(self.db):
            row = self.db.execute("SELECT value FROM meta WHERE key = 'dossier_relay_lease'").fetchone()
            if row:
                held = json.loads(row[0])
                if held["owner"] != owner and datetime.fromisoformat(held["until"]) > now:
                    return False
            until = (now + timedelta(seconds=seconds)).isoformat()
            self.db.execute("INSERT INTO meta (key, value) VALUES ('dossier_relay_lease', ?) ON CONFLICT (key) "
                            "DO UPDATE SET value = excluded.value", [json.dumps({"owner": owner, "until": until})])
        return True

    def relay_release(self, owner: str) -> None:
        """Give the relay lease back (only its holder can)."""
        with write_transaction(self.db):
            self.db.execute("DELETE FROM meta WHERE key = 'dossier_relay_lease' "
                            "AND json_extract(value, '$.owner') = ?", [owner])

    def outbox_summary(self) -> dict[str, Any]:
        """The queue as an operator sees it: size, oldest entry, delivered so far, last error."""
        queued, oldest, attempts = self.db.execute(
            "SELECT count(*), min(created_at), max(attempts) FROM dossier_outbox WHERE delivered_at IS NULL"
        ).fetchone()
        delivered = self.db.execute("SELECT count(*) FROM dossier_outbox WHERE delivered_at IS NOT NULL").fetchone()[0]
        last = self.db.execute("SELECT last_error, last_attempt_at FROM dossier_outbox WHERE delivered_at IS NULL "
                               "AND last_error IS NOT NULL ORDER BY id LIMIT 1").fetchone()
        return {"queued": queued, "oldest_created_at": oldest, "max_attempts": attempts or 0,
                "delivered": delivered, "last_error": last[0] if last else None,
                "last_attempt_at": last[1] if last else None}

    def outbox_entries(self, *, delivered: bool | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Outbox entries in order (all, delivered or queued)."""
        where = "" if delivered is None else ("WHERE delivered_at IS NOT NULL" if delivered
                                               else "WHERE delivered_at IS NULL")
        cols = ("id", "mahoso", "is_updating", "created_at", "attempts", "delivered_at", "answer_code", "last_error")
        return [dict(zip(cols, r)) for r in self.db.execute(
            f"SELECT {', '.join(cols)} FROM dossier_outbox {where} ORDER BY id LIMIT ?", [limit])]

    def unregistered_dossier_codes(self, day_from: str, day_to: str) -> list[dict[str, Any]]:
        """Codes with dossiers in the period that are not registered procedures, with counts."""
        counts = self.dossier_period_counts(day_from, day_to)
        known = {p["code"] for p in self.dossier_procedures(list(counts))}
        return sorted(({"code": c, "received": v["received"]} for c, v in counts.items()
                       if c not in known and v["received"] > 0), key=lambda r: (-r["received"], r["code"]))



def _month_end(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return (nxt - timedelta(days=1)).isoformat()


def _split_period(day_from: str, day_to: str) -> list[tuple[str, str, str]]:
    """[day_from, day_to] as ("days", a, b) edges and one ("months", first, last) middle."""
    if day_to < day_from:
        return []
    parts: list[tuple[str, str, str]] = []
    first_month = day_from[:7] if day_from[8:] == "01" else _next_month(day_from[:7])
    last_month = day_to[:7] if day_to == _month_end(day_to[:7]) else _prev_month(day_to[:7])
    if first_month > last_month:
        return [("days", day_from, day_to)]
    if day_from < first_month + "-01":
        parts.append(("days", day_from, _month_end(day_from[:7])))
    parts.append(("months", first_month, last_month))
    if day_to > _month_end(last_month):
        parts.append(("days", _next_month(last_month) + "-01", day_to))
    return parts


def _next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _prev_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"
