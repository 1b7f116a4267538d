"""`tthc user ...` and `tthc token ...`: API users, roles and bearer tokens."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from .. import auth
from ..context import get_store
from ..store import NotFound
from ..store.auth import DuplicateUser


def _echo_json(doc: object) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@click.group("user", cls=AppGroup)
def user_group() -> None:
    """API users: viewer, editor (scoped to agencies) or admin.

    \b
    Example:
        tthc user add alice --role editor --agency "Sở Tư pháp"
        tthc user list
    """


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(auth.ROLES), required=True, help="What the user may do.")
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help="An agency an editor may change (repeat for several; exact name as in the registry).",
)
@click.option(
    "--password", help="The password (visible in the shell history: prefer --password-stdin)."
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
def user_add(
    username: str,
    role: str,
    agencies: tuple[str, ...],
    password: str | None,
    password_stdin: bool,
    actor: str,
) -> None:
    """Create a user (the password is stored as a scrypt hash).

    \b
    Example:
        tthc user add alice --role editor --agency "Sở Tư pháp" --password-stdin < pw.txt
    """
    if password is not None and password_stdin:
        raise click.UsageError("give --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth.add_user(
            get_store(), username, password, role, agencies, actor=actor, source="cli"
        )
    except (auth.AuthError, DuplicateUser) as exc:
        raise click.ClickException(str(exc)) from None
    scope = f" for {', '.join(user['agencies'])}" if user["agencies"] else ""
    click.echo(f"user {user['username']} created: {user['role']}{scope}")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def user_list(as_json: bool) -> None:
    """List users with their role and agencies.

    \b
    Example:
        tthc user list --json
    """
    users = get_store().list_users()
    if as_json:
        _echo_json(users)
        return
    for u in users:
        state = "" if u["active"] else " (inactive)"
        click.echo(f"{u['username']}\t{u['role']}\t{'; '.join(u['agencies'])}{state}")


@click.group("token", cls=AppGroup)
def token_group() -> None:
    """API bearer tokens: random, stored hashed, shown once, expiring, revocable.

    \b
    Example:
        tthc token create alice --name nightly-import
        tthc token list
    """


@token_group.command("create")
@click.argument("username")
@click.option(
    "--name", default="", help="A label to recognise the token by (e.g. the script using it)."
)
@click.option(
    "--expires-days",
    type=click.FloatRange(min=0, min_open=True),
    default=auth.DEFAULT_TOKEN_DAYS,
    show_default=True,
    help="Days until the token stops working.",
)
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
def token_create(username: str, name: str, expires_days: float, actor: str) -> None:
    """Create a token for USERNAME and print it (on stdout, alone: it is never shown again).

    \b
    Example:
        tthc token create alice --name nightly-import --expires-days 30
    """
    try:
        token, rec = auth.issue_token(
            get_store(), username, name=name, expires_days=expires_days, actor=actor, source="cli"
        )
    except (auth.AuthError, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"token {rec['id']} for {rec['username']}, expires {rec['expires_at']}; "
        "copy it now, it is not stored:",
        err=True,
    )
    click.echo(token)


@token_group.command("list")
@click.option("--user", "username", help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list(username: str | None, as_json: bool) -> None:
    """List tokens (id, owner, name, prefix, expiry, last use, revocation); never the tokens.

    \b
    Example:
        tthc token list --user alice
    """
    tokens = get_store().list_tokens(username)
    if as_json:
        _echo_json(tokens)
        return
    for t in tokens:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else f"expires {t['expires_at']}"
        click.echo(
            f"{t['id']}\t{t['username']}\t{t['name'] or '-'}\t{t['prefix']}…\t{state}\t"
            f"last used {t['last_used_at'] or 'never'}"
        )


@token_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
def token_revoke(token_id: int, actor: str) -> None:
    """Revoke token ID for good.

    \b
    Example:
        tthc token revoke 3
    """
    try:
        rec = get_store().revoke_token(token_id, actor=actor, source="cli")
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {rec['id']} of {rec['username']} revoked at {rec['revoked_at']}")


COMMANDS = [user_group, token_group]
