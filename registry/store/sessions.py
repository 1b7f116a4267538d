"""Dashboard sessions (server-side, revocable), failed-login counters and user account changes.

Rows only: the rules (hashing, throttling policy, who may do what) live in `registry.auth`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from .db import now_iso, write_transaction
from .errors import NotFound

def _days_ago(iso: str, days: int) -> str:
    return (datetime.fromisoformat(iso) - timedelta(days=days)).isoformat()


SESSION_COLS = ("id_hash", "username", "created_at", "last_seen_at", "expires_at", "revoked_at", "address")


class SessionsMixin:
    """Session, login-failure and account operations; mixed into `Store`."""

    db: Any

    # -- sessions ------------------------------------------------------------
    def create_session(self, *, id_hash: str, username: str, expires_at: str, address: str) -> None:
        """Store a new session (only the hash of its id)."""
        now = now_iso()
        with write_transaction(self.db):
            # Sessions expired long ago are forgotten, but each user's latest (it dates their last login).
            self.db.execute("DELETE FROM staff_sessions WHERE expires_at < ? AND created_at < (SELECT max(created_at) "
                            "FROM staff_sessions s WHERE s.username = staff_sessions.username)",
                            [_days_ago(now, 30)])
            self.db.execute("INSERT INTO staff_sessions (id_hash, username, created_at, last_seen_at, expires_at, "
                            "address) VALUES (?, ?, ?, ?, ?, ?)",
                            [id_hash, username, now, now, expires_at, address[:100]])

    def get_session(self, id_hash: str) -> dict[str, Any] | None:
        """A session by the hash of its id, or None."""
        row = self.db.execute(f"SELECT {', '.join(SESSION_COLS)} FROM staff_sessions WHERE id_hash = ?",
                              [id_hash]).fetchone()
        return dict(zip(SESSION_COLS, row)) if row else None

    def revoke_session(self, id_hash: str) -> bool:
        """End one session for good; True when it was live."""
        with write_transaction(self.db):
            cur = self.db.execute("UPDATE staff_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL",
                                  [now_iso(), id_hash])
            return cur.rowcount == 1

    def revoke_user_sessions(self, username: str, *, keep: str | None = None) -> int:
        """End every live session of a user (but `keep`, a session id hash); how many ended."""
        with write_transaction(self.db):
            cur = self.db.execute("UPDATE staff_sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL "
                                  "AND id_hash != ?", [now_iso(), username, keep or ""])
            return cur.rowcount

    def last_logins(self) -> dict[str, str]:
        """Username → time of the latest dashboard sign-in."""
        rows = self.db.execute("SELECT username, max(created_at) FROM staff_sessions GROUP BY username")
        return dict(rows.fetchall())

    # -- failed logins ---------------------------------------------------------
    def login_failures(self, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
        """key → (failures, last failure time) for the keys that have any."""
        keys = list(keys)
        marks = ", ".join("?" * len(keys))
        rows = self.db.execute(f"SELECT key, failures, last_at FROM login_failures WHERE key IN ({marks})",
                               keys).fetchall()
        return {k: (n, at) for k, n, at in rows}

    def record_login_failure(self, keys: Iterable[str], *, at: str, reset_before: str) -> None:
        """Count one failed login against each key (a count older than `reset_before` restarts at 1)."""
        with write_transaction(self.db):
            # Counts nobody has added to since `reset_before` restart anyway: forget them (bounded table).
            self.db.execute("DELETE FROM login_failures WHERE last_at < ?", [reset_before])
            self.db.conn.executemany(
                "INSERT INTO login_failures (key, failures, last_at) VALUES (?, 1, ?) ON CONFLICT (key) DO UPDATE "
                "SET failures = CASE WHEN last_at < ? THEN 1 ELSE failures + 1 END, last_at = excluded.last_at",
                [(k, at, reset_before) for k in keys])

    def clear_login_failures(self, keys: Iterable[str]) -> None:
        """Forget the failures of these keys (after a successful login)."""
        with write_transaction(self.db):
            self.db.conn.executemany("DELETE FROM login_failures WHERE key = ?", [(k,) for k in keys])

    # -- account changes -------------------------------------------------------
    def update_user(self, username: str, *, actor: str, source: str, active: bool | None = None,
                    password_hash: str | None = None, revoke_sessions: bool = False,
                    keep_session: str | None = None) -> dict[str, Any]:
        """Enable/disable a user or replace its password hash, audited (never the hash itself), and
        optionally end its sessions, in one transaction; NotFound if there is no such user."""
        now = now_iso()
        with write_transaction(self.db):
            before = self.get_user(username)  # type: ignore[attr-defined]
            if before is None:
                raise NotFound(f"no user named {username!r}")
            sets: list[str] = []
            params: list[Any] = []
            change: dict[str, Any] = {}
            if active is not None and bool(active) != before["active"]:
                sets.append("active = ?")
                params.append(1 if active else 0)
                change["active"] = bool(active)
            if password_hash is not None:
                sets.append("password_hash = ?")
                params.append(password_hash)
                change["password"] = "changed"
            if sets:
                self.db.execute(f"UPDATE users SET {', '.join(sets)} WHERE username = ?", [*params, username])
                view = {k: before[k] for k in ("username", "role", "agencies", "active")}
                action = ("password" if "active" not in change else ("enable" if change["active"] else "disable"))
                self.audit_many([(actor, source, action, "user", username, view,  # type: ignore[attr-defined]
                                  {**view, **{k: v for k, v in change.items() if k == "active"},
                                   **({"password": "changed"} if password_hash is not None else {})})], at=now)
            if revoke_sessions:
                self.revoke_user_sessions(username, keep=keep_session)
            return self.get_user_by_id(before["id"])  # type: ignore[attr-defined]

