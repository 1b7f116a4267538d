"""/api/v1/users: account management for admins (list with latest sign-in, lock, unlock, reset
password). The rules are `registry.auth`'s; creating users stays with `tthc user add`."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from .. import auth
from ..context import get_store
from ..store import NotFound
from .blueprint import ApiBlueprint, consumes
from .errors import ApiProblem
from .schemas import Open
from .security import current_principal, require

blp = ApiBlueprint("users", __name__, url_prefix="/users",
                   description="Accounts (admins): list with latest sign-in, lock, unlock, reset password.")

SOURCE = "api"


class UserSchema(Open):
    """An account (never its password hash)."""

    username = fields.String()
    role = fields.String(metadata={"enum": list(auth.ROLES)})
    agencies = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.String()
    last_login_at = fields.String(allow_none=True, metadata={"description": "Latest dashboard sign-in"})


class UserList(Open):
    """Every account, by name."""

    items = fields.List(fields.Nested(UserSchema))
    total = fields.Integer()


class UserPatch(Schema):
    """Lock (`false`: its sessions and tokens stop working at once) or unlock an account."""

    active = fields.Boolean(required=True, truthy={True}, falsy={False})


class PasswordReset(Schema):
    """A new password for the account (its dashboard sessions end)."""

    password = fields.String(required=True, validate=validate.Length(min=8, max=1024),
                             metadata={"writeOnly": True})


def _view(username: str) -> dict[str, Any]:
    return next(u for u in auth.list_accounts(get_store()) if u["username"] == username)


def _call(func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        user = func(get_store(), *args, actor=current_principal().username, source=SOURCE, **kwargs)
    except NotFound as exc:
        raise ApiProblem(404, str(exc).capitalize() + ".", slug="not-found") from None
    except auth.AuthError as exc:
        raise ApiProblem(409, str(exc).capitalize() + ".", slug="conflict") from None
    return _view(user["username"])


@blp.route("", methods=["GET"])
@blp.response(200, UserList)
@require("admin")
def list_users() -> dict[str, Any]:
    """Every account with its role, agencies, state and latest dashboard sign-in."""
    items = auth.list_accounts(get_store())
    return {"items": items, "total": len(items)}


@blp.route("/<username>", methods=["PATCH"])
@blp.response(200, UserSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="An admin may not lock their own account")
@require("admin")
@consumes("json")
@blp.arguments(UserPatch)
def patch_user(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Lock or unlock an account (audited)."""
    return _call(auth.set_active, username, body["active"])


@blp.route("/<username>/password", methods=["POST"])
@blp.response(200, UserSchema)
@blp.alt_response(404, response="NOT_FOUND")
@require("admin")
@consumes("json")
@blp.arguments(PasswordReset)
def reset_password(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Set a new password (audited, never logged); the account's dashboard sessions end."""
    return _call(auth.reset_password, username, body["password"])
