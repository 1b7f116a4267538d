"""Alerts: confirmation state, events, subscriptions and the delivery outbox (the SQL only).

The rules (what a transition is, who receives what, when to retry) live in `registry.alerts`;
this module stores what they decide, each decision in one transaction with the cursor it
consumed, so an event is written exactly once even when two processes detect at once.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping, Sequence

from .db import now_iso, write_transaction
from .errors import NotFound, StoreError

EVENT_COLS = ("id", "type", "dedupe_key", "code", "dimension", "agencies", "verdict", "previous",
              "occurred_at", "details")
SUB_COLS = ("id", "owner", "scope", "agency_key", "procedure_code", "channel", "address", "secret", "mode",
            "event_types", "active", "created_at", "removed_at")
DELIVERY_COLS = ("id", "event_id", "subscription_id", "channel", "status", "attempts", "next_attempt_at",
                 "lease_until", "lease_owner", "last_error", "created_at", "delivered_at")
ATTEMPT_CURSOR = "alerts.attempt_cursor"
RUN_CURSOR = "alerts.run_cursor"


class CursorMoved(StoreError):
    """Another process consumed the same verdicts first: read again and retry."""


def _event(row: Sequence[Any]) -> dict[str, Any]:
    rec = dict(zip(EVENT_COLS, row))
    rec["agencies"] = json.loads(rec["agencies"])
    rec["details"] = json.loads(rec["details"])
    return rec


def _sub(row: Sequence[Any]) -> dict[str, Any]:
    rec = dict(zip(SUB_COLS, row))
    rec["event_types"] = json.loads(rec["event_types"])
    rec["active"] = bool(rec["active"])
    return rec


def _delivery(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(DELIVERY_COLS, row))


class AlertsMixin:
    """Alert operations; mixed into `Store`."""

    db: Any
    audit_many: Callable[..., None]  # AuditMixin's, on the same Store

    # -- detection inputs ------------------------------------------------------
    def _meta_int(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return int(row[0]) if row else 0

    def alert_cursors(self) -> dict[str, int]:
        """Where detection stopped: the last probe attempt and the last finished run it read."""
        return {"attempt": self._meta_int(ATTEMPT_CURSOR), "run": self._meta_int(RUN_CURSOR)}

    def attempts_after(self, attempt_id: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Stored probe attempts after `attempt_id`, oldest first (id, code, dimension, verdict, checked_at)."""
        cur = self.db.execute("SELECT id, code, dimension, verdict, checked_at FROM probe_attempts WHERE id > ? "
                              "ORDER BY id LIMIT ?", [attempt_id, limit])
        return [dict(zip(("id", "code", "dimension", "verdict", "checked_at"), r)) for r in cur.fetchall()]

    def runs_after(self, run_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """Probe runs after `run_id`, oldest first (id, status, finished_at, message)."""
        cur = self.db.execute("SELECT id, status, finished_at, message FROM probe_runs WHERE id > ? ORDER BY id "
                              "LIMIT ?", [run_id, limit])
        return [dict(zip(("id", "status", "finished_at", "message"), r)) for r in cur.fetchall()]

    def last_finished_run_before(self, run_id: int) -> dict[str, Any] | None:
        """The newest finished run before `run_id` (its status), if any."""
        row = self.db.execute("SELECT id, status FROM probe_runs WHERE id < ? AND status != 'running' "
                              "ORDER BY id DESC LIMIT 1", [run_id]).fetchone()
        return {"id": row[0], "status": row[1]} if row else None

    def alert_states(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """{(subject, dimension): {confirmed, pending, streak, stale_attempt}} for the keys that have one."""
        keys = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for i in range(0, len(keys), 400):
            part = keys[i:i + 400]
            where = " OR ".join(["(subject = ? AND dimension = ?)"] * len(part))
            cur = self.db.execute("SELECT subject, dimension, confirmed, pending, streak, stale_attempt "
                                  f"FROM alert_state WHERE {where}", [v for k in part for v in k])
            for subject, dimension, confirmed, pending, streak, stale in cur.fetchall():
                out[(subject, dimension)] = {"confirmed": confirmed, "pending": pending, "streak": streak,
                                             "stale_attempt": stale}
        return out

    def stale_verdict_candidates(self, older_than: str, dimensions: Sequence[str],
                                 limit: int = 5000) -> list[dict[str, Any]]:
        """Definite verdicts (of these dimensions) of active procedures checked before `older_than`,
        not yet reported stale."""
        marks = ", ".join("?" * len(dimensions))
        cur = self.db.execute(
            "SELECT v.code, v.dimension, v.verdict, v.checked_at, v.attempt_id FROM verdicts v "
            "JOIN procedures p ON p.code = v.code AND p.status = 'active' "
            "LEFT JOIN alert_state s ON s.subject = v.code AND s.dimension = v.dimension "
            f"WHERE v.dimension IN ({marks}) AND v.verdict != 'unknown' AND v.checked_at < ? "
            "AND coalesce(s.stale_attempt, -1) != v.attempt_id "
            "ORDER BY v.code, v.dimension LIMIT ?", [*dimensions, older_than, limit])
        return [dict(zip(("code", "dimension", "verdict", "checked_at", "attempt_id"), r)) for r in cur.fetchall()]

    # -- detection output ------------------------------------------------------
    def commit_alerts(self, *, cursors_before: Mapping[str, int], cursors_after: Mapping[str, int],
                      states: Mapping[tuple[str, str], Mapping[str, Any]],
                      events: Sequence[Mapping[str, Any]]) -> list[int]:
        """Write what detection decided, atomically with the cursors it consumed.

        `states`: {(subject, dimension): {confirmed, pending, streak, stale_attempt}}; `events`:
        {type, dedupe_key, code, dimension, agencies, verdict, previous, occurred_at, details,
        deliveries: [{subscription_id, channel, next_attempt_at}]}. An event whose dedupe key
        exists is skipped with its deliveries. CursorMoved if another process moved a cursor
        first (nothing written). Returns the new event ids.
        """
        now = now_iso()
        ids: list[int] = []
        with write_transaction(self.db):
            for name, key in (("attempt", ATTEMPT_CURSOR), ("run", RUN_CURSOR)):
                if self._meta_int(key) != int(cursors_before[name]):
                    raise CursorMoved(f"{key} moved")
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                                "value = excluded.value", [key, str(int(cursors_after[name]))])
            self.db.conn.executemany(
                "INSERT INTO alert_state (subject, dimension, confirmed, pending, streak, stale_attempt, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subject, dimension) DO UPDATE SET "
                "confirmed = excluded.confirmed, pending = excluded.pending, streak = excluded.streak, "
                "stale_attempt = excluded.stale_attempt, updated_at = excluded.updated_at",
                [(s, d, st.get("confirmed"), st.get("pending"), int(st.get("streak") or 0), st.get("stale_attempt"),
                  now) for (s, d), st in states.items()])
            for ev in events:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO alert_events (type, dedupe_key, code, dimension, agencies, verdict, "
                    "previous, occurred_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [ev["type"], ev["dedupe_key"], ev.get("code"), ev.get("dimension"),
                     json.dumps(list(ev.get("agencies") or []), ensure_ascii=False), ev.get("verdict"),
                     ev.get("previous"), ev["occurred_at"],
                     json.dumps(dict(ev.get("details") or {}), ensure_ascii=False, sort_keys=True)])
                if cur.rowcount != 1:
                    continue
                event_id = cur.lastrowid
                ids.append(event_id)
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO alert_deliveries (event_id, subscription_id, channel, status, attempts, "
                    "next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                    [(event_id, d["subscription_id"], d["channel"], d["next_attempt_at"], now)
                     for d in ev.get("deliveries") or []])
        return ids

    # -- events (the feed) -----------------------------------------------------
    def list_alert_events(self, *, limit: int = 50, offset: int = 0, code: str | None = None,
                          event_type: str | None = None) -> list[dict[str, Any]]:
        """Events, newest first, each with `deliveries`: {status: n} over its outbox rows."""
        where, params = self._event_filter(code, event_type)
        cur = self.db.execute(f"SELECT {', '.join(EVENT_COLS)} FROM alert_events {where} ORDER BY id DESC "
                              "LIMIT ? OFFSET ?", [*params, limit, offset])
        events = [_event(r) for r in cur.fetchall()]
        if events:
            marks = ", ".join("?" * len(events))
            counts: dict[int, dict[str, int]] = {}
            for event_id, channel, status, n in self.db.execute(
                    f"SELECT event_id, channel, status, count(*) FROM alert_deliveries WHERE event_id IN ({marks}) "
                    "GROUP BY 1, 2, 3", [e["id"] for e in events]).fetchall():
                counts.setdefault(event_id, {})[f"{channel}.{status}"] = n
            for e in events:
                e["deliveries"] = counts.get(e["id"], {})
        return events

    def count_alert_events(self, *, code: str | None = None, event_type: str | None = None) -> int:
        """How many events match (see list_alert_events)."""
        where, params = self._event_filter(code, event_type)
        return self.db.execute(f"SELECT count(*) FROM alert_events {where}", params).fetchone()[0]

    @staticmethod
    def _event_filter(code: str | None, event_type: str | None) -> tuple[str, list[Any]]:
        where, params = [], []
        if code:
            where.append("code = ?")
            params.append(code)
        if event_type:
            where.append("(type = ? OR type LIKE ?)")
            params.extend([event_type, f"{event_type}.%"])
        return ("WHERE " + " AND ".join(where)) if where else "", params

    def get_alert_event(self, event_id: int) -> dict[str, Any]:
        """One event; NotFound if absent."""
        row = self.db.execute(f"SELECT {', '.join(EVENT_COLS)} FROM alert_events WHERE id = ?",
                              [event_id]).fetchone()
        if row is None:
            raise NotFound(f"no alert event {event_id}")
        return _event(row)

    # -- subscriptions ---------------------------------------------------------
    def create_subscription(self, sub: Mapping[str, Any], *, actor: str, source: str) -> dict[str, Any]:
        """Store a subscription (audited, the secret never in the audit log); returns it."""
        now = now_iso()
        with write_transaction(self.db):
            cur = self.db.execute(
                "INSERT INTO alert_subscriptions (owner, scope, agency_key, procedure_code, channel, address, secret, "
                "mode, event_types, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                [sub["owner"], sub["scope"], sub.get("agency_key"), sub.get("procedure_code"), sub["channel"],
                 sub["address"], sub.get("secret"), sub.get("mode", "event"),
                 json.dumps(list(sub.get("event_types") or []), ensure_ascii=False), now])
            rec = self.get_subscription(cur.lastrowid)
            self.audit_many([(actor, source, "alert_subscription.created", "alert_subscription", str(rec["id"]),
                              None, {k: v for k, v in rec.items() if k != "secret"})])
        return rec

    def get_subscription(self, sub_id: int) -> dict[str, Any]:
        """One subscription (removed ones too); NotFound if absent."""
        row = self.db.execute(f"SELECT {', '.join(SUB_COLS)} FROM alert_subscriptions WHERE id = ?",
                              [sub_id]).fetchone()
        if row is None:
            raise NotFound(f"no alert subscription {sub_id}")
        return _sub(row)

    def list_subscriptions(self, *, owner: str | None = None, active: bool | None = True,
                           live_owners: bool = False) -> list[dict[str, Any]]:
        """Subscriptions, oldest first (of one owner, if given; with `live_owners`, only those whose
        owner is still an active user: a disabled account hears nothing more)."""
        where: list[str] = []
        params: list[Any] = []
        if live_owners:
            where.append("EXISTS (SELECT 1 FROM users u WHERE u.username = alert_subscriptions.owner AND u.active = 1)")
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if active is not None:
            where.append("active = ?")
            params.append(1 if active else 0)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        cur = self.db.execute(f"SELECT {', '.join(SUB_COLS)} FROM alert_subscriptions {clause} ORDER BY id", params)
        return [_sub(r) for r in cur.fetchall()]

    def remove_subscription(self, sub_id: int, *, actor: str, source: str) -> dict[str, Any]:
        """Deactivate a subscription and cancel what it still had to deliver (audited)."""
        now = now_iso()
        with write_transaction(self.db):
            before = self.get_subscription(sub_id)
            if not before["active"]:
                raise NotFound(f"alert subscription {sub_id} was already removed")
            self.db.execute("UPDATE alert_subscriptions SET active = 0, removed_at = ? WHERE id = ?", [now, sub_id])
            self.db.execute("UPDATE alert_deliveries SET status = 'cancelled', last_error = 'unsubscribed' "
                            "WHERE subscription_id = ? AND status = 'pending'", [sub_id])
            after = self.get_subscription(sub_id)
            self.audit_many([(actor, source, "alert_subscription.removed", "alert_subscription", str(sub_id),
                              {k: v for k, v in before.items() if k != "secret"},
                              {k: v for k, v in after.items() if k != "secret"})])
        return after

    # -- the outbox --------------------------------------------------------------
    def claim_deliveries(self, *, now: str, lease_until: str, owner: str, limit: int = 100) -> list[dict[str, Any]]:
        """Take the due pending deliveries: lease them to `owner` so no other drainer sends them too.

        Each comes with its `event` and `subscription`.
        """
        with write_transaction(self.db):
            cur = self.db.execute(
                f"SELECT {', '.join('d.' + c for c in DELIVERY_COLS)} FROM alert_deliveries d "
                "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
                "AND (d.lease_until IS NULL OR d.lease_until < ?) "
                "ORDER BY d.next_attempt_at, d.id LIMIT ?", [now, now, limit])
            rows = [_delivery(r) for r in cur.fetchall()]
            if not rows:
                return []
            self.db.conn.executemany("UPDATE alert_deliveries SET lease_until = ?, lease_owner = ? WHERE id = ?",
                                     [(lease_until, owner, r["id"]) for r in rows])
        events = {e: self.get_alert_event(e) for e in {r["event_id"] for r in rows}}
        subs = {s: self.get_subscription(s) for s in {r["subscription_id"] for r in rows}}
        for r in rows:
            r["event"] = events[r["event_id"]]
            r["subscription"] = subs[r["subscription_id"]]
        return rows

    def renew_lease(self, ids: Sequence[int], *, owner: str, lease_until: str) -> bool:
        """Extend `owner`'s lease on these rows just before sending them; False if any of them is no
        longer pending under that lease (another drainer took it over after it lapsed: do not send)."""
        marks = ", ".join("?" * len(ids))
        with write_transaction(self.db):
            cur = self.db.execute(f"UPDATE alert_deliveries SET lease_until = ? WHERE id IN ({marks}) "
                                  "AND lease_owner = ? AND status = 'pending'", [lease_until, *ids, owner])
            if cur.rowcount != len(ids):
                self.db.execute(f"UPDATE alert_deliveries SET lease_until = NULL, lease_owner = NULL "
                                f"WHERE id IN ({marks}) AND lease_owner = ?", [*ids, owner])
                return False
        return True

    def finish_deliveries(self, ids: Sequence[int], *, delivered: bool, error: str = "",
                          next_attempt_at: str | None = None, give_up: bool = False, at: str | None = None) -> int:
        """Record the outcome of one sending (a digest sends several rows at once).

        Delivered: marked delivered (only if still pending: never counted twice). Failed: attempts+1
        and either retried at `next_attempt_at` or, with `give_up`, marked failed for good.
        """
        at = at or now_iso()
        marks = ", ".join("?" * len(ids))
        with write_transaction(self.db):
            if delivered:
                cur = self.db.execute(
                    f"UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, "
                    f"lease_until = NULL, lease_owner = NULL, last_error = '' WHERE id IN ({marks}) "
                    "AND status = 'pending'", [at, *ids])
            else:
                cur = self.db.execute(
                    f"UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, lease_until = NULL, "
                    f"lease_owner = NULL, "
                    f"status = CASE WHEN ? THEN 'failed' ELSE status END, "
                    f"next_attempt_at = coalesce(?, next_attempt_at) WHERE id IN ({marks}) AND status = 'pending'",
                    [error[:1000], 1 if give_up else 0, next_attempt_at, *ids])
            return cur.rowcount

    def list_deliveries(self, *, event_id: int | None = None, subscription_id: int | None = None,
                        status: str | None = None) -> list[dict[str, Any]]:
        """Outbox rows, oldest first, optionally filtered."""
        where, params = [], []
        for col, val in (("event_id", event_id), ("subscription_id", subscription_id), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        cur = self.db.execute(f"SELECT {', '.join(DELIVERY_COLS)} FROM alert_deliveries {clause} ORDER BY id", params)
        return [_delivery(r) for r in cur.fetchall()]

    def alert_stats(self) -> dict[str, Any]:
        """Counts for /metrics: events by type, deliveries by channel and status, the outbox's backlog."""
        events = dict(self.db.execute("SELECT type, count(*) FROM alert_events GROUP BY 1").fetchall())
        deliveries = {(c, s): n for c, s, n in self.db.execute(
            "SELECT channel, status, count(*) FROM alert_deliveries GROUP BY 1, 2").fetchall()}
        attempts = {c: n for c, n in self.db.execute(
            "SELECT channel, coalesce(sum(attempts), 0) FROM alert_deliveries GROUP BY 1").fetchall()}
        oldest = self.db.execute("SELECT min(created_at) FROM alert_deliveries WHERE status = 'pending'").fetchone()[0]
        return {"events": events, "deliveries": deliveries, "attempts": attempts, "oldest_pending": oldest}
