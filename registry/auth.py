"""Users, roles and API tokens: password hashing, token issue/check, and the agency scope rule.

Passwords are hashed with werkzeug's scrypt; tokens are `secrets.token_urlsafe` strings shown
once and stored only as their SHA-256 (a token is high-entropy, so a fast hash is enough and
lets us find it by equality). The dashboard uses `authenticate`, `principal_for_token` and
`can_edit` too, so their names and signatures are part of the product's internal interface.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from werkzeug.security import check_password_hash, generate_password_hash

from . import errors
from .store import VN_TZ, Store, now_iso
from .text import clean

ROLES = ("viewer", "editor", "admin", "system")
# Scoped roles: an editor changes procedures of its agencies; a `system` (an integration
# account of a one-stop system) syncs dossiers of its agencies' procedures, nothing else.
SCOPED_ROLES = ("editor", "system")
TOKEN_PREFIX = "tthc_"
DEFAULT_TOKEN_DAYS = 90
# A fixed hash to compare against when the user does not exist, so that a wrong user name
# takes as long as a wrong password (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash("not-a-password")


class AuthError(errors.InvalidInput):
    """A user or token request that cannot be honoured (bad role, missing scope...)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user name, a role and, for editors, the agencies they may change."""

    username: str
    role: str
    agencies: tuple[str, ...] = field(default=())
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict[str, Any]:
        """The principal as the API shows it."""
        return {"username": self.username, "role": self.role, "agencies": list(self.agencies)}


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` (werkzeug's format, algorithm named in the string)."""
    return generate_password_hash(password, method="scrypt")


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token: the `tthc_` prefix (so leaks are easy to grep) + 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _agencies(agencies: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for a in (clean(x) for x in agencies) if a))


def add_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    agencies: Iterable[str] = (),
    *,
    actor: str,
    source: str = "cli",
) -> dict[str, Any]:
    """Create a user after checking role, scope and password; the password is stored hashed."""
    username = clean(username)
    scope = _agencies(agencies)
    if not username:
        raise AuthError("the user name must not be empty")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role in SCOPED_ROLES and not scope:
        raise AuthError(f"a{'n' if role == 'editor' else ''} {role} needs at least one agency (--agency NAME)")
    if role not in SCOPED_ROLES and scope:
        raise AuthError(f"only editors and systems are scoped to agencies; a {role} sees all of them")
    if len(password) < 8:
        raise AuthError("the password must have at least 8 characters")
    return store.create_user(
        username=username,
        password_hash=hash_password(password),
        role=role,
        agencies=scope,
        actor=actor,
        source=source,
    )


def issue_token(
    store: Store,
    username: str,
    *,
    name: str = "",
    expires_days: float = DEFAULT_TOKEN_DAYS,
    actor: str,
    source: str = "cli",
) -> tuple[str, dict[str, Any]]:
    """Create a token for `username`; returns (the token itself, shown only now, and its record)."""
    if expires_days <= 0:
        raise AuthError("a token must expire: give a positive number of days")
    token = new_token()
    expires_at = (datetime.now(VN_TZ) + timedelta(days=expires_days)).isoformat(timespec="seconds")
    record = store.create_token(
        username=clean(username),
        token_hash=hash_token(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        name=clean(name),
        expires_at=expires_at,
        actor=actor,
        source=source,
    )
    return token, record


def authenticate(store: Store, username: str, password: str) -> Principal | None:
    """The principal for a user name and password, or None (unknown, inactive, wrong password)."""
    user = store.get_user(clean(username or ""))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user["password_hash"], password or "") or not user["active"]:
        return None
    return Principal(user["username"], user["role"], tuple(user["agencies"]))


def principal_for_token(store: Store, token: str, *, touch: bool = True) -> Principal | None:
    """The principal a bearer token stands for, or None if unknown, expired, revoked or inactive.

    A valid use is recorded as the token's `last_used_at` (unless `touch` is false).
    """
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    rec = store.token_by_hash(hash_token(token))
    if rec is None or rec["revoked_at"] or not rec["active"]:
        return None
    if datetime.fromisoformat(rec["expires_at"]) <= datetime.now(VN_TZ):
        return None
    if touch:
        store.touch_token(rec["id"], now_iso())
    return Principal(rec["username"], rec["role"], tuple(rec["agencies"]), rec["id"])


def can_edit(principal: Principal | None, agencies: Iterable[str]) -> bool:
    """May `principal` change a procedure of these agencies? Admins: always; editors: only
    when every one of them is in their scope (and there is at least one); viewers: never."""
    if principal is None:
        return False
    if principal.role == "admin":
        return True
    if principal.role != "editor":
        return False
    wanted = {a for a in agencies if a}
    return bool(wanted) and wanted <= set(principal.agencies)


# -- dashboard sessions, login throttling, account management ---------------------
SESSION_HOURS = 12
FREE_FAILURES_PER_USER = 5
FREE_FAILURES_PER_ADDRESS = 20
THROTTLE_BASE_SECONDS = 30
THROTTLE_MAX_SECONDS = 15 * 60
FAILURE_MEMORY = timedelta(hours=1)


@dataclass(frozen=True)
class LoginOutcome:
    """A login attempt's result: the principal (None = refused) and, when throttled, how long
    the caller must wait before the next attempt is even checked."""

    principal: Principal | None
    retry_after: int = 0


def _throttle_keys(username: str, address: str) -> dict[str, int]:
    return {f"user:{clean(username or '').casefold()}": FREE_FAILURES_PER_USER,
            f"addr:{address or '-'}": FREE_FAILURES_PER_ADDRESS}


def _wait_seconds(failures: int, free: int, last_at: str, now: datetime) -> int:
    """Seconds left before another attempt: none up to `free` failures, then 30 s doubling per
    further failure, at most 15 min, counted from the last failure."""
    if failures < free:
        return 0
    delay = min(THROTTLE_BASE_SECONDS * 2 ** (failures - free), THROTTLE_MAX_SECONDS)
    left = datetime.fromisoformat(last_at) + timedelta(seconds=delay) - now
    return max(0, int(left.total_seconds() + 0.999))


def login(store: Store, username: str, password: str, address: str, *,
          now: datetime | None = None) -> LoginOutcome:
    """Check a dashboard login, throttled per user name and per address.

    While throttled the password is not even checked (a guess then proves nothing). A failure
    counts against both the user name and the address; a success clears the user's count.
    """
    now = now or datetime.now(VN_TZ)
    keys = _throttle_keys(username, address)
    known = store.login_failures(keys)
    wait = max((_wait_seconds(known[k][0], free, known[k][1], now) for k, free in keys.items()
                if k in known and datetime.fromisoformat(known[k][1]) > now - FAILURE_MEMORY), default=0)
    if wait:
        return LoginOutcome(None, wait)
    principal = authenticate(store, username, password)
    if principal is None:
        store.record_login_failure(keys, at=now.isoformat(), reset_before=(now - FAILURE_MEMORY).isoformat())
        return LoginOutcome(None, 0)
    store.clear_login_failures([k for k in keys if k.startswith("user:")])
    return LoginOutcome(principal, 0)


def start_session(store: Store, principal: Principal, address: str) -> str:
    """A new server-side session for `principal`: returns its id (only its hash is stored)."""
    sid = secrets.token_urlsafe(32)
    expires = datetime.now(VN_TZ) + timedelta(hours=SESSION_HOURS)
    store.create_session(id_hash=hash_token(sid), username=principal.username,
                         expires_at=expires.isoformat(timespec="seconds"), address=address)
    return sid


def session_principal(store: Store, sid: str | None) -> Principal | None:
    """Who a session id stands for: None when unknown, revoked, expired or the account is disabled."""
    if not sid or not isinstance(sid, str) or len(sid) > 200:
        return None
    rec = store.get_session(hash_token(sid))
    if rec is None or rec["revoked_at"] or datetime.fromisoformat(rec["expires_at"]) <= datetime.now(VN_TZ):
        return None
    user = store.get_user(rec["username"])
    if user is None or not user["active"]:
        return None
    return Principal(user["username"], user["role"], tuple(user["agencies"]))


def end_session(store: Store, sid: str | None) -> None:
    """Revoke a session server-side: a copy of its cookie stops working."""
    if sid and isinstance(sid, str):
        store.revoke_session(hash_token(sid))


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < 8:
        raise AuthError("the password must have at least 8 characters")
    if len(password) > 1024:
        raise AuthError("the password must have at most 1,024 characters")


def set_active(store: Store, username: str, active: bool, *, actor: str, source: str = "cli") -> dict[str, Any]:
    """Disable (every session and token stops working at once) or re-enable an account."""
    if not active and clean(username) == clean(actor):
        raise AuthError("you cannot disable your own account")
    return store.update_user(clean(username), active=active, revoke_sessions=not active,
                             actor=actor, source=source)


def reset_password(store: Store, username: str, password: str, *, actor: str,
                   source: str = "cli") -> dict[str, Any]:
    """An administrator sets a new password; the user's sessions end."""
    _check_password(password)
    return store.update_user(clean(username), password_hash=hash_password(password), revoke_sessions=True,
                             actor=actor, source=source)


def change_own_password(store: Store, principal: Principal, current: str, new: str, *,
                        keep_session: str | None = None, source: str = "dashboard") -> dict[str, Any]:
    """A user changes their own password (the current one must be right); their other sessions end."""
    if authenticate(store, principal.username, current) is None:
        raise AuthError("the current password is wrong")
    _check_password(new)
    if new == current:
        raise AuthError("the new password must differ from the current one")
    return store.update_user(principal.username, password_hash=hash_password(new), revoke_sessions=True,
                             keep_session=hash_token(keep_session) if keep_session else None,
                             actor=principal.username, source=source)


def list_accounts(store: Store) -> list[dict[str, Any]]:
    """Every user with the time of their latest dashboard sign-in (None if never)."""
    last = store.last_logins()
    return [{**u, "last_login_at": last.get(u["username"])} for u in store.list_users()]
