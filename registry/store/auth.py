"""API users and tokens: rows only (hashing and checks live in `registry.auth`); changes audited."""

from __future__ import annotations

import json
from typing import Any, Sequence

from .. import errors
from .db import now_iso, write_transaction
from .errors import NotFound, StoreError

USER_COLS = ("id", "username", "role", "agencies", "active", "created_at")
TOKEN_COLS = (
    "id",
    "user_id",
    "name",
    "prefix",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
)


class DuplicateUser(StoreError, errors.Conflict):
    """A user with this name already exists."""


def _user(row: Sequence[Any], cols: Sequence[str] = USER_COLS) -> dict[str, Any]:
    rec = dict(zip(cols, row))
    rec["agencies"] = json.loads(rec["agencies"])
    rec["active"] = bool(rec["active"])
    return rec


def _token_view(rec: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a token: never its hash."""
    return {k: rec.get(k) for k in ("id", "username", "name", "prefix", "expires_at", "revoked_at")}


class AuthMixin:
    """User and token operations; mixed into `Store`."""

    db: Any

    # -- users ---------------------------------------------------------------
    def create_user(
        self,
        *,
        username: str,
        password_hash: str,
        role: str,
        agencies: Sequence[str],
        actor: str,
        source: str,
    ) -> dict[str, Any]:
        """Add a user; DuplicateUser if the name is taken. Only the hash is stored."""
        now = now_iso()
        with write_transaction(self.db):
            if self.db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
                raise DuplicateUser(f"a user named {username!r} already exists")
            cur = self.db.execute(
                "INSERT INTO users (username, password_hash, role, agencies, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    username,
                    password_hash,
                    role,
                    json.dumps(list(agencies), ensure_ascii=False),
                    now,
                ],
            )
            user = self.get_user_by_id(cur.lastrowid)
            self.audit_many(
                [
                    (
                        actor,
                        source,
                        "create",
                        "user",
                        username,
                        None,
                        {"username": username, "role": role, "agencies": list(agencies)},
                    )
                ],
                at=now,
            )
        return user

    def get_user(self, username: str) -> dict[str, Any] | None:
        """A user with its password hash, or None."""
        cols = (*USER_COLS, "password_hash")
        row = self.db.execute(
            f"SELECT {', '.join(cols)} FROM users WHERE username = ?", [username]
        ).fetchone()
        return _user(row, cols) if row else None

    def get_user_by_id(self, user_id: int) -> dict[str, Any]:
        """A user (without hash) by id; NotFound if absent."""
        row = self.db.execute(
            f"SELECT {', '.join(USER_COLS)} FROM users WHERE id = ?", [user_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no user with id {user_id}")
        return _user(row)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user (without hashes), by name."""
        cur = self.db.execute(f"SELECT {', '.join(USER_COLS)} FROM users ORDER BY username")
        return [_user(r) for r in cur.fetchall()]

    # -- tokens --------------------------------------------------------------
    def create_token(
        self,
        *,
        username: str,
        token_hash: str,
        prefix: str,
        name: str,
        expires_at: str,
        actor: str,
        source: str,
    ) -> dict[str, Any]:
        """Store a new token's hash for `username`; NotFound if there is no such user."""
        now = now_iso()
        with write_transaction(self.db):
            user = self.get_user(username)
            if user is None:
                raise NotFound(f"no user named {username!r}")
            cur = self.db.execute(
                "INSERT INTO tokens (user_id, name, token_hash, prefix, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [user["id"], name, token_hash, prefix, now, expires_at],
            )
            token = self.get_token(cur.lastrowid)
            self.audit_many(
                [(actor, source, "create", "token", str(token["id"]), None, _token_view(token))],
                at=now,
            )
        return token

    def get_token(self, token_id: int) -> dict[str, Any]:
        """One token (with its owner's name, never its hash); NotFound if absent."""
        rows = self._tokens("WHERE t.id = ?", [token_id])
        if not rows:
            raise NotFound(f"no token with id {token_id}")
        return rows[0]

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """Every token (optionally of one user), newest first, without hashes."""
        if username is None:
            return self._tokens("", [])
        return self._tokens("WHERE u.username = ?", [username])

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The token with this hash joined with its user (role, agencies, active), or None."""
        cols = (
            "t.id",
            "t.expires_at",
            "t.revoked_at",
            "u.username",
            "u.role",
            "u.agencies",
            "u.active",
        )
        row = self.db.execute(
            f"SELECT {', '.join(cols)} FROM tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_hash = ?",
            [token_hash],
        ).fetchone()
        if row is None:
            return None
        rec = dict(
            zip(("id", "expires_at", "revoked_at", "username", "role", "agencies", "active"), row)
        )
        rec["agencies"] = json.loads(rec["agencies"])
        rec["active"] = bool(rec["active"])
        return rec

    def touch_token(self, token_id: int, at: str | None = None) -> None:
        """Record a use of the token (not audited: it changes no registry data)."""
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE tokens SET last_used_at = ? WHERE id = ?", [at or now_iso(), token_id]
            )

    def revoke_token(self, token_id: int, *, actor: str, source: str) -> dict[str, Any]:
        """Revoke a token for good (idempotent); NotFound if absent."""
        now = now_iso()
        with write_transaction(self.db):
            before = self.get_token(token_id)
            if before["revoked_at"]:
                return before
            self.db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", [now, token_id])
            after = self.get_token(token_id)
            self.audit_many(
                [
                    (
                        actor,
                        source,
                        "revoke",
                        "token",
                        str(token_id),
                        _token_view(before),
                        _token_view(after),
                    )
                ],
                at=now,
            )
        return after

    def _tokens(self, where: str, params: list[Any]) -> list[dict[str, Any]]:
        cols = [f"t.{c}" for c in TOKEN_COLS] + ["u.username"]
        cur = self.db.execute(
            f"SELECT {', '.join(cols)} FROM tokens t JOIN users u ON u.id = t.user_id "
            f"{where} ORDER BY t.id DESC",
            params,
        )
        return [dict(zip((*TOKEN_COLS, "username"), r)) for r in cur.fetchall()]
