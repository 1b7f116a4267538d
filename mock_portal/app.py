"""The app factory: five upstreams on one host, the admin API, faults and the request journal."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from flask import Flask, Response, g, request

from mock_portal import adapter, admin, catalog, payment, paygov
from mock_portal.clock import iso_now
from mock_portal.faults import rules_from
from mock_portal.injection import RESET_FLAG, ResetMiddleware, before_request, upstream_of
from mock_portal.state import PortalState, portal
from mock_portal.world import World, load_world

DEFAULTS: dict[str, Any] = {
    "SESSION_TTL": 1800.0,           # adapter session lifetime (s)
    "TOKEN_TTL": 3600.0,             # LGSP token lifetime (s)
    "CALLBACK_MAX_ATTEMPTS": 8,      # deliveries of one CONFIRM/IPN before giving up
    "CALLBACK_BACKOFF": 0.5,         # first backoff (s), doubled each attempt
    "CALLBACK_BACKOFF_MAX": 30.0,    # cap of one backoff (s)
    "CALLBACK_TIMEOUT": 5.0,         # timeout of one delivery (s)
    "DVCQG_CALLBACK_URL": None,      # overrides every DVCQG partner's callback_url
    "PAYGOV_IPN_URL": None,          # overrides every PayGov partner's ipn_url
    "PUBLIC_URL": None,              # base of UrlThanhToan / data.url (default: request host)
    "JOURNAL_MAX": 10_000,           # journal entries kept (oldest dropped)
    "JOURNAL_BODY_MAX": 20_000,      # characters of a non-JSON body kept in the journal
    "CATALOG_MAX_LIMIT": 500,        # largest `limit` of a catalogue page
    "CLOCK": time.monotonic,         # expiry clock (tests inject a fake one)
    "STYLE": "spa",                  # citizen pages: "spa" (app shell + script) or "legacy"
    "SESSION_MAX_CALLS": None,       # an adapter session dies after this many calls (None: TTL only)
    "LAYDVC_BULK": "full",           # LayDVC without maTTHC: "full", "refuse" or "truncate:N"
}


STYLES = ("spa", "legacy")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _journal(response: Response) -> Response:
    """Record the request (and the status answered) unless it is an admin call."""
    upstream = upstream_of(request.path)
    if upstream is None:
        return response
    state = portal()
    body = request.get_json(silent=True)
    raw = None if body is not None else request.get_data(as_text=True)
    reset = bool(request.environ.get(RESET_FLAG))
    state.record({
        "time": iso_now(), "method": request.method, "path": request.path,
        "query": request.query_string.decode("latin-1"), "upstream": upstream,
        # Every header is kept (a mock: tests must see exactly what a client sent).
        "headers": dict(request.headers), "json": body,
        # Only these bodies are form data; asking `request.form` of a JSON body costs a parse.
        "form": (request.form.to_dict() or None) if request.mimetype in _FORM_TYPES else None,
        "body": raw[: int(state.config["JOURNAL_BODY_MAX"])] if raw else None,
        "status": None if reset else response.status_code,
        "faults": list(getattr(g, "fired", [])), "delay_ms": getattr(g, "delay_ms", 0.0),
        "reset": reset,
    })
    return response


def create_app(world: str | Path | Mapping[str, Any] | World | None = None,
               faults: str | Path | Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
               seed: int = 0, **config: Any) -> Flask:
    """Build the mock portal: `world` a path, shipped name, dict or None (default world);
    `faults` a profile name, a file, or rules; `seed` makes faults reproducible."""
    app = Flask(__name__, static_url_path="/_static")
    app.config.update(DEFAULTS)
    app.config.update({k.upper(): v for k, v in config.items()})
    if app.config["STYLE"] not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {app.config['STYLE']!r}")
    app.json.sort_keys = False  # keep payload keys in contract order
    app.json.ensure_ascii = False
    loaded = world if isinstance(world, World) else load_world(world)
    state = PortalState(loaded, seed, dict(app.config), clock=app.config["CLOCK"])
    state.faults.add(rules_from(faults))
    app.extensions["mock_portal"] = state
    for blueprint in (catalog.bp, adapter.bp, payment.bp, paygov.lgsp, paygov.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.before_request(before_request)
    app.after_request(_journal)
    app.wsgi_app = ResetMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app
