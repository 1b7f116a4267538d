"""The "Cảnh báo" page: what fired and whether it was delivered, and the staff's own subscriptions."""
from __future__ import annotations

from typing import Any, Mapping

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from .. import alerts
from ..alerts import messages
from ..alerts.schemas import SubscriptionIn
from ..context import get_store
from . import tables
from .blueprint import bp
from .security import current_principal, is_editor, role_required

SHOWN = 200
EVENT_COLUMNS = (("id", "Mã sự kiện"), ("occurred_at", "Thời điểm"), ("type", "Loại sự kiện"),
                 ("title", "Nội dung"), ("code", "Mã thủ tục"), ("name", "Tên thủ tục"), ("agency", "Cơ quan"),
                 ("previous", "Trước"), ("verdict", "Nay"), ("delivered", "Đã gửi"), ("pending", "Đang chờ gửi"),
                 ("failed", "Gửi thất bại"))
SCOPES = {"agency": "Mọi thủ tục của một cơ quan", "procedure": "Một thủ tục", "all": "Mọi sự kiện (toàn thành phố)"}
CHANNELS = {"email": "Thư điện tử", "webhook": "Webhook (JSON có chữ ký)"}
MODES = {"event": "Gửi ngay từng sự kiện", "digest": "Một thư tổng hợp mỗi ngày"}
# Vietnamese messages per field (the schema's own messages are English, for the API).
FIELD_ERRORS = {
    "scope": "Hãy chọn phạm vi theo dõi.",
    "agency": "Hãy chọn một cơ quan bạn phụ trách.",
    "procedure": "Mã thủ tục không có trong danh mục.",
    "channel": "Hãy chọn kênh nhận: thư điện tử hoặc webhook.",
    "address": "Địa chỉ không hợp lệ: cần một địa chỉ thư điện tử, hoặc một URL http(s) với webhook.",
    "mode": "Webhook được gọi theo từng sự kiện; thư tổng hợp hằng ngày chỉ dành cho thư điện tử.",
    "event_types": "Loại sự kiện không hợp lệ.",
}
FORBIDDEN = {
    "scope": "Chỉ quản trị viên được theo dõi mọi sự kiện.",
    "agency": "Bạn chỉ được theo dõi các cơ quan mình phụ trách.",
    "procedure": "Thủ tục này không thuộc cơ quan bạn phụ trách.",
}


def _delivery_counts(event: dict[str, Any]) -> dict[str, int]:
    out = {"delivered": 0, "pending": 0, "failed": 0}
    for key, n in event["deliveries"].items():
        status = key.rpartition(".")[2]
        if status in out:
            out[status] += n
    return out


def _row(event: dict[str, Any]) -> dict[str, Any]:
    d = event["details"]
    return {"id": event["id"], "occurred_at": event["occurred_at"], "type": event["type"],
            "title": messages.label(messages.TITLES, event["type"]), "code": event["code"],
            "name": d.get("name") or (messages.label(messages.INDICATORS, d["indicator"]) if d.get("indicator")
                                      else None),
            "agency": d.get("agency"), "previous": event["previous"], "verdict": event["verdict"],
            **_delivery_counts(event)}


def _agency_choices(principal: Any) -> list[str]:
    if principal.is_admin:
        return sorted({key for p in get_store().all_procedures() for key in alerts.agency_keys(p)})
    return list(principal.agencies)


def _page(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    store = get_store()
    events, total = alerts.feed(store, limit=SHOWN)
    rows = [_row(e) for e in events]
    download = tables.pick([tables.Table("events", EVENT_COLUMNS, list[Mapping[str, Any]](rows),
                                         filename="tthc-canh-bao")])
    if download is not None:
        return download
    principal = current_principal()
    staff = principal is not None and is_editor(principal)
    subs = alerts.list_subscriptions(store, principal) if principal is not None and staff else []
    return render_template("dashboard/alerts.html", rows=rows, total=total, subs=subs, staff=staff,
                           agencies=_agency_choices(principal) if staff else [], scopes=SCOPES, channels=CHANNELS,
                           modes=MODES, verdicts=messages.VERDICTS, form=form or {}, errors=errors or {},
                           downloads=tables.download_urls()), status


@bp.route("/alerts")
def alerts_page() -> Any:
    """The feed (public) and, for staff, their subscriptions with the form to add one."""
    return _page()


@bp.route("/alerts", methods=["POST"])
@role_required(is_editor)
def alerts_subscribe() -> Any:
    """Add a subscription for the signed-in staff member."""
    form = {k: request.form.get(k, "").strip() for k in ("scope", "agency", "procedure", "channel", "address",
                                                          "mode")}
    raw = {k: v for k, v in form.items() if v}
    try:
        data = SubscriptionIn().load(raw)
    except ValidationError as exc:
        errors = {k.split(".")[0]: FIELD_ERRORS.get(k.split(".")[0], "Giá trị không hợp lệ.") for k in exc.messages}
        return _page(form, errors, 422)
    principal = current_principal()
    assert principal is not None  # role_required
    try:
        sub = alerts.subscribe(get_store(), principal, data, source="dashboard")
    except alerts.AlertError as exc:
        table = FORBIDDEN if exc.status == 403 else FIELD_ERRORS
        return _page(form, {exc.field: table.get(exc.field, "Không thể đăng ký.")}, exc.status)
    if sub.get("secret"):
        flash("Đã đăng ký webhook. Khóa bí mật để kiểm tra chữ ký X-TTHC-Signature (HMAC-SHA256), "
              f"chỉ hiển thị một lần này: {sub['secret']}", "success")
    else:
        flash("Đã đăng ký nhận cảnh báo.", "success")
    return redirect(url_for("dashboard.alerts_page"))


@bp.route("/alerts/<int:sub_id>/remove", methods=["POST"])
@role_required(is_editor)
def alerts_unsubscribe(sub_id: int) -> Any:
    """Remove one of the signed-in staff member's subscriptions (an admin: anyone's)."""
    principal = current_principal()
    assert principal is not None  # role_required
    try:
        alerts.unsubscribe(get_store(), principal, sub_id, source="dashboard")
    except alerts.SubscriptionNotFound:
        abort(404, description=f"Không có đăng ký #{sub_id}.")
    flash(f"Đã hủy đăng ký #{sub_id}.", "info")
    return redirect(url_for("dashboard.alerts_page"))
