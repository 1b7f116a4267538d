"""/api/v1/procedures: list, get, create, update (If-Match), retire (soft delete)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from flask import Response, url_for

from .. import procedures as service
from ..context import get_store, settings
from ..store import VN_TZ, DuplicateCode, NotFound, Store, VersionConflict
from ..reporting import cached_value, value_not_modified
from .blueprint import ApiBlueprint, consumes
from .conditional import (
    ETAG_HEADER,
    IF_MATCH_PARAM,
    IF_NONE_MATCH_PARAM,
    expected_version,
    if_none_match,
    not_modified,
    not_modified_response,
    precondition_failed,
    version_etag,
)
from .errors import ApiProblem
from .paging import page_envelope
from .schemas import (
    ProcedureCreate,
    ProcedureListArgs,
    ProcedurePage,
    ProcedurePatch,
    ProcedurePut,
    ProcedureSchema,
    ReasonArgs,
    ReasonBody,
)
from .security import current_principal, require

blp = ApiBlueprint(
    "procedures",
    __name__,
    url_prefix="/procedures",
    description="The registry: procedures, their levels, integration and payment flags.",
)

try:  # the probe engine's one definition of a verdict's view and staleness
    from ..evidence import evidence_view
except ModuleNotFoundError:  # pragma: no cover - without the probe engine there is no evidence
    evidence_view = None

SOURCE = "api"
_NO_EVIDENCE = {"verdict": None, "checked_at": None, "stale": False}
_CODE_PARAM = [
    {
        "in": "path",
        "name": "code",
        "required": True,
        "description": "Procedure code, e.g. 1.001193",
        "schema": {"type": "string"},
    }
]
_WRITE_DOC = {
    "parameters": [IF_MATCH_PARAM],
    "responses": {404: "NOT_FOUND", 412: "PRECONDITION_FAILED", 428: "PRECONDITION_REQUIRED"},
}


def _evidence(store: Store, codes: list[str]) -> dict[str, dict[str, Any]]:
    """Latest stored verdicts per code (only codes that have some)."""
    if len(codes) <= 100:
        return {c: store.verdicts_for(c) for c in codes}
    wanted = set(codes)
    return {c: v for c, v in store.latest_verdicts().items() if c in wanted}


def present(store: Store, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Procedures with their `linkage` and `payment` evidence attached (nulls until probed)."""
    if evidence_view is None or not hasattr(store, "verdicts_for"):
        return [
            {**r, "linkage": dict(_NO_EVIDENCE), "payment": dict(_NO_EVIDENCE)} for r in records
        ]
    evidence = _evidence(store, [r["code"] for r in records])
    cfg, now = settings(), datetime.now(VN_TZ)
    return [{**r, **evidence_view(evidence.get(r["code"], {}), cfg, now)} for r in records]


def _not_found(code: str) -> ApiProblem:
    return ApiProblem(404, f"There is no procedure with code {code}.", slug="not-found")


def _load(store: Store, code: str) -> dict[str, Any]:
    try:
        return store.get_procedure(code)
    except NotFound:
        raise _not_found(code) from None


def _written(
    store: Store, rec: dict[str, Any], status: int = 200
) -> tuple[dict[str, Any], int, dict[str, str]]:
    return present(store, [rec])[0], status, {"ETag": version_etag(rec["version"])}


def _outside(exc: service.OutOfScope) -> ApiProblem:
    return ApiProblem(403, str(exc), slug="outside-scope", agencies=exc.agencies or None)


def _write(code: str, action: Callable[[int | None], dict[str, Any]]) -> Any:
    """Run one service call with the version If-Match names; its errors as problems."""
    store = get_store()
    missing: ApiProblem | None = None
    try:
        try:
            version: int | None = expected_version(lambda: _load(store, code)["version"])
        except ApiProblem as exc:
            if exc.code != 428:
                raise
            missing, version = exc, None  # the service checks scope first, then refuses
        rec = action(version)
    except service.VersionRequired:
        raise missing or ApiProblem(428, "Send `If-Match`.", slug="precondition-required") from None
    except service.OutOfScope as exc:
        raise _outside(exc) from None
    except service.ReasonRequired as exc:
        raise ApiProblem(422, str(exc), slug="validation-failed", errors={"reason": [str(exc)]}) from None
    except VersionConflict as exc:
        raise precondition_failed(exc.current_version) from None
    except NotFound:
        raise _not_found(code) from None
    return _written(store, rec)


@blp.route("", methods=["GET"])
@blp.arguments(ProcedureListArgs, location="query")
@blp.response(200, ProcedurePage, headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified (If-None-Match names the current page)")
@blp.doc(parameters=[IF_NONE_MATCH_PARAM])
def list_procedures(args: dict[str, Any]) -> Any:
    """List procedures: filters, diacritic-insensitive search, sorting, pages; ETag, 304."""
    cfg = settings()
    params = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in sorted(args.items())}
    current = value_not_modified(cfg, if_none_match(), "api.procedures", params)
    if current:
        return not_modified_response(current)
    # Cached as the JSON text itself: dumping 50 procedures costs more than reading them.
    doc = cached_value(get_store, cfg, "api.procedures", params,
                       lambda store: json.dumps(ProcedurePage().dump(_list_page(store, args)), ensure_ascii=False))
    resp = Response(doc.value, mimetype="application/json")
    resp.headers["ETag"] = doc.etag
    return resp


