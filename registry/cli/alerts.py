"""`tthc alerts ...`: subscriptions (owned by users), the feed, and one detect-and-deliver pass."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError

from .. import alerts
from ..alerts.schemas import SubscriptionIn
from ..auth import Principal
from ..context import get_store, settings

# Whoever runs the CLI on the server runs the registry (as with `tthc user add`): without --user
# a command acts as an admin.
OPERATOR = Principal("cli", "admin")


def _echo_json(doc: object) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


def _principal(username: str | None) -> Principal:
    if username is None:
        return OPERATOR
    user = get_store().get_user(username)
    if user is None or not user["active"]:
        raise click.ClickException(f"no active user {username!r} (tthc user list)")
    return Principal(user["username"], user["role"], tuple(user["agencies"]))


def _describe(sub: dict) -> str:
    what = {"all": "everything", "agency": f"agency {sub['agency']}", "procedure": f"procedure {sub['procedure']}"}
    mode = " (daily digest)" if sub["mode"] == "digest" else ""
    types = f" [{', '.join(sub['event_types'])}]" if sub["event_types"] else ""
    return f"#{sub['id']} {sub['owner']}: {what[sub['scope']]} -> {sub['channel']} {sub['address']}{mode}{types}"


@click.group("alerts", cls=AppGroup)
def alerts_group() -> None:
    """Alerts: who hears about broken procedures (e-mail, signed webhooks), and what fired.

    \b
    Example:
        tthc alerts subscribe --user lan --agency "Sở Tư pháp" --email lan@hanoi.gov.vn
        tthc alerts events --limit 20
    """


@alerts_group.command("subscribe")
@click.option("--user", "username", required=True, help="The owner (an editor: only their agencies; an admin: all).")
@click.option("--all", "all_", is_flag=True, help="Every event (admins only).")
@click.option("--agency", help="Events of the procedures of this agency (its name, as procedures carry it).")
@click.option("--procedure", help="Events of this procedure (its code).")
@click.option("--email", help="Send e-mail to this address.")
@click.option("--webhook", help="POST signed JSON to this http(s) URL.")
@click.option("--digest", is_flag=True, help="E-mail: one digest a day (TTHC_ALERT_DIGEST_HOUR), not one per event.")
@click.option("--event", "event_types", multiple=True, help="Only this event type or prefix (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the subscription as JSON.")
@with_appcontext
def subscribe_cmd(username: str, all_: bool, agency: str | None, procedure: str | None, email: str | None,
                  webhook: str | None, digest: bool, event_types: tuple[str, ...], as_json: bool) -> None:
    """Subscribe USER to alerts by e-mail or webhook. A webhook's secret is printed once.

    \b
    Example:
        tthc alerts subscribe --user lan --agency "Sở Tư pháp" --email lan@hanoi.gov.vn --digest
    """
    if sum(map(bool, (all_, agency, procedure))) != 1:
        raise click.UsageError("give exactly one of --all, --agency NAME, --procedure CODE")
    if bool(email) == bool(webhook):
        raise click.UsageError("give exactly one of --email ADDRESS, --webhook URL")
    raw = {"scope": "all" if all_ else "agency" if agency else "procedure", "channel": "email" if email else "webhook",
           "address": email or webhook, "mode": "digest" if digest else "event", "event_types": list(event_types)}
    if agency:
        raw["agency"] = agency
    if procedure:
        raw["procedure"] = procedure
    try:
        data = SubscriptionIn().load(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        detail = "; ".join(f"{k}: {' '.join(map(str, v if isinstance(v, list) else [v]))}"
                           for k, v in messages.items())
        raise click.ClickException(detail) from None
    try:
        sub = alerts.subscribe(get_store(), _principal(username), data, source="cli")
    except alerts.AlertError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    if as_json:
        _echo_json(sub)
        return
    click.echo(f"subscribed {_describe(sub)}")
    if sub.get("secret"):
        click.echo(f"webhook secret (shown once; X-TTHC-Signature is HMAC-SHA256 with it): {sub['secret']}")


@alerts_group.command("list")
@click.option("--user", "username", help="Only this user's subscriptions (default: everyone's).")
@click.option("--json", "as_json", is_flag=True, help="Print the subscriptions as JSON.")
@with_appcontext
def list_cmd(username: str | None, as_json: bool) -> None:
    """Active subscriptions.

    \b
    Example:
        tthc alerts list --user lan
    """
    subs = alerts.list_subscriptions(get_store(), _principal(username))
    if as_json:
        _echo_json(subs)
        return
    for sub in subs:
        click.echo(_describe(sub))
    if not subs:
        click.echo("no subscriptions")


@alerts_group.command("unsubscribe")
@click.argument("sub_id", type=click.IntRange(1))
@click.option("--user", "username", help="Act as this user (only their own subscriptions).")
@with_appcontext
def unsubscribe_cmd(sub_id: int, username: str | None) -> None:
    """Remove subscription SUB_ID; what it still had to deliver is cancelled.

    \b
    Example:
        tthc alerts unsubscribe 3
    """
    try:
        alerts.unsubscribe(get_store(), _principal(username), sub_id, source="cli")
    except alerts.AlertError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"unsubscribed #{sub_id}")


@alerts_group.command("events")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="How many events, newest first.")
@click.option("--code", help="Only this procedure's events.")
@click.option("--type", "event_type", help="Only this event type or prefix.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@with_appcontext
def events_cmd(limit: int, code: str | None, event_type: str | None, as_json: bool) -> None:
    """What fired, newest first, and what became of its deliveries.

    \b
    Example:
        tthc alerts events --type linkage --limit 50
    """
    events, total = alerts.feed(get_store(), limit=limit, code=code, event_type=event_type)
    if as_json:
        _echo_json({"items": events, "total": total})
        return
    for e in events:
        sent = ", ".join(f"{k} {v}" for k, v in sorted(e["deliveries"].items())) or "no subscriber"
        click.echo(f"#{e['id']} {e['occurred_at']} {e['type']} {e['code'] or ''} {e['verdict'] or ''} ({sent})")
    click.echo(f"{total} events in all")


@alerts_group.command("deliver")
@with_appcontext
def deliver_cmd() -> None:
    """Detect new events and deliver what is due now (what `tthc up` / `serve` do every few seconds).

    \b
    Example:
        tthc alerts deliver
    """
    counts = alerts.process(get_store(), settings())
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


COMMANDS = [alerts_group]
