"""/api/v1/dossiers: what one-stop systems send DVCQG (DongBoHoSoMC, DongBoDanhGia), the
`tthc-coverage/2` report of a period, the relay queue and the dossiers DVCQG does not hold."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response, request
from marshmallow import Schema, fields, validate

from .. import dossiers
from ..context import get_store, settings
from ..coverage import CSV_COLUMNS, report_to_csv_rows
from ..dossier_schemas import RatingsBodySchema, SyncBodySchema
from ..store import NotFound
from .blueprint import ApiBlueprint, consumes, has_lone_surrogate
from .conditional import content_etag, not_modified, not_modified_response
from .errors import ApiProblem
from .security import current_principal, require

blp = ApiBlueprint(
    "dossiers",
    __name__,
    url_prefix="/dossiers",
    description="Dossiers and ratings as one-stop systems sync them to DVCQG; the dossier indicators "
    "(method tthc-coverage/2); the relay to DVCQG.",
)

ENVELOPE = {
    "type": "object",
    "properties": {
        "error_code": {"type": "string", "description": '"00" ok, "02" bad parameters, "04" already exists'},
        "message": {"type": "string"},
        "result": {"type": "array", "items": {}},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "unregistered": {"type": "array", "items": {"type": "string"}},
    },
}


class ReportArgs(Schema):
    """Arguments of the dossier report."""

    period = fields.String(metadata={"description": "`2021`, `2021-Q3` or `2021-07` (default: the latest "
                                                    "year with dossiers)"})
    from_ = fields.Date(data_key="from", metadata={"description": "First day (with `to`)"})
    to = fields.Date(metadata={"description": "Last day (with `from`)"})
    basis = fields.String(load_default="declared", validate=validate.OneOf(["declared", "verified"]))
    group_by = fields.List(fields.String(validate=validate.OneOf(["agency", "field", "level", "procedure"])),
                           load_default=list, metadata={"description": "Repeat for several groupings."})
    as_of = fields.Date(metadata={"description": "Clip the period at this day."})
    format = fields.String(validate=validate.OneOf(["json", "csv"]))


class ListArgs(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=5000))


def _body() -> Any:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiProblem(415, "Send the body as application/json.", slug="unsupported-media-type")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiProblem(400, "The body is not valid JSON.", slug="malformed-json")
    if has_lone_surrogate(body):
        raise ApiProblem(400, "The JSON body holds an unpaired UTF-16 surrogate escape.", slug="malformed-json")
    return body


def _answer(answer: dossiers.SyncAnswer) -> Response:
    resp = Response(json.dumps(answer.to_dict(), ensure_ascii=False), status=answer.status,
                    mimetype="application/json")
    return resp


@blp.route("/sync", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": SyncBodySchema}}},
         responses={200: {"description": "Accepted (`00`)", "content": {"application/json": {"schema": ENVELOPE}}},
                    409: {"description": "`isUpdating` \"False\" named an existing dossier (`04`)",
                          "content": {"application/json": {"schema": ENVELOPE}}},
                    422: {"description": "Bad parameters (`02`), every bad field named",
                          "content": {"application/json": {"schema": ENVELOPE}}}})
@require("system", "admin")
@consumes("json")
def sync() -> Response:
    """`DongBoHoSoMC`: the body a one-stop system sends DVCQG, answered in the adapter's envelope."""
    return _answer(dossiers.sync_dossiers(get_store(), settings(), _body(), principal=current_principal()))


@blp.route("/ratings", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": RatingsBodySchema}}},
         responses={200: {"description": "Accepted (`00`)", "content": {"application/json": {"schema": ENVELOPE}}},
                    422: {"description": "Bad parameters (`02`)",
                          "content": {"application/json": {"schema": ENVELOPE}}}})
@require("system", "admin")
@consumes("json")
def ratings() -> Response:
    """`DongBoDanhGia`: citizens' ratings of dossiers, answered in the adapter's envelope."""
    return _answer(dossiers.sync_ratings(get_store(), settings(), _body(), principal=current_principal()))


def _csv(report: dict[str, Any]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(report_to_csv_rows(report))
    return buf.getvalue()


@blp.route("/coverage", methods=["GET"])
@blp.arguments(ReportArgs, location="query")
@blp.response(200, description="The `tthc-coverage/2` report (JSON, or CSV with `format=csv`)")
def coverage(args: dict[str, Any]) -> Response:
    """The coverage report with the four dossier indicators of a period (method tthc-coverage/2)."""
    store = get_store()
    try:
        period = None
        if args.get("period") or args.get("from_") or args.get("to"):
            period = dossiers.parse_period(args.get("period"), args.get("from_"), args.get("to"))
        report = dossiers.dossier_report(store, settings(), basis=args["basis"], period=period,
                                         group_by=args["group_by"], as_of=args.get("as_of"))
    except dossiers.PeriodError as exc:
        raise ApiProblem(422, str(exc), slug="invalid-period", errors={"period": [str(exc)]}) from None
    if args.get("format") == "csv":
        body, mimetype = _csv(report), "text/csv"
    else:
        body, mimetype = json.dumps(report, ensure_ascii=False), "application/json"
    etag = content_etag({k: v for k, v in report.items() if k != "as_of"} if mimetype != "text/csv" else body)
    if not_modified(etag):
        return not_modified_response(etag)
    resp = Response(body, mimetype=mimetype)
    resp.headers["ETag"] = etag
    return resp


@blp.route("/relay", methods=["GET"])
@blp.response(200, description="The relay outbox to DVCQG: queued entries, the oldest one's age")
def relay() -> dict[str, Any]:
    """The relay queue (relay mode, `TTHC_DOSSIER_RELAY`) and the DVCQG verification queue."""
    return dossiers.relay_status(get_store(), settings())


@blp.route("/unsynced", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, description="Dossiers DVCQG does not hold as the registry does")
@require("system", "admin")
def unsynced(args: dict[str, Any]) -> dict[str, Any]:
    """Dossiers `missing` on DVCQG or with their status behind, most recent first."""
    items = dossiers.unsynced(get_store(), args["limit"])
    return {"items": items, "total": len(items)}


@blp.route("/<path:mahoso>", methods=["GET"])
@blp.response(200, description="One dossier as received, with its DVCQG sync state")
@blp.alt_response(404, response="NOT_FOUND")
@require("system", "admin")
def get_dossier(mahoso: str) -> dict[str, Any]:
    """One dossier (personal data: systems and admins only)."""
    rec = get_store().get_dossier(dossiers.clean_key(mahoso))
    if rec is None:
        raise ApiProblem(404, f"There is no dossier {mahoso}.", slug="not-found")
    return rec


@blp.route("/<path:mahoso>", methods=["DELETE"])
@blp.response(204, description="Deleted")
@blp.alt_response(404, response="NOT_FOUND")
@require("admin")
def delete_dossier(mahoso: str) -> Any:
    """Delete a dossier sent by mistake (admins); the rollups follow in the same transaction."""
    try:
        get_store().delete_dossier(dossiers.clean_key(mahoso))
    except NotFound:
        raise ApiProblem(404, f"There is no dossier {mahoso}.", slug="not-found") from None
    return "", 204
