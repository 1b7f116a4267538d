"""/api/v1 probe runs, probe history, discrepancies and the payment callbacks (contract 3, 4).

Probe runs start in a background thread (202 + Location; 409 while another sweep runs).
The payment callbacks are public: the checksum is their authentication, and they answer in
the platforms' own format (HTTP 200, the outcome in the body), not with problem details.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from marshmallow import Schema, fields, validate

from .. import probing
from ..context import get_store, settings
from ..evidence import evidence_view
from ..store import NotFound, StoreError, SweepBusy, VN_TZ
from .blueprint import ApiBlueprint, consumes
from .errors import ApiProblem
from .paging import page_envelope
from .schemas import CODE_PATTERN, Open, Page, PageArgs
from .security import current_principal, require

blp = ApiBlueprint("probes", __name__, description="Probe runs, probe evidence, discrepancies and "
                   "the payment platforms' callbacks.")

CSV_MIMETYPE = "text/csv"
RUN_STATUSES = ("running", "completed", "portal_unavailable", "failed", "interrupted", "cancelled")


# -- schemas -------------------------------------------------------------------
class ProbeRunCreate(Schema):
    """What to probe: every active procedure (no `codes`) or some; or resume the interrupted run."""

    kind = fields.String(load_default="all", validate=validate.OneOf(probing.KINDS))
    codes = fields.List(fields.String(validate=validate.Regexp(CODE_PATTERN)),
                        validate=validate.Length(min=1, max=5000),
                        metadata={"description": "Procedure codes; leave out to probe every active one."})
    resume = fields.Boolean(load_default=False, metadata={
        "description": "Resume the last interrupted sweep instead (kind and codes must be left out)."})


class ProbeRunSchema(Open):
    """A probe run: its progress while it runs, its outcome when it ends."""

    id = fields.Integer()
    kind = fields.String()
    selection = fields.Raw(metadata={"description": '{"codes": "all" | [code, ...]}'})
    status = fields.String(metadata={"enum": list(RUN_STATUSES)})
    actor = fields.String()
    started_at = fields.String()
    heartbeat_at = fields.String()
    finished_at = fields.String(allow_none=True)
    total = fields.Integer()
    done = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": '"linkage.integrated": n, "payment.payment_ready": n, ...'})
    message = fields.String()


class ProbeRunPage(Page):
    """A page of probe runs, newest first."""

    items = fields.List(fields.Nested(ProbeRunSchema))


class AttemptSchema(Open):
    """One probe attempt: the verdict, its details and every HTTP call made (evidence)."""

    id = fields.Integer()
    run_id = fields.Integer(allow_none=True)
    code = fields.String()
    dimension = fields.String()
    verdict = fields.String()
    checked_at = fields.String()
    duration_ms = fields.Float()
    details = fields.Dict()
    evidence = fields.List(fields.Dict())


class AttemptPage(Page):
    """A page of attempts, newest first; `latest` is the procedure's current evidence."""

    items = fields.List(fields.Nested(AttemptSchema))
    latest = fields.Dict(metadata={"description": '{"linkage": {verdict, checked_at, stale}, "payment": {...}}'})


class HistoryArgs(PageArgs):
    """Paging and an optional dimension."""

    dimension = fields.String(validate=validate.OneOf(("linkage", "payment")))


