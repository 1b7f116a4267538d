"""Staff forms: register, edit and retire procedures of their own agencies (checked server-side)."""
from __future__ import annotations

from typing import Any, Mapping

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from .. import procedures as service
from ..context import get_store
from ..schemas import LEVELS, ProcedureCreateSchema, ProcedureUpdateSchema
from ..store import DuplicateCode, NotFound, VersionConflict
from .blueprint import bp
from .labels import not_editable
from .security import current_principal, is_editor, role_required

SOURCE = "dashboard"
FLAGS = ("has_fee", "dvcqg_integrated", "sso")
# Vietnamese messages for the schema's field errors (the English detail is kept beside them).
MESSAGES = {
    "code": "Mã thủ tục phải có dạng 1.000771 hoặc 2.002195.H26.",
    "name": "Hãy nhập tên thủ tục (tối đa 5.000 ký tự).",
    "field": "Lĩnh vực quá dài (tối đa 300 ký tự).",
    "agency": "Tên cơ quan quá dài (tối đa 300 ký tự).",
    "issuing_agency": "Tên cơ quan ban hành quá dài (tối đa 300 ký tự).",
    "levels": "Cấp thực hiện không hợp lệ.",
    "service_level": "Mức độ phải là 1, 2, 3 hoặc 4.",
    "payment_channel": "Kênh thanh toán không hợp lệ.",
}
MSG_NO_FEE_CHANNEL = "Thủ tục không thu phí thì không thể có kênh thanh toán trực tuyến."
MSG_AGENCY_REQUIRED = "Hãy chọn cơ quan thực hiện."
MSG_VERSION = ("Biểu mẫu không cho biết bạn đã sửa phiên bản nào của thủ tục, nên không có gì được lưu. "
               "Hãy mở lại trang thủ tục rồi làm lại.")
MSG_REASON = "Hãy ghi lý do bãi bỏ (lý do được lưu vào nhật ký thay đổi)."


def form_to_data(form: MultiDict, *, creating: bool) -> dict[str, Any]:
    """The submitted form as input for the procedure schemas (checkboxes become booleans)."""
    data: dict[str, Any] = {k: form.get(k, "") for k in ("name", "field", "agency", "issuing_agency")}
    if creating:
        data["code"] = form.get("code", "")
    data["agencies"] = form.get("agencies", "")
    data["levels"] = [v for v in form.getlist("levels") if v]
    data["service_level"] = form.get("service_level", "")
    data["payment_channel"] = form.get("payment_channel", "none")
    for flag in FLAGS:
        data[flag] = flag in form
    return data


def vietnamese_errors(messages: Mapping[str, Any]) -> dict[str, str]:
    """Field errors of a ValidationError, in Vietnamese with the original detail appended."""
    out = {}
    for name, detail in messages.items():
        text = " ".join(str(m) for m in detail) if isinstance(detail, list) else str(detail)
        if name == "payment_channel" and "without fee" in text:
            out[name] = MSG_NO_FEE_CHANNEL
        else:
            out[name] = f"{MESSAGES.get(name, 'Giá trị không hợp lệ.')} ({text})"
    return out


def refuse(exc: service.OutOfScope) -> None:
    """Answer 403 naming why, the agencies concerned and the agencies this account may update."""
    principal = current_principal()
    own = ", ".join(principal.agencies) if principal and principal.agencies else None
    why = not_editable(exc.reason, exc.agencies)
    if principal is not None and principal.role == "admin":
        scope = "Tài khoản quản trị được cập nhật mọi thủ tục."
    elif own:
        scope = f"Tài khoản của bạn chỉ được cập nhật thủ tục của: {own}."
    else:
        scope = "Tài khoản của bạn chưa được giao cơ quan nào."
    if exc.reason == "outside":
        what = f"Bạn không có quyền thay đổi thủ tục của cơ quan: {', '.join(exc.agencies)}."
    else:
        what = f"Bạn không có quyền thay đổi thủ tục này. {why}"
    abort(403, description=f"{what} {scope}")


def _form(template_vars: dict[str, Any], status: int = 200) -> Any:
    principal = current_principal()
    agencies = (list(principal.agencies) if principal and principal.role != "admin"
                else [a["name"] for a in get_store().list_agencies()])
    return render_template("dashboard/procedure_form.html", tiers=LEVELS, agency_choices=agencies,
                           restricted=principal is not None and principal.role != "admin",
                           **template_vars), status


