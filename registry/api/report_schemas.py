"""/api/v1/schemas: the published JSON Schema (2020-12) of the coverage report, per method version."""

from __future__ import annotations

from flask import Response, jsonify

from ..report_schema import UnknownMethod, json_schema_text, methods, schema_path
from .blueprint import ApiBlueprint
from .errors import ApiProblem

blp = ApiBlueprint(
    "schemas",
    __name__,
    url_prefix="/schemas",
    description="JSON Schemas (2020-12) of the coverage report, one per method version "
    "(generated from the same marshmallow schemas as this document).",
)

SCHEMA_MIMETYPE = "application/schema+json"


@blp.route("", methods=["GET"])
@blp.doc(responses={"200": {"description": "{method: URL of its JSON Schema}", "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}}}})
def list_schemas() -> Response:
    """Every published method version and where its schema is."""
    return jsonify({method: schema_path(method) for method in methods()})


@blp.route("/coverage-<int:version>.json", methods=["GET"])
@blp.response(200, {"type": "object"}, content_type=SCHEMA_MIMETYPE,
              description="The JSON Schema of reports of method `tthc-coverage/<version>`")
def coverage_schema(version: int) -> Response:
    """The JSON Schema of the coverage report of one method version (e.g. `coverage-1.json`)."""
    try:
        text = json_schema_text(f"tthc-coverage/{version}")
    except UnknownMethod:
        raise ApiProblem(404, f"No coverage method tthc-coverage/{version}; published: "
                         f"{', '.join(methods())}.", slug="not-found") from None
    resp = Response(text, mimetype=SCHEMA_MIMETYPE)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp
