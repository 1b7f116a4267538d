"""ETag, If-Match and If-None-Match: optimistic concurrency for writes, 304 for reads."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable

from flask import Response, request

from .errors import ApiProblem

_VERSION = re.compile(r"[0-9]{1,12}\Z")
IF_MATCH_PARAM = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": 'The ETag of the version you read (e.g. `"3"`); 428 without it, '
    "412 if the procedure changed since.",
}
IF_NONE_MATCH_PARAM = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag you hold: 304 Not Modified while it is current.",
}
ETAG_HEADER = {
    "ETag": {"description": "The entity tag of this representation.", "schema": {"type": "string"}}
}


def version_etag(version: int) -> str:
    """The strong ETag of a procedure version: `"3"`."""
    return f'"{version}"'


def content_etag(doc: Any) -> str:
    """A weak ETag from a document's content (sha256 of its canonical JSON)."""
    digest = hashlib.sha256(
        json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    ).hexdigest()
    return f'W/"{digest[:32]}"'


def not_modified(etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison, RFC 9110) or is `*`."""
    tags = request.if_none_match
    if not tags:
        return False
    value = etag[2:] if etag.startswith("W/") else etag
    return tags.star_tag or tags.contains_weak(value.strip('"'))


def if_none_match() -> list[str]:
    """The entity tags of If-None-Match, as sent (`*` included)."""
    raw = request.headers.get("If-None-Match", "")
    return [tag.strip() for tag in raw.split(",") if tag.strip()]


def not_modified_response(etag: str) -> Response:
    """An empty 304 carrying the ETag."""
    resp = Response(status=304)
    resp.headers["ETag"] = etag
    return resp


def expected_version(current: Callable[[], int]) -> int:
    """The version an If-Match names, for the store to check atomically.

    428 when the header is missing; 412 when it names no integer version or none that is
    current. `*` (any version) means the version read by `current()`, so the write still
    fails if the procedure changes between that read and the write.
    """
    raw = request.headers.get("If-Match", "").strip()
    if not raw:
        raise ApiProblem(
            428,
            "Send `If-Match` with the ETag of the version you read (GET the procedure first).",
            slug="precondition-required",
        )
    tags = request.if_match
    if tags.star_tag:
        return current()
    candidates = sorted({int(t) for t in tags.as_set(include_weak=True) if t and _VERSION.match(t)})
    if len(candidates) == 1:
        return candidates[0]
    version = current()
    if version in candidates:
        return version
    raise precondition_failed(version)


def precondition_failed(current_version: int | None) -> ApiProblem:
    """412 with the stored version (and its ETag) so the client can re-read and retry."""
    headers = {"ETag": version_etag(current_version)} if current_version is not None else {}
    return ApiProblem(
        412,
        "The procedure changed since you read it: GET it again, re-apply "
        "your change and send the new ETag.",
        slug="version-conflict",
        headers=headers,
        current_version=current_version,
    )