def _list_page(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    filters = {
        k: args.get(k)
        for k in ("level", "agency", "field", "integrated", "payment_channel", "sso", "has_fee")
    }
    status = args["status"]
    filters["status"] = None if status == "all" else status
    if args.get("unassigned"):
        filters["agency"] = ""  # the store's "no agency" (imports leave new ones so)
    page, per_page = args["page"], args["per_page"]
    rows, total = store.list_procedures(
        q=args.get("q"),
        filters=filters,
        sort=args.get("sort"),
        limit=per_page,
        offset=(page - 1) * per_page,
        include_retired=status == "all",
    )
    return page_envelope(present(store, rows), total, page, per_page)


@blp.route("", methods=["POST"])
@blp.response(
    201,
    ProcedureSchema,
    headers={
        **ETAG_HEADER,
        "Location": {"description": "URL of the new procedure", "schema": {"type": "string"}},
    },
)
@blp.alt_response(409, response="CONFLICT")
@require("editor", "admin")
@consumes("json")
@blp.arguments(ProcedureCreate)
def create_procedure(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register a new procedure (editors: only of their agencies)."""
    store = get_store()
    try:
        rec = service.create(store, current_principal(), data, source=SOURCE)
    except service.OutOfScope as exc:
        raise _outside(exc) from None
    except DuplicateCode:
        raise ApiProblem(
            409,
            f"A procedure with code {data['code']} already exists; update it with PATCH instead.",
            slug="duplicate-code",
        ) from None
    body, status, headers = _written(store, rec, 201)
    headers["Location"] = url_for(".get_procedure", code=rec["code"])
    return body, status, headers


@blp.route("/<code>", methods=["GET"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified (If-None-Match names the current version)")
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(parameters=[IF_NONE_MATCH_PARAM])
def get_procedure(code: str) -> Any:
    """One procedure (retired ones too); its ETag is its version."""
    store = get_store()
    rec = _load(store, code)
    etag = version_etag(rec["version"])
    if not_modified(etag):
        return not_modified_response(etag)
    return present(store, [rec])[0], 200, {"ETag": etag}


@blp.route("/<code>", methods=["PATCH"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER)
@blp.doc(**_WRITE_DOC)
@require("editor", "admin")
@consumes("json")
@blp.arguments(ProcedurePatch)
def patch_procedure(changes: dict[str, Any], code: str) -> Any:
    """Change some fields; needs `If-Match` with the version you read."""
    return _write(code, lambda version: service.update(
        get_store(), current_principal(), code, changes, expected_version=version, source=SOURCE))


@blp.route("/<code>", methods=["PUT"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER)
@blp.doc(**_WRITE_DOC)
@require("editor", "admin")
@consumes("json")
@blp.arguments(ProcedurePut)
def put_procedure(data: dict[str, Any], code: str) -> Any:
    """Replace every editable field (absent ones take defaults, except `status`, which a PUT
    without it keeps: retiring and restoring are explicit); needs `If-Match`."""
    given = data.pop("code", code)
    if given != code:
        raise ApiProblem(
            422,
            f"The body's code {given} is not the path's {code}; a code cannot change.",
            slug="validation-failed",
            errors={"code": ["must equal the code in the path"]},
        )
    changes = service.put_changes(data)
    return _write(code, lambda version: service.update(
        get_store(), current_principal(), code, changes, expected_version=version, source=SOURCE))


def _retire(code: str, reason: str | None) -> Any:
    return _write(code, lambda version: service.retire(
        get_store(), current_principal(), code, expected_version=version, reason=reason,
        source=SOURCE, reason_required=False))


@blp.route("/<code>", methods=["DELETE"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER, description="The retired procedure")
@blp.doc(**_WRITE_DOC)
@require("editor", "admin")
@blp.arguments(ReasonArgs, location="query")
def delete_procedure(args: dict[str, Any], code: str) -> Any:
    """Retire (soft delete: kept with its history, leaves coverage); needs `If-Match`.
    `?reason=` is kept in the audit log."""
    return _retire(code, args.get("reason"))


@blp.route("/<code>/retire", methods=["POST"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER, description="The retired procedure")
@blp.doc(**_WRITE_DOC)
@require("editor", "admin")
@consumes("json")
@blp.arguments(ReasonBody, required=False)
def retire_procedure(body: dict[str, Any], code: str) -> Any:
    """Retire the procedure (same as DELETE); needs `If-Match`; `{"reason": ...}` is audited."""
    return _retire(code, (body or {}).get("reason"))


@blp.route("/<code>/restore", methods=["POST"], parameters=_CODE_PARAM)
@blp.response(200, ProcedureSchema, headers=ETAG_HEADER, description="The restored procedure")
@blp.doc(**_WRITE_DOC)
@require("editor", "admin")
@consumes("json")
@blp.arguments(ReasonBody, required=False)
def restore_procedure(body: dict[str, Any], code: str) -> Any:
    """Bring a retired procedure back (status `active`); needs `If-Match`."""
    reason = (body or {}).get("reason")
    return _write(code, lambda version: service.restore(
        get_store(), current_principal(), code, expected_version=version, reason=reason,
        source=SOURCE))
