"""/api/v1/alerts: subscriptions (per agency, per procedure or everything; e-mail or webhook) and the feed."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from .. import alerts
from ..alerts.schemas import EventOut, SubscriptionIn, SubscriptionList, SubscriptionOut
from ..context import get_store
from .blueprint import ApiBlueprint, consumes
from .errors import ApiProblem
from .paging import page_envelope
from .schemas import Page, PageArgs
from .security import current_principal, require

blp = ApiBlueprint(
    "alerts",
    __name__,
    url_prefix="/alerts",
    description="Alerts: verdict transitions as events, delivered by e-mail and signed webhooks (docs/alerts.md).",
)

SOURCE = "api"


class EventArgs(PageArgs):
    """Filters of the feed."""

    code = fields.String(validate=validate.Length(max=50), metadata={"description": "One procedure's events."})
    type = fields.String(validate=validate.Length(max=50),
                         metadata={"description": "An event type, or a prefix such as `linkage`."})


class EventPage(Page):
    """A page of events, newest first."""

    items = fields.List(fields.Nested(EventOut))


@blp.route("/subscriptions", methods=["GET"])
@blp.response(200, SubscriptionList)
@require("editor", "admin")
def list_subscriptions() -> dict[str, Any]:
    """The caller's subscriptions (an admin sees everyone's); webhook secrets are never shown again."""
    items = alerts.list_subscriptions(get_store(), current_principal())
    return {"items": items, "total": len(items)}


@blp.route("/subscriptions", methods=["POST"])
@blp.response(201, SubscriptionOut, description="Created; a webhook's `secret` is in this answer only")
@require("editor", "admin")
@consumes("json")
@blp.arguments(SubscriptionIn)
def create_subscription(data: dict[str, Any]) -> Any:
    """Subscribe: editors to their agencies or their agencies' procedures, admins to anything (`all` too)."""
    try:
        return alerts.subscribe(get_store(), current_principal(), data, source=SOURCE), 201
    except alerts.SubscriptionInvalid as exc:  # 422 names the field; 403 goes to the tree's handler
        raise ApiProblem(422, str(exc), slug=exc.slug, errors={exc.field: [str(exc)]}) from None


@blp.route("/subscriptions/<int:sub_id>", methods=["DELETE"],
           parameters=[{"in": "path", "name": "sub_id", "required": True, "schema": {"type": "integer"}}])
@blp.response(204, description="Removed; what it still had to deliver is cancelled")
@blp.alt_response(404, response="NOT_FOUND")
@require("editor", "admin")
def delete_subscription(sub_id: int) -> Any:
    """Unsubscribe (your own; an admin: anyone's)."""
    try:
        alerts.unsubscribe(get_store(), current_principal(), sub_id, source=SOURCE)
    except OverflowError:  # an id beyond SQLite's integers: no such subscription either
        raise ApiProblem(404, f"There is no subscription {sub_id}.", slug="not-found") from None
    return "", 204


@blp.route("/events", methods=["GET"])
@blp.arguments(EventArgs, location="query")
@blp.response(200, EventPage)
def list_events(args: dict[str, Any]) -> dict[str, Any]:
    """The feed: what fired and when, newest first, with its deliveries by channel and status."""
    page, per_page = args["page"], args["per_page"]
    items, total = alerts.feed(get_store(), limit=per_page, offset=(page - 1) * per_page, code=args.get("code"),
                               event_type=args.get("type"))
    return page_envelope(items, total, page, per_page)
