"""/api/v1/coverage: the `tthc-coverage/1` report as JSON or CSV, grouped, as of a day; ETag."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..context import get_store, settings
from ..coverage import METHOD
from ..report_schema import schema_path
from ..reporting import coverage_document, coverage_not_modified
from .blueprint import ApiBlueprint
from .conditional import ETAG_HEADER, IF_NONE_MATCH_PARAM, if_none_match, not_modified_response
from .schemas import CoverageArgs, CoverageReportSchema

blp = ApiBlueprint(
    "coverage",
    __name__,
    url_prefix="/coverage",
    description="Coverage against the city's targets (method tthc-coverage/1).",
)

CSV_MIMETYPE = "text/csv"


def _wants_csv(args: dict[str, Any]) -> bool:
    if args.get("format"):
        return args["format"] == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


@blp.route("", methods=["GET"])
@blp.arguments(CoverageArgs, location="query")
@blp.response(
    200,
    CoverageReportSchema,
    headers={**ETAG_HEADER, "Vary": {"description": "Accept", "schema": {"type": "string"}},
             "Link": {"description": "`</api/v1/schemas/coverage-1.json>; rel=\"describedby\"`: the "
                      "report's JSON Schema (2020-12), also named by its `$schema` member",
                      "schema": {"type": "string"}}},
    description="The report. Its JSON Schema (2020-12), per method version: "
    "[/api/v1/schemas/coverage-1.json](/api/v1/schemas/coverage-1.json) (`$schema` member).",
)
@blp.alt_response(
    200,
    schema={"type": "string"},
    content_type=CSV_MIMETYPE,
    success=True,
    description="The report as CSV, one row per indicator (and group)",
)
@blp.alt_response(304, description="Not modified (If-None-Match names the current figures)")
@blp.doc(parameters=[IF_NONE_MATCH_PARAM])
def get_coverage(args: dict[str, Any]) -> Response:
    """The coverage report; `?format=csv` or `Accept: text/csv` for CSV; 304 while unchanged."""
    cfg = settings()
    fmt = "csv" if _wants_csv(args) else "json"
    params = {"basis": args["basis"], "group_by": tuple(args["group_by"]), "as_of": args.get("as_of"),
              "fmt": fmt}
    tags = if_none_match()
    # A 304 costs one tiny query: the tag itself says which data state and request it names.
    current = "*" if "*" in tags else coverage_not_modified(cfg, tags, **params)
    if current:
        resp = not_modified_response(current) if current != "*" else Response(status=304)
    else:
        doc = coverage_document(get_store, cfg, **params)  # opens the store only to compute
        resp = Response(doc.value, mimetype=CSV_MIMETYPE if fmt == "csv" else "application/json")
        resp.headers["ETag"] = doc.etag
        resp.headers["Link"] = f'<{schema_path(METHOD)}>; rel="describedby"'
    resp.headers["Vary"] = "Accept"
    return resp
