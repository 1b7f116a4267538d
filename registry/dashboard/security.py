"""Who is signed in (Flask session), what they may do, and CSRF protection of every form."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError as CSRFValidationError

from .. import auth, procedures
from ..context import get_store

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
EDIT_ROLES = ("editor", "admin")

MSG_CSRF = ("Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF), nên không có gì được lưu. "
            "Hãy tải lại trang rồi gửi lại. (The form's CSRF token is missing or invalid.)")
MSG_LOGIN = "Vui lòng đăng nhập để dùng chức năng này."
MSG_ROLE = "Tài khoản của bạn không có quyền dùng chức năng này."


def current_principal() -> auth.Principal | None:
    """The signed-in staff member of this request, re-read from the store (None if anonymous).

    The cookie carries only a random session id; the session lives in the store, so logging
    out (or disabling the account, or changing its password) ends it server-side: a copy of
    the cookie stops working. Re-reading means a changed scope takes effect at the next click.
    """
    if "principal" not in g:
        g.principal = None
        sid = session.get("sid")
        if sid:
            g.principal = auth.session_principal(get_store(), sid)
            if g.principal is None:  # revoked, expired, or the account was removed or disabled
                session.pop("sid", None)
    return g.principal


def session_id() -> str | None:
    """The id of this request's session (None when anonymous)."""
    sid = session.get("sid")
    return sid if isinstance(sid, str) else None


def sign_in(principal: auth.Principal) -> None:
    """Start a fresh session for `principal` (the old one is dropped: no session fixation)."""
    session.clear()
    session["sid"] = auth.start_session(get_store(), principal, request.remote_addr or "")
    g.principal = principal


def sign_out() -> None:
    """End the session, server-side too."""
    auth.end_session(get_store(), session_id())
    session.clear()
    g.principal = None


def may_edit(principal: auth.Principal | None, agencies: Iterable[str]) -> bool:
    """True when `principal` may change a procedure belonging to all of `agencies`
    (the procedure service's one scope rule)."""
    return procedures.may_write(principal, {"agency": "", "agencies": [a for a in agencies if a]})


def is_editor(principal: auth.Principal | None) -> bool:
    """True for staff who can register or import procedures (some agency at least)."""
    return principal is not None and principal.role in EDIT_ROLES


def is_admin(principal: auth.Principal | None) -> bool:
    """True for administrators (all agencies; may start probe sweeps)."""
    return principal is not None and principal.role == "admin"


def procedure_agencies(rec: dict[str, Any]) -> list[str]:
    """Every agency a procedure belongs to (primary first)."""
    return [a for a in dict.fromkeys([rec.get("agency") or "", *(rec.get("agencies") or [])]) if a]


def login_required(view: F) -> F:
    """Redirect anonymous visitors to the login page, then back."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_principal() is None:
            from flask import flash, redirect, url_for
            flash(MSG_LOGIN, "info")
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def role_required(check: Callable[[auth.Principal | None], bool]) -> Callable[[F], F]:
    """Signed-in staff only, and then only those `check` accepts (else 403)."""
    def decorate(view: F) -> F:
        @login_required
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not check(current_principal()):
                abort(403, description=MSG_ROLE)
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the `Secure` flag whenever the request came over HTTPS
    (or `SESSION_COOKIE_SECURE` is set): HttpOnly and SameSite=Lax are set in `init_app`."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def check_csrf() -> None:
    """Refuse (400) any state-changing request whose form lacks a valid CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except CSRFValidationError:
        abort(400, description=MSG_CSRF)


def csrf_token() -> str:
    """The CSRF token of this session (rendered in a hidden field of every form)."""
    return generate_csrf()
