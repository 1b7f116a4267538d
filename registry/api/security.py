"""Bearer tokens -> principal, and the decorators that guard every write."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Iterable

from flask import g, request
from flask_smorest import Blueprint

from ..auth import Principal, principal_for_token
from ..context import get_store
from .errors import ApiProblem

SCHEME = "bearerAuth"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A token from `tthc token create USERNAME`.",
}
_CHALLENGE = 'Bearer realm="tthc"'


def _unauthorized(detail: str, error: str | None = None) -> ApiProblem:
    challenge = _CHALLENGE + (f', error="{error}"' if error else "")
    return ApiProblem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal() -> Principal:
    """The caller of a guarded view (set by `require`)."""
    return g.principal


def authenticate_request(roles: Iterable[str]) -> Principal:
    """The request's principal, or 401 (no/invalid/expired/revoked token) / 403 (wrong role)."""
    if "Authorization" not in request.headers:
        raise _unauthorized("This operation needs `Authorization: Bearer <token>`.")
    token = bearer_token()
    if token is None:
        raise _unauthorized("The Authorization header must be `Bearer <token>`.", "invalid_request")
    principal = principal_for_token(get_store(), token)
    if principal is None:
        raise _unauthorized("The token is unknown, expired or revoked.", "invalid_token")
    roles = tuple(roles)
    if principal.role not in roles:
        raise ApiProblem(
            403,
            f"A {principal.role} may not do this; it needs one of: {', '.join(roles)}.",
            slug="forbidden",
        )
    g.principal = principal
    return principal


def require(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a view: a valid token whose role is one of `roles` (documented in OpenAPI)."""
    roles = roles or ("viewer", "editor", "admin")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authenticate_request(roles)
            return func(*args, **kwargs)

        return Blueprint.doc(
            security=[{SCHEME: []}], responses={401: "UNAUTHORIZED", 403: "FORBIDDEN"}
        )(wrapper)

    return decorator
