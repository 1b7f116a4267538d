"""The marshmallow schemas of alert subscriptions and events: what the API and the CLI accept and show."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..text import clean
from .events import EVENT_TYPES

SCOPES = ("all", "agency", "procedure")
CHANNELS = ("email", "webhook")
MODES = ("event", "digest")
_PREFIXES = {t.split(".")[0] for t in EVENT_TYPES}


def _event_type(value: str) -> None:
    if value not in EVENT_TYPES and value not in _PREFIXES:
        raise ValidationError(f"unknown event type {value!r}; one of {', '.join(EVENT_TYPES)} "
                              f"or a prefix such as {', '.join(sorted(_PREFIXES))}")


class SubscriptionIn(Schema):
    """A new subscription: what to follow (scope), where to send it (channel, address), how often."""

    scope = fields.String(required=True, validate=validate.OneOf(SCOPES),
                          metadata={"description": "`all` (admins), `agency` or `procedure`."})
    agency = fields.String(load_default=None, validate=validate.Length(min=1, max=300),
                           metadata={"description": "The agency (scope `agency`), as procedures name it."})
    procedure = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                              metadata={"description": "The procedure code (scope `procedure`)."})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    address = fields.String(required=True, validate=validate.Length(min=3, max=2000),
                            metadata={"description": "An e-mail address, or the webhook's http(s) URL."})
    mode = fields.String(load_default="event", validate=validate.OneOf(MODES),
                         metadata={"description": "E-mail: one message per event, or a daily `digest`."})
    event_types = fields.List(fields.String(validate=_event_type), load_default=list,
                              validate=validate.Length(max=len(EVENT_TYPES)),
                              metadata={"description": "Only these event types (or prefixes); empty: all."})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for key in ("agency", "procedure"):
            if data.get(key) is not None:
                data[key] = clean(data[key])
        if data["scope"] == "agency" and not data.get("agency"):
            errors["agency"] = ["required when scope is `agency`"]
        if data["scope"] == "procedure" and not data.get("procedure"):
            errors["procedure"] = ["required when scope is `procedure`"]
        address = (data.get("address") or "").strip()
        try:
            if data["channel"] == "email":
                validate.Email(error="not a valid e-mail address")(address)
            else:
                validate.URL(schemes={"http", "https"}, require_tld=False,
                             error="not a valid http(s) URL")(address)
        except ValidationError as exc:
            errors["address"] = list(exc.messages) if isinstance(exc.messages, list) else [str(exc.messages)]
        if data["channel"] == "webhook" and data.get("mode") == "digest":
            errors["mode"] = ["a webhook is called per event; `digest` is for e-mail"]
        if errors:
            raise ValidationError(errors)


class SubscriptionOut(Schema):
    """A subscription as shown; `secret` (webhooks) only in the answer that created it."""

    id = fields.Integer()
    owner = fields.String()
    scope = fields.String()
    agency = fields.String(allow_none=True)
    procedure = fields.String(allow_none=True)
    channel = fields.String()
    address = fields.String()
    mode = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.String()
    secret = fields.String(allow_none=True, metadata={
        "description": "Webhooks: the HMAC-SHA256 key of `X-TTHC-Signature`, shown once, at creation."})


class SubscriptionList(Schema):
    items = fields.List(fields.Nested(SubscriptionOut))
    total = fields.Integer()


class EventOut(Schema):
    """One alert event of the feed, with what became of its deliveries."""

    id = fields.Integer()
    type = fields.String()
    code = fields.String(allow_none=True)
    dimension = fields.String(allow_none=True)
    agencies = fields.List(fields.String())
    verdict = fields.String(allow_none=True)
    previous = fields.String(allow_none=True)
    occurred_at = fields.String()
    details = fields.Dict()
    deliveries = fields.Dict(keys=fields.String(), values=fields.Integer(),
                             metadata={"description": "`{channel}.{status}`: count (pending, delivered, failed, "
                                                      "cancelled)."})
