"""RFC 9457 problem details for every error under /api (HTTP errors, validation, our own)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Mapping

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..errors import RegistryError
from ..store import StoreBusy

PROBLEM_MIMETYPE = "application/problem+json"
API_PREFIX = "/api"
# Problem types specific to tthc; plain HTTP errors use "about:blank" as RFC 9457 says.
TYPE_BASE = "urn:tthc:problem:"


class ApiProblem(HTTPException):
    """An error a view raises on purpose: status, title, detail and extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = extra


def is_api_request() -> bool:
    """True when the current request is for a path under /api."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A `application/problem+json` response (type, title, status, detail, instance + extras)."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
        "instance": request.full_path.rstrip("?") if request else None,
        **{k: v for k, v in extra.items() if v is not None},
    }
    resp = Response(
        json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=PROBLEM_MIMETYPE
    )
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def field_errors(messages: Any) -> dict[str, list[str]]:
    """webargs/marshmallow messages ({location: {field: [msg]}}) as {field: [msg]}, nested
    fields joined with dots, the location level dropped (one body or one query per request)."""
    out: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                name = (
                    "_schema"
                    if key == "_schema" and not path
                    else (path if key == "_schema" else f"{path}.{key}" if path else str(key))
                )
                walk(value, name)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, path)
        else:
            out.setdefault(path or "_schema", []).append(str(node))

    locations = messages if isinstance(messages, Mapping) else {"_schema": messages}
    for value in locations.values():
        walk(value, "")
    return out


def _http_problem(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, ApiProblem):
        return problem_response(
            status,
            title=error.title,
            detail=error.description,
            slug=error.slug,
            headers=error.headers,
            **error.extra,
        )
    data = getattr(error, "data", None) or {}
    headers = {
        k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")
    }
    headers.update(data.get("headers") or {})
    if status == 422 and "messages" in data:
        return problem_response(
            422,
            title="Validation failed",
            slug="validation-failed",
            detail="The request does not validate; see `errors` for each field.",
            errors=field_errors(data["messages"]),
            headers=headers,
        )
    if status == 400 and "messages" in data:
        detail = "The request body is not valid JSON."
        return problem_response(400, detail=detail, slug="malformed-json", headers=headers)
    if status >= 500:
        # Never leak internals (stack traces, SQL) to clients: the log has them.
        return problem_response(
            status, detail="The server failed to handle this request.", headers=headers
        )
    return problem_response(
        status, detail=data.get("message") or error.description, headers=headers
    )


def handle_http_exception(error: HTTPException) -> Response | HTTPException:
    """Problem details under /api; elsewhere the error goes on as Flask would render it."""
    if not is_api_request():
        return error
    return _http_problem(error)


def handle_database_busy(error: StoreBusy) -> Response:
    """A write that waited longer than the busy timeout: 503 with Retry-After, not a 500."""
    return problem_response(
        503,
        slug="database-busy",
        headers={"Retry-After": "1"},
        detail="The registry is busy with another write; retry shortly.",
    )


def handle_registry_error(error: RegistryError) -> Response:
    """Any error of the registry's tree: its own status and problem type (internals never leak)."""
    detail = str(error) if error.status < 500 else "The server failed to handle this request."
    return problem_response(error.status, slug=error.slug, detail=detail, headers=error.headers)


def attach(blueprint: Any) -> None:
    """Blueprint-level handlers, so a view's errors are problems whatever else the app registers."""
    blueprint.register_error_handler(HTTPException, _http_problem)
    blueprint.register_error_handler(RegistryError, handle_registry_error)
    blueprint.register_error_handler(StoreBusy, handle_database_busy)


def init_app(app: Flask) -> None:
    """The app-level handler: routing errors (unknown /api path, 405) and anything not caught."""
    app.register_error_handler(HTTPException, handle_http_exception)