class DiscrepancyArgs(Schema):
    """Filter and format of the discrepancy report."""

    kind = fields.String(validate=validate.OneOf(list(probing.DISCREPANCY_KINDS)))
    format = fields.String(validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv, or send `Accept: text/csv`"})


class DiscrepancySchema(Open):
    """One disagreement between the registry and the portal."""

    code = fields.String()
    name = fields.String()
    agency = fields.String()
    kind = fields.String(metadata={"enum": list(probing.DISCREPANCY_KINDS)})
    declared = fields.String()
    observed = fields.String()
    checked_at = fields.String(allow_none=True)


class DiscrepancyReport(Open):
    """Every discrepancy, by kind then code, with counts per kind."""

    items = fields.List(fields.Nested(DiscrepancySchema))
    total = fields.Integer()
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class ConfirmBody(Open):
    """DVCQG Payment Platform CONFIRM (contract 3); MaXacThuc = SHA-256 of the fields joined by |."""

    LoaiBanTin = fields.String(metadata={"example": "CONFIRM"})
    MaLoi = fields.String()
    MaDoiTac = fields.String()
    MaThamChieu = fields.String()
    SoTien = fields.String()
    MaTienTe = fields.String()
    MaGiaoDich = fields.String()
    MaNganHang = fields.String()
    ThoiGianGD = fields.String()
    ThongTinGiaoDich = fields.String()
    MaXacThuc = fields.String()


class ConfirmReply(Open):
    """"00" received (also when received before), "99" refused."""

    MaLoi = fields.String()
    MoTaLoi = fields.String()
    MaThamChieu = fields.String()


class IpnBody(Open):
    """PayGov IPN (contract 4, v2); checksum = SHA-256 of
    orderId|requestCode|amount|errorCode|transactionNo|payDate|orderInfo|secretKey."""

    amount = fields.String()
    orderId = fields.String()
    orderInfo = fields.String()
    requestCode = fields.String()
    transactionNo = fields.String()
    payDate = fields.String()
    paygate = fields.String()
    errorCode = fields.String()
    type = fields.String()
    transactionCode = fields.String()
    checksum = fields.String()


class IpnReply(Open):
    """SUCCESSFUL received (also when received before), FAILED malformed, SIGNATURE_WRONG forged."""

    error_code = fields.String()
    error_message = fields.String()


# -- probe runs ----------------------------------------------------------------
def _run_or_404(run_id: int) -> dict[str, Any]:
    try:
        return get_store().get_run(run_id)
    except NotFound:
        raise ApiProblem(404, f"There is no probe run {run_id}.", slug="not-found") from None


@blp.route("/probe-runs", methods=["POST"])
@require("editor", "admin")
@consumes("json")
@blp.arguments(ProbeRunCreate)
@blp.response(202, ProbeRunSchema, headers={"Location": {"description": "The run's URL",
                                                         "schema": {"type": "string"}}})
@blp.alt_response(409, description="Another sweep is running, or nothing to resume")
@blp.alt_response(503, description="The probe engine has no portal configured (TTHC_PORTAL_URL)")
def start_run(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Start a sweep in the background; follow its Location for progress and outcome."""
    raw = request.get_json(silent=True) or {}
    if body["resume"] and ("codes" in raw or "kind" in raw):
        raise ApiProblem(422, "`resume` continues the interrupted sweep as it was: leave out kind and codes.",
                         slug="validation-failed", errors={"resume": ["cannot be combined with kind or codes"]})
    try:
        run = probing.start_sweep_in_background(
            current_app._get_current_object(), kind=body["kind"], actor=current_principal().username,
            codes=body.get("codes"), resume=body["resume"])
    except SweepBusy as exc:
        raise ApiProblem(409, f"{exc}; one sweep at a time.", slug="sweep-running") from None
    except probing.NothingToResume as exc:
        raise ApiProblem(409, str(exc), slug="nothing-to-resume") from None
    except probing.SelectionError as exc:
        raise ApiProblem(422, str(exc), slug="validation-failed", errors={"codes": [str(exc)]}) from None
    except probing.ProbeConfigError as exc:
        raise ApiProblem(503, str(exc), slug="probe-engine-unconfigured") from None
    except StoreError as exc:
        raise ApiProblem(409, str(exc), slug="conflict") from None
    return run, 202, {"Location": url_for("probes.get_run", run_id=run["id"])}


@blp.route("/probe-runs", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, ProbeRunPage)
def list_runs(args: dict[str, Any]) -> dict[str, Any]:
    """Probe runs, newest first."""
    store, page, per_page = get_store(), args["page"], args["per_page"]
    items = store.list_runs(limit=per_page, offset=(page - 1) * per_page)
    return page_envelope(items, store.count_runs(), page, per_page)


@blp.route("/probe-runs/<int:run_id>", methods=["GET"])
@blp.response(200, ProbeRunSchema)
def get_run(run_id: int) -> dict[str, Any]:
    """One probe run (`running` until `finished_at` is set)."""
    return _run_or_404(run_id)


@blp.route("/probe-runs/<int:run_id>/attempts", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, AttemptPage)
def run_attempts(args: dict[str, Any], run_id: int) -> dict[str, Any]:
    """The attempts of one run, in the order they were made."""
    _run_or_404(run_id)
    attempts = get_store().run_attempts(run_id)
    page, per_page = args["page"], args["per_page"]
    start = (page - 1) * per_page
    return page_envelope(attempts[start:start + per_page], len(attempts), page, per_page)


@blp.route("/procedures/<code>/probes", methods=["GET"])
@blp.arguments(HistoryArgs, location="query")
@blp.response(200, AttemptPage)
def procedure_probes(args: dict[str, Any], code: str) -> dict[str, Any]:
    """Every probe attempt of one procedure, newest first, with its evidence."""
    store = get_store()
    try:
        store.get_procedure(code)
    except NotFound:
        raise ApiProblem(404, f"There is no procedure with code {code}.", slug="not-found") from None
    page, per_page, dimension = args["page"], args["per_page"], args.get("dimension")
    items = store.probe_history(code, dimension=dimension, limit=per_page, offset=(page - 1) * per_page)
    body = page_envelope(items, store.count_probe_history(code, dimension=dimension), page, per_page)
    body["latest"] = evidence_view(store.verdicts_for(code), settings(), datetime.now(VN_TZ))
    return body


# -- discrepancies ---------------------------------------------------------------
def _wants_csv(args: dict[str, Any]) -> bool:
    if args.get("format"):
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE]) == CSV_MIMETYPE


@blp.route("/discrepancies", methods=["GET"])
@blp.arguments(DiscrepancyArgs, location="query")
@blp.response(200, DiscrepancyReport)
@blp.alt_response(200, schema={"type": "string"}, content_type=CSV_MIMETYPE, success=True,
                  description="The rows as CSV: code,name,agency,kind,declared,observed,checked_at")
def get_discrepancies(args: dict[str, Any]) -> Any:
    """Where the declarations and the latest probe verdicts disagree; JSON or CSV."""
    rows = probing.discrepancies(get_store(), settings())
    if args.get("kind"):
        rows = [r for r in rows if r["kind"] == args["kind"]]
    if _wants_csv(args):
        resp = Response(probing.to_csv(rows), mimetype=CSV_MIMETYPE)
        resp.headers["Vary"] = "Accept"
        return resp
    by_kind: dict[str, int] = {}
    for row in rows:
        by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + 1
    return {"items": rows, "total": len(rows), "by_kind": by_kind}


# -- payment callbacks -------------------------------------------------------------
def _callback_bytes() -> tuple[bytes, int | None]:
    """At most 64 KiB + 1 of the raw body (never more is read), and the declared length."""
    declared = request.content_length
    try:
        if declared is not None and declared > probing.MAX_CALLBACK_BYTES:
            # Refused before reading: keep only the first bytes for the record.
            return request.stream.read(probing.HEAD_BYTES), declared
        return request.stream.read(probing.MAX_CALLBACK_BYTES + 1), declared
    except RequestEntityTooLarge:  # over the app-wide upload limit: nothing is read at all
        return b"", declared


def _contract_reply(status: int, reply: dict[str, Any]) -> Response:
    resp = jsonify(reply)
    resp.status_code = status
    if status == 413:
        resp.headers["Connection"] = "close"
    return resp


@blp.route("/payments/dvcqg/confirm", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ConfirmBody}}},
         security=[])
@blp.response(200, ConfirmReply)
@blp.alt_response(400, schema=ConfirmReply, description="Not a JSON object of the contract's fields (refused, kept)")
@blp.alt_response(413, schema=ConfirmReply, description="Body over 64 KiB, refused before parsing (kept, bounded)")
def dvcqg_confirm() -> Response:
    """CONFIRM from the DVCQG Payment Platform: verified, kept once, answered "00" or "99"."""
    raw, declared = _callback_bytes()
    status, reply = probing.handle_dvcqg_confirm(get_store(), settings(), raw, address=request.remote_addr or "",
                                                 size=declared)
    return _contract_reply(status, reply)


@blp.route("/payments/paygov/ipn", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": IpnBody}}},
         security=[])
@blp.response(200, IpnReply)
@blp.alt_response(400, schema=IpnReply, description="Not a JSON object of the contract's fields (refused, kept)")
@blp.alt_response(413, schema=IpnReply, description="Body over 64 KiB, refused before parsing (kept, bounded)")
def paygov_ipn() -> Response:
    """IPN from PayGov: verified, kept once, answered SUCCESSFUL / FAILED / SIGNATURE_WRONG."""
    raw, declared = _callback_bytes()
    status, reply = probing.handle_paygov_ipn(get_store(), settings(), raw, address=request.remote_addr or "",
                                              size=declared)
    return _contract_reply(status, reply)
