"""/api/v1/federation: other units' coverage reports, summed (numerators and denominators)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request
from marshmallow import Schema, fields, validate

from .. import federation
from ..context import get_store, settings
from .blueprint import ApiBlueprint
from .schemas import _DATE_RANGE, IndicatorSchema, Open, TotalsSchema, UnitSchema

blp = ApiBlueprint(
    "federation",
    __name__,
    url_prefix="/federation",
    description="Coverage of federated units: latest good snapshots summed; stale or missing units flagged.",
)

CSV_MIMETYPE = "text/csv"


class FederationArgs(Schema):
    format = fields.String(validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "`csv` for CSV (also `Accept: text/csv`)."})
    basis = fields.String(load_default="declared", validate=validate.OneOf(["declared", "verified"]))
    as_of = fields.Date(validate=_DATE_RANGE,
                        metadata={"description": "Sums of the snapshots pulled by the end of this day."})


class LastPullSchema(Open):
    at = fields.String()
    outcome = fields.String(metadata={"description": "changed | not_modified | failed"})
    reason = fields.String()


class UnitIndicatorSchema(Open):
    id = fields.String()
    numerator = fields.Integer()
    denominator = fields.Integer()
    percent = fields.Float(allow_none=True)
    rank = fields.Integer(allow_none=True, metadata={"description": "1 = best percent among included units."})


class FederatedUnitSchema(Open):
    code = fields.String()
    name = fields.String()
    url = fields.String()
    status = fields.String(metadata={"description": "ok | failing (last pull failed, snapshot still fresh) | "
                                                    "stale (left out of the sums) | missing (never pulled)"})
    included = fields.Boolean()
    method = fields.String(allow_none=True)
    as_of = fields.String(allow_none=True)
    pulled_at = fields.String(allow_none=True)
    confirmed_at = fields.String(allow_none=True)
    age_hours = fields.Float(allow_none=True)
    last_pull = fields.Nested(LastPullSchema, allow_none=True)
    totals = fields.Nested(TotalsSchema, allow_none=True)
    indicators = fields.List(fields.Nested(UnitIndicatorSchema))


class FederatedIndicatorSchema(IndicatorSchema):
    units = fields.Integer(metadata={"description": "How many units' figures the sums hold."})


class FederatedCoverageSchema(Open):
    method = fields.String()
    basis = fields.String()
    as_of = fields.String()
    unit = fields.Nested(UnitSchema, allow_none=True)
    rounding = fields.String()
    stale_after_hours = fields.Float()
    totals = fields.Nested(TotalsSchema)
    indicators = fields.List(fields.Nested(FederatedIndicatorSchema))
    units = fields.List(fields.Nested(FederatedUnitSchema))
    missing = fields.List(fields.String())
    stale = fields.List(fields.String())
    failing = fields.List(fields.String())


def _wants_csv(args: dict[str, Any]) -> bool:
    if args.get("format"):
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE]) == CSV_MIMETYPE


@blp.route("/coverage", methods=["GET"])
@blp.arguments(FederationArgs, location="query")
@blp.response(200, FederatedCoverageSchema)
@blp.alt_response(200, schema={"type": "string"}, content_type=CSV_MIMETYPE, success=True,
                  description="National rows, then one row per unit and indicator")
def get_federated_coverage(args: dict[str, Any]) -> Any:
    """Every indicator summed over the federated units' latest good snapshots; units flagged."""
    report = federation.federated_coverage(get_store(), settings(), basis=args["basis"], as_of=args.get("as_of"))
    if not _wants_csv(args):
        return report
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(federation.CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(federation.to_csv_rows(report))
    resp = Response(buf.getvalue(), mimetype=CSV_MIMETYPE)
    resp.headers["Vary"] = "Accept"
    return resp
