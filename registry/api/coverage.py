"""/api/v1/coverage: the `tthc-coverage/1` report as JSON or CSV, grouped, as of a day; ETag."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, request

from ..context import get_store, settings
from ..coverage import CSV_COLUMNS, report_to_csv_rows
from ..spreadsheet import safe_dict
from ..reporting import coverage_report
from .blueprint import ApiBlueprint
from .conditional import (
    ETAG_HEADER,
    IF_NONE_MATCH_PARAM,
    content_etag,
    not_modified,
    not_modified_response,
)
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


def _csv(report: dict[str, Any]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(safe_dict(row) for row in report_to_csv_rows(report))
    return buf.getvalue()


@blp.route("", methods=["GET"])
@blp.arguments(CoverageArgs, location="query")
@blp.response(
    200,
    CoverageReportSchema,
    headers={**ETAG_HEADER, "Vary": {"description": "Accept", "schema": {"type": "string"}}},
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
    report = coverage_report(
        get_store(),
        settings(),
        basis=args["basis"],
        group_by=args["group_by"],
        as_of=args.get("as_of"),
    )
    if _wants_csv(args):
        body, mimetype = _csv(report), CSV_MIMETYPE
        etag = content_etag({"csv": body})
    else:
        body, mimetype = json.dumps(report, ensure_ascii=False), "application/json"
        # The report's `as_of` is "now" when no date is asked: leave it out so that the tag
        # changes only when the figures do.
        etag = content_etag({k: v for k, v in report.items() if k != "as_of"})
    if not_modified(etag):
        resp = not_modified_response(etag)
    else:
        resp = Response(body, mimetype=mimetype)
        resp.headers["ETag"] = etag
    resp.headers["Vary"] = "Accept"
    return resp
