"""What an alert says: the Vietnamese e-mail (one event or a day's digest) and the webhook's JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from ..store import VN_TZ

TITLES: dict[str, str] = {
    "linkage.broken": "Liên thông Cổng DVCQG bị hỏng",
    "linkage.restored": "Liên thông Cổng DVCQG đã hoạt động trở lại",
    "payment.broken": "Thanh toán trực tuyến bị hỏng",
    "payment.restored": "Thanh toán trực tuyến đã hoạt động trở lại",
    "sso.broken": "Đăng nhập một lần (SSO) bị hỏng",
    "sso.restored": "Đăng nhập một lần (SSO) đã hoạt động trở lại",
    "dossier_sync.failing": "Đồng bộ hồ sơ lên Cổng DVCQG bị lỗi",
    "dossier_sync.restored": "Đồng bộ hồ sơ lên Cổng DVCQG đã hoạt động trở lại",
    "journey.broken": "Hành trình nộp hồ sơ trên Cổng bị hỏng",
    "journey.restored": "Hành trình nộp hồ sơ trên Cổng đã hoạt động trở lại",
    "sweep.portal_unavailable": "Cổng DVCQG không phản hồi, lượt kiểm tra dừng sớm",
    "target.missed": "Chỉ tiêu không còn đạt (số liệu đã kiểm chứng)",
    "target.met": "Chỉ tiêu đã đạt (số liệu đã kiểm chứng)",
    "evidence.stale": "Bằng chứng kiểm tra đã quá hạn",
}
VERDICTS: dict[str, str] = {
    "integrated": "đã tích hợp", "not_integrated": "chưa tích hợp cho đơn vị", "not_listed": "không có trên Cổng",
    "link_broken": "liên kết hỏng", "payment_ready": "thanh toán được",
    "payment_not_configured": "chưa cấu hình thanh toán", "payment_rejected": "bị từ chối thanh toán",
    "invalid_signature": "sai chữ ký", "sso_ready": "đăng nhập một lần hoạt động",
    "sso_missing": "chưa có đăng nhập một lần", "sso_misconfigured": "cấu hình đăng nhập một lần sai",
    "not_found": "không tìm thấy", "met": "đạt", "missed": "không đạt", "journey_ok": "hành trình thông suốt",
    "journey_broken": "hành trình bị hỏng",
    "portal_unavailable": "Cổng không phản hồi", "unknown": "chưa xác định",
}
DIMENSIONS: dict[str, str] = {"linkage": "Liên thông DVCQG", "payment": "Thanh toán trực tuyến",
                              "sso": "Đăng nhập một lần", "dossier_sync": "Đồng bộ hồ sơ", "target": "Chỉ tiêu",
                              "journey": "Hành trình trên Cổng"}
INDICATORS: dict[str, str] = {
    "online_rate": "Tỷ lệ DVC trực tuyến", "level4_rate": "Tỷ lệ DVC mức độ 4",
    "dvcqg_integration_rate": "Tỷ lệ DVC tích hợp Cổng DVCQG",
    "sso_payment_rate": "Tỷ lệ DVC có đăng nhập một lần và thanh toán trực tuyến",
    "online_payment_rate": "Tỷ lệ thủ tục có phí thanh toán trực tuyến được",
}


def label(table: Mapping[str, str], value: Any) -> str:
    """The Vietnamese label of `value`, or the value itself."""
    return "—" if value is None else table.get(str(value), str(value))


def _when(value: str | None) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%H:%M ngày %d/%m/%Y")
    except (TypeError, ValueError):
        return str(value or "—")


def subject_line(event: Mapping[str, Any]) -> str:
    """One line naming what happened and to what."""
    title = label(TITLES, event["type"])
    if event.get("code"):
        name = (event.get("details") or {}).get("name")
        return f"{title}: {event['code']}" + (f" {name}" if name else "")
    if event.get("dimension") == "target":
        return f"{title}: {label(INDICATORS, (event.get('details') or {}).get('indicator'))}"
    return title


def event_lines(event: Mapping[str, Any]) -> list[str]:
    """The body lines of one event, in Vietnamese."""
    d = event.get("details") or {}
    lines = [f"• {subject_line(event)}", f"  Thời điểm: {_when(event.get('occurred_at'))}"]
    if event.get("code"):
        if d.get("agency"):
            lines.append(f"  Cơ quan thực hiện: {d['agency']}")
        if event.get("dimension"):
            lines.append(f"  Khía cạnh: {label(DIMENSIONS, event['dimension'])}")
    if event["type"] == "evidence.stale":
        lines.append(f"  Kết quả gần nhất: {label(VERDICTS, event.get('verdict'))}, kiểm tra lúc "
                     f"{_when(d.get('checked_at'))}; quá {d.get('staleness_days', '?'):g} ngày chưa được kiểm tra lại.")
    elif event["type"] == "sweep.portal_unavailable":
        lines.append(f"  Lượt kiểm tra #{d.get('run_id')} dừng sớm: nhiều lần kiểm tra liên tiếp không nhận được "
                     "trả lời từ Cổng.")
        lines.append("  Kết quả kiểm tra trước đó được giữ lại và đánh dấu là cũ.")
    elif event.get("dimension") == "target":
        lines.append(f"  Hiện đạt {d.get('percent')}%, chỉ tiêu {d.get('target_percent')}% "
                     f"(hạn {d.get('due')}, {d.get('source')}).")
        if d.get("needed"):
            lines.append(f"  Cần thêm {d['needed']} thủ tục để đạt chỉ tiêu.")
    elif event.get("previous") is not None:
        lines.append(f"  Trước: {label(VERDICTS, event['previous'])} → Nay: {label(VERDICTS, event.get('verdict'))}"
                     f" (xác nhận qua {d.get('confirmations', 1)} lần kiểm tra liên tiếp)")
    lines.append(f"  Mã sự kiện: {event['id']}")
    return lines


FOOTER = ("\n--\nThư tự động từ hệ thống Theo dõi TTHC trực tuyến. "
          "Để ngừng nhận, hủy đăng ký trên trang \"Cảnh báo\" hoặc bằng lệnh `tthc alerts unsubscribe`.")


def event_email(event: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of the e-mail for one event."""
    body = "Kính gửi cán bộ phụ trách,\n\nHệ thống ghi nhận sự kiện sau:\n\n" + "\n".join(event_lines(event)) + FOOTER
    return f"[TTHC] {subject_line(event)}", body