def _version() -> int | None:
    """The version the form was rendered from (None when missing or not a number)."""
    raw = request.form.get("version", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


@bp.route("/procedures/new", methods=["GET", "POST"])
@role_required(is_editor)
def procedure_new() -> Any:
    """Register a new procedure of one of the editor's agencies."""
    if request.method == "GET":
        return _form({"values": {"service_level": 2, "payment_channel": "none"}, "errors": {},
                      "creating": True})
    data = form_to_data(request.form, creating=True)
    errors: dict[str, str] = {}
    try:
        clean = ProcedureCreateSchema().load(data)
    except ValidationError as exc:
        errors = vietnamese_errors(exc.messages)
        clean = {}
    if not data["agency"].strip() and "agency" not in errors:
        errors["agency"] = MSG_AGENCY_REQUIRED
    if errors:
        return _form({"values": data, "errors": errors, "creating": True}, 422)
    try:
        rec = service.create(get_store(), current_principal(), clean, source=SOURCE)
    except service.OutOfScope as exc:
        refuse(exc)
    except DuplicateCode:
        errors["code"] = f"Đã có thủ tục mã {clean['code']}; hãy sửa thủ tục đó thay vì đăng ký lại."
        return _form({"values": data, "errors": errors, "creating": True}, 409)
    flash(f"Đã đăng ký thủ tục {rec['code']} “{rec['name']}”.", "success")
    return redirect(url_for("dashboard.procedure", code=rec["code"]))


def _load_editable(code: str) -> dict[str, Any]:
    try:
        rec = get_store().get_procedure(code)
    except NotFound:
        abort(404, description=f"Không có thủ tục mã {code}.")
    refusal = service.scope_refusal(current_principal(), rec, None)
    if refusal is not None:
        refuse(service.OutOfScope("", principal=current_principal(), agencies=refusal.agencies,
                                  reason=refusal.reason))
    return rec


def _conflict(code: str, exc: VersionConflict) -> None:
    flash(f"Thủ tục {code} vừa được người khác sửa (nay là phiên bản {exc.current_version}); "
          "thay đổi của bạn chưa được lưu. Hãy xem lại rồi làm lại.", "error")


@bp.route("/procedures/<code>/edit", methods=["GET", "POST"])
@role_required(is_editor)
def procedure_edit(code: str) -> Any:
    """Edit a procedure: the stored and the new agencies must all be the editor's."""
    rec = _load_editable(code)
    if request.method == "GET":
        return _form({"values": rec, "errors": {}, "creating": False, "p": rec})
    data = form_to_data(request.form, creating=False)
    values = {**rec, **data, "code": code}
    try:
        changes = ProcedureUpdateSchema().load(data)
    except ValidationError as exc:
        return _form({"values": values, "errors": vietnamese_errors(exc.messages), "creating": False,
                      "p": rec}, 422)
    if not changes.get("agency"):
        return _form({"values": values, "errors": {"agency": MSG_AGENCY_REQUIRED}, "creating": False,
                      "p": rec}, 422)
    try:
        stored = service.update(get_store(), current_principal(), code, changes,
                                expected_version=_version(), source=SOURCE)
    except service.OutOfScope as exc:
        refuse(exc)
    except service.VersionRequired:
        flash(MSG_VERSION, "error")
        return _form({"values": values, "errors": {}, "creating": False, "p": rec}, 409)
    except VersionConflict as exc:
        _conflict(code, exc)
        return _form({"values": values, "errors": {}, "creating": False, "p": get_store().get_procedure(code)},
                     409)
    if stored["version"] == rec["version"]:
        flash("Không có gì thay đổi.", "info")
    else:
        flash(f"Đã lưu thủ tục {code} (phiên bản {stored['version']}).", "success")
    return redirect(url_for("dashboard.procedure", code=code))


@bp.route("/procedures/<code>/retire", methods=["GET", "POST"])
@role_required(is_editor)
def procedure_retire(code: str) -> Any:
    """Retire (soft-delete) a procedure after a confirmation page that asks for the reason."""
    rec = _load_editable(code)
    if rec["status"] == "retired":
        flash(f"Thủ tục {code} đã bãi bỏ từ trước.", "info")
        return redirect(url_for("dashboard.procedure", code=code))
    if request.method == "GET":
        return render_template("dashboard/procedure_retire.html", p=rec, error=None, reason="")
    reason = request.form.get("reason", "")
    if request.form.get("confirm") != "1" or not reason.strip():
        return render_template("dashboard/procedure_retire.html", p=rec, error=MSG_REASON,
                               reason=reason), 422
    try:
        service.retire(get_store(), current_principal(), code, expected_version=_version(),
                       reason=reason, source=SOURCE)
    except service.OutOfScope as exc:
        refuse(exc)
    except service.ReasonRequired:
        return render_template("dashboard/procedure_retire.html", p=rec, error=MSG_REASON,
                               reason=reason), 422
    except service.VersionRequired:
        flash(MSG_VERSION, "error")
        return redirect(url_for("dashboard.procedure", code=code))
    except VersionConflict as exc:
        _conflict(code, exc)
        return redirect(url_for("dashboard.procedure", code=code))
    flash(f"Đã bãi bỏ thủ tục {code} “{rec['name']}”. Thủ tục không còn tính vào chỉ tiêu; "
          "có thể khôi phục từ trang này.", "success")
    return redirect(url_for("dashboard.procedure", code=code))


@bp.route("/procedures/<code>/restore", methods=["POST"])
@role_required(is_editor)
def procedure_restore(code: str) -> Any:
    """Bring a retired procedure back (it counts in coverage again)."""
    rec = _load_editable(code)
    try:
        service.restore(get_store(), current_principal(), code, expected_version=_version(),
                        reason=request.form.get("reason"), source=SOURCE)
    except service.OutOfScope as exc:
        refuse(exc)
    except service.VersionRequired:
        flash(MSG_VERSION, "error")
        return redirect(url_for("dashboard.procedure", code=code))
    except VersionConflict as exc:
        _conflict(code, exc)
        return redirect(url_for("dashboard.procedure", code=code))
    flash(f"Đã khôi phục thủ tục {code} “{rec['name']}”: thủ tục lại được tính vào chỉ tiêu.", "success")
    return redirect(url_for("dashboard.procedure", code=code))
