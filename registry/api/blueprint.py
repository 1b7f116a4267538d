"""The blueprint class every /api/v1 module uses: problem errors, multipart parsing, media types."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import json

import flask_smorest
from flask import request
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict

from .. import jsonsafe
from . import errors

PREFIX = "/api/v1"


def has_lone_surrogate(value: Any) -> bool:
    """True if a decoded JSON document holds a string that is not valid Unicode text.

    JSON may escape half of a UTF-16 surrogate pair (`"\\ud800"`); Python decodes it into a
    string that cannot be encoded back to UTF-8, so SQLite would fail on it.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _Parser(FlaskParser):
    """webargs parser: JSON bodies must be valid Unicode, and the `files` location sees the
    multipart form fields too, so one schema (documented as multipart/form-data) validates
    the upload and its options together."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return missing
        try:
            data = jsonsafe.loads(req.get_data(cache=True).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"Bytes decoding error : {exc.reason}", doc="", pos=exc.start) from exc
        except jsonsafe.JsonTooDeep:
            raise errors.ApiProblem(
                400,
                "The JSON body is nested too deeply to be a request of this API.",
                slug="malformed-json",
                errors={"body": ["nested too deeply"]},
            ) from None
        if has_lone_surrogate(data):
            raise errors.ApiProblem(
                400,
                "The JSON body holds an unpaired UTF-16 surrogate escape "
                "(e.g. \\ud800): it is not valid Unicode text.",
                slug="malformed-json",
            )
        return data

    def load_files(self, req: Any, schema: Any) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint under /api/v1 whose errors are RFC 9457 problems."""

    ARGUMENTS_PARSER = _Parser()

    def __init__(self, name: str, import_name: str, *, url_prefix: str = "", **kwargs: Any) -> None:
        super().__init__(name, import_name, url_prefix=PREFIX + url_prefix, **kwargs)
        errors.attach(self)


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def consumes(*mimetypes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """415 unless a request body (if any) is one of `mimetypes` (`json` means any JSON type).

    Put it above `@blp.arguments`, so the media type is checked before the body is parsed.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _has_body() or "json" not in mimetypes:
                mimetype = request.mimetype
                ok = any(
                    mimetype == m
                    or (
                        m == "json"
                        and (mimetype == "application/json" or mimetype.endswith("+json"))
                    )
                    for m in mimetypes
                )
                if not ok:
                    wanted = ", ".join("application/json" if m == "json" else m for m in mimetypes)
                    raise errors.ApiProblem(
                        415,
                        f"Send the body as {wanted}, not {mimetype or 'no Content-Type'}.",
                        slug="unsupported-media-type",
                    )
            return func(*args, **kwargs)

        return wrapper

    return decorator