def _days(events: Sequence[Mapping[str, Any]]) -> str:
    days = []
    for event in events:
        try:
            days.append(datetime.fromisoformat(str(event["occurred_at"])).astimezone(VN_TZ).date())
        except (KeyError, TypeError, ValueError):
            continue
    if not days:
        return ""
    first, last = min(days), max(days)
    if first == last:
        return f"ngày {first:%d/%m/%Y}"
    return f"từ {first:%d/%m/%Y} đến {last:%d/%m/%Y}"


def digest_email(events: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(subject, body) of a daily digest grouping `events` (oldest first) under the day(s) they happened."""
    when = _days(events)
    parts = ["Kính gửi cán bộ phụ trách,", "",
             f"Bản tổng hợp cảnh báo {when}: {len(events)} sự kiện.", ""]
    for event in events:
        parts.extend(event_lines(event))
        parts.append("")
    return f"[TTHC] Tổng hợp cảnh báo {when}: {len(events)} sự kiện", "\n".join(parts).rstrip() + FOOTER


def webhook_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a webhook call: the event, identical on every retry."""
    d = dict(event.get("details") or {})
    return {"id": event["id"], "type": event["type"], "occurred_at": event["occurred_at"],
            "code": event.get("code"), "name": d.pop("name", None), "agency": d.pop("agency", None),
            "agencies": list(event.get("agencies") or []), "dimension": event.get("dimension"),
            "verdict": event.get("verdict"), "previous": event.get("previous"), "details": d,
            "title": label(TITLES, event["type"])}
