"""The procedure browser: search ignoring diacritics, filters, pagination, and the detail page."""
from __future__ import annotations

import math
from typing import Any

from flask import Response, abort, render_template, request

from .. import exporter
from .. import procedures as service
from ..context import get_store, settings
from ..reporting import cached_value
from ..schemas import LEVELS, PAYMENT_CHANNELS
from ..store import NotFound
from . import labels, tables
from .blueprint import bp
from .labels import ACTIONS, DIMENSIONS, FIELDS, SOURCES, VERDICTS
from .security import current_principal, login_required

PER_PAGE = 50
MAX_EXPORT = 100000
MAX_PAGE = 1_000_000
MSG_PAGE = "Số trang (page) phải là số nguyên từ 1 đến 1.000.000."
SORTS = {"code": "Mã", "name": "Tên", "-updated_at": "Mới cập nhật", "service_level": "Mức độ tăng dần",
         "-service_level": "Mức độ giảm dần", "agency": "Cơ quan"}
FLAG_ARGS = {"integrated": "integrated", "sso": "sso", "has_fee": "has_fee"}


def _flag(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


def list_args() -> dict[str, Any]:
    """The list's query arguments, validated (unknown values are ignored, not errors)."""
    a = request.args
    args: dict[str, Any] = {"q": a.get("q", "").strip(), "agency": a.get("agency", "").strip(),
                            "field": a.get("field", "").strip(), "tier": a.get("tier", ""),
                            "level": a.get("level", ""), "payment_channel": a.get("payment_channel", ""),
                            "status": a.get("status", "active"), "sort": a.get("sort", "")}
    for name in FLAG_ARGS:
        args[name] = a.get(name, "")
    if args["tier"] not in (*LEVELS, ""):
        args["tier"] = ""
    if args["level"] not in ("1", "2", "3", "4", ""):
        args["level"] = ""
    if args["payment_channel"] not in (*PAYMENT_CHANNELS, ""):
        args["payment_channel"] = ""
    if args["status"] not in ("active", "retired", "all"):
        args["status"] = "active"
    if args["sort"] not in SORTS:
        args["sort"] = ""
    raw_page = a.get("page", "1").strip() or "1"
    if not (raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= 7
            and 1 <= int(raw_page) <= MAX_PAGE):
        abort(400, description=MSG_PAGE)
    args["page"] = int(raw_page)
    args["mine"] = a.get("mine", "") == "1"
    args["unassigned"] = a.get("unassigned", "") == "1"
    return args


def query(args: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of procedures matching `args`, and how many match in all."""
    store = get_store()
    agency: Any = args["agency"] or None
    principal = current_principal()
    if args.get("unassigned"):
        agency = ""  # procedures no agency has been assigned to (for admins to assign)
    elif args.get("mine") and principal is not None and principal.agencies:
        agency = [args["agency"]] if args["agency"] in principal.agencies else list(principal.agencies)
    filters: dict[str, Any] = {"agency": agency, "field": args["field"] or None,
                               "level": int(args["level"]) if args["level"] else None,
                               "payment_channel": args["payment_channel"] or None}
    for name, key in FLAG_ARGS.items():
        filters[key] = _flag(args[name])
    if args["status"] != "all":
        filters["status"] = args["status"]
    sort = args["sort"] or (None if args["q"] else "code")
    options = {"q": args["q"] or None, "filters": filters, "sort": sort,
               "include_retired": args["status"] == "all"}
    if not args["tier"]:
        return store.list_procedures(limit=limit, offset=offset, **options)
    # The store has no filter on the tiers a procedure is offered at: filter here (a few
    # thousand rows at most in a province's registry).
    rows, _ = store.list_procedures(limit=MAX_EXPORT, offset=0, **options)
    rows = [r for r in rows if args["tier"] in r["levels"]]
    return rows[offset:offset + limit], len(rows)


def _choices(store: Any) -> tuple[list[str], list[str]]:
    """Agencies and fields of the active procedures, for the filter lists."""
    active = store.coverage_rows()
    return (sorted({r["agency"] for r in active if r["agency"]}),
            sorted({r["field"] for r in active if r["field"]}))


def _download(args: dict[str, Any], fmt: str) -> Response:
    rows, _ = query(args, MAX_EXPORT, 0)
    resp = Response(exporter.export(rows, fmt), mimetype=exporter.MEDIA_TYPES[fmt].split(";")[0])
    if fmt == "csv":
        resp.charset = "utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="tthc-thu-tuc.{fmt}"'
    return resp


@bp.route("/procedures")
def procedures() -> Any:
    """Search and filter procedures; `?format=csv|json` downloads every match (canonical fields)."""
    return _list_page(mine=False)


@bp.route("/procedures/mine")
@login_required
def my_procedures() -> Any:
    """"Thủ tục của tôi": the procedures of the signed-in officer's agencies, each row saying
    whether it can be edited and, if not, why."""
    return _list_page(mine=True)


def _list_page(*, mine: bool) -> Any:
    args = list_args()
    args["mine"] = args["mine"] or mine
    fmt = tables.requested_format()
    if fmt:
        return _download(args, fmt)
    # The page and the filter choices come from the cache while the change counter stands.
    cfg = settings()
    rows, total = cached_value(get_store, cfg, "dashboard.procedures", args,
                               lambda s: query(args, PER_PAGE, (args["page"] - 1) * PER_PAGE),
                               clock_sensitive=False).value
    pages = max(1, math.ceil(total / PER_PAGE))
    agencies, fields_ = cached_value(get_store, cfg, "dashboard.procedure_choices", None, _choices,
                                     clock_sensitive=False).value
    principal = current_principal()
    rows = [dict(r) for r in rows]  # cached rows are shared: annotate copies
    for r in rows:
        why = service.editability(principal, r)
        r["editable"] = why is None
        r["not_editable"] = labels.not_editable(why, service.outside_agencies(principal, service.agencies_of(r)))
    link_args = {k: v for k, v in request.args.items() if k not in ("page", "format")}
    return render_template("dashboard/procedures.html", rows=rows, total=total, args=args, pages=pages,
                           mine=args["mine"], own_agencies=list(principal.agencies) if principal else [],
                           agencies=agencies, fields=fields_, sorts=SORTS, tiers=LEVELS,
                           link_args=link_args, downloads=tables.download_urls())


def audit_changes(entry: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of every field an audit entry changed."""
    before, after = entry.get("before") or {}, entry.get("after") or {}
    keys = [k for k in after if k not in ("code", "version")] or list(before)
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@bp.route("/procedures/<code>")
def procedure(code: str) -> Any:
    """Every field of one procedure, its probe history with evidence and its audit trail."""
    store = get_store()
    try:
        rec = store.get_procedure(code)
    except NotFound:
        abort(404, description=f"Không có thủ tục mã {code}.")
    verdicts = store.verdicts_for(code)
    attempts = store.probe_history(code, limit=200)
    audit = store.history(code)
    payments = store.list_payments(code)
    for entry in audit:
        entry["changes"] = audit_changes(entry)
    principal = current_principal()
    why = service.editability(principal, rec)
    probe_table = tables.Table(
        "probes", [("id", "Lần"), ("run_id", "Lượt"), ("dimension", "Khía cạnh"), ("verdict", "Kết luận"),
                   ("checked_at", "Lúc"), ("duration_ms", "Thời gian (ms)"), ("details", "Chi tiết"),
                   ("evidence", "Bằng chứng")], attempts, filename=f"tthc-{code}-kiem-tra")
    audit_table = tables.Table(
        "audit", [("id", "STT"), ("at", "Lúc"), ("actor", "Người thực hiện"), ("source", "Nguồn"),
                  ("action", "Thao tác"), ("before", "Trước"), ("after", "Sau")], audit,
        filename=f"tthc-{code}-nhat-ky")
    payment_table = tables.Table(
        "payments", [("received_at", "Lúc nhận"), ("channel", "Kênh"), ("reference", "Mã tham chiếu"),
                     ("amount", "Số tiền"), ("transaction_no", "Mã giao dịch"), ("status", "Trạng thái")],
        payments, filename=f"tthc-{code}-thanh-toan")
    download = tables.pick([probe_table, audit_table, payment_table])
    if download is not None:
        return download
    return render_template(
        "dashboard/procedure.html", p=rec, verdicts=verdicts, attempts=attempts, audit=audit,
        payments=payments, editable=why is None,
        not_editable=labels.not_editable(why, service.outside_agencies(principal, service.agencies_of(rec))),
        field_labels=FIELDS, verdict_labels=VERDICTS, dimensions=DIMENSIONS, actions=ACTIONS,
        sources=SOURCES, downloads={t: tables.download_urls(t) for t in ("probes", "audit", "payments")})
