"""Vietnamese labels of the registry's ids (indicators, fields, levels, verdicts, statuses)."""
from __future__ import annotations

from typing import Any

INDICATORS: dict[str, str] = {
    "online_rate": "TTHC cung cấp trực tuyến (mức 3, 4)",
    "level4_rate": "TTHC trực tuyến toàn trình (mức 4)",
    "dvcqg_integration_rate": "DVC trực tuyến tích hợp Cổng DVCQG",
    "sso_payment_rate": "DVC trực tuyến có đăng nhập một lần (SSO) và thanh toán trực tuyến",
    "online_payment_rate": "TTHC có phí, lệ phí được thanh toán trực tuyến",
    "dossier_online_services_rate": "DVC trực tuyến phát sinh hồ sơ",
    "dossier_fully_online_rate": "Hồ sơ xử lý hoàn toàn trực tuyến",
    "dossier_on_time_rate": "Hồ sơ giải quyết đúng hạn",
    "satisfaction_rate": "Mức độ hài lòng của người dân, doanh nghiệp",
}

# Short forms for chart axes and narrow table headers.
INDICATORS_SHORT: dict[str, str] = {
    "online_rate": "Trực tuyến",
    "level4_rate": "Mức 4",
    "dvcqg_integration_rate": "Tích hợp DVCQG",
    "sso_payment_rate": "SSO + thanh toán",
    "online_payment_rate": "Thanh toán trực tuyến",
}

FIELDS: dict[str, str] = {
    "code": "Mã thủ tục",
    "name": "Tên thủ tục",
    "field": "Lĩnh vực",
    "agency": "Cơ quan thực hiện chính",
    "agencies": "Các cơ quan thực hiện",
    "issuing_agency": "Cơ quan ban hành",
    "levels": "Cấp thực hiện",
    "service_level": "Mức độ DVC trực tuyến",
    "online_mode": "Hình thức trực tuyến",
    "has_fee": "Có phí, lệ phí",
    "dvcqg_integrated": "Tích hợp Cổng DVCQG (kê khai)",
    "payment_channel": "Kênh thanh toán trực tuyến",
    "sso": "Đăng nhập một lần (SSO)",
    "status": "Trạng thái",
    "version": "Phiên bản",
    "created_at": "Tạo lúc",
    "updated_at": "Cập nhật lúc",
    "linkage": "Kiểm tra liên thông DVCQG",
    "payment": "Kiểm tra thanh toán",
    "file": "Tệp",
    "": "(cả dòng)",
}

TIERS: dict[str, str] = {"bo": "Cấp bộ", "tinh": "Cấp tỉnh", "huyen": "Cấp huyện (trước 7/2025)",
                         "xa": "Cấp xã", "khac": "Khác", "": "(chưa xác định)"}
PAYMENT_CHANNELS: dict[str, str] = {"none": "Không", "dvcqg_payment": "Nền tảng thanh toán DVCQG",
                                    "paygov": "PayGov"}
ONLINE_MODES: dict[str, str] = {"toan_trinh": "Toàn trình", "mot_phan": "Một phần", "none": "Không"}
STATUSES: dict[str, str] = {"active": "Đang áp dụng", "retired": "Đã bãi bỏ"}
ROLES: dict[str, str] = {"viewer": "Xem", "editor": "Cán bộ cập nhật", "admin": "Quản trị",
                        "system": "Tài khoản tích hợp"}

VERDICTS: dict[str, str] = {
    "integrated": "Đã tích hợp",
    "not_integrated": "Chưa tích hợp",
    "not_listed": "Không có trên Cổng",
    "link_broken": "Liên kết hỏng",
    "payment_ready": "Thanh toán được",
    "payment_not_configured": "Chưa cấu hình thanh toán",
    "payment_rejected": "Bị từ chối thanh toán",
    "invalid_signature": "Sai chữ ký",
    "unknown": "Chưa xác định",
    "level_mismatch": "Lệch mức độ",
}
# Good verdicts are shown green, the others red, unknown grey (the CSS classes).
GOOD_VERDICTS = {"integrated", "payment_ready"}

RUN_STATUSES: dict[str, str] = {
    "running": "Đang chạy",
    "completed": "Hoàn thành",
    "portal_unavailable": "Cổng không phản hồi",
    "failed": "Lỗi",
    "interrupted": "Bị gián đoạn",
    "cancelled": "Đã hủy",
}
DIMENSIONS: dict[str, str] = {"linkage": "Liên thông DVCQG", "payment": "Thanh toán", "all": "Cả hai"}
ACTIONS: dict[str, str] = {"create": "Tạo mới", "update": "Cập nhật", "retire": "Bãi bỏ",
                           "delete": "Xóa", "replace": "Thay thế", "restore": "Khôi phục"}
SOURCES: dict[str, str] = {"dashboard": "Trang quản trị", "api": "API", "import": "Nhập tệp",
                           "fixture": "Dữ liệu mẫu", "cli": "Dòng lệnh"}
GROUPS: dict[str, str] = {"agency": "Cơ quan", "level": "Cấp thực hiện", "field": "Lĩnh vực"}


def label(table: dict[str, str], value: Any) -> str:
    """The Vietnamese label of `value` in `table`, or the value itself when unknown."""
    if value is None:
        return "—"
    return table.get(str(value), str(value))


def yes_no(value: Any) -> str:
    """'Có' / 'Không' for a boolean (a dash for None)."""
    if value is None:
        return "—"
    return "Có" if value else "Không"


# Why a signed-in person cannot edit a procedure (procedures.editability's reason keys).
NOT_EDITABLE: dict[str, str] = {
    "anonymous": "Cần đăng nhập để sửa.",
    "role": "Tài khoản chỉ có quyền xem.",
    "unassigned": "Thủ tục chưa được giao cơ quan: chỉ quản trị viên sửa hoặc giao được.",
    "outside": "Thuộc cơ quan khác ({agencies}), ngoài phạm vi tài khoản của bạn.",
    "no_agency_after": "Thủ tục phải giữ ít nhất một cơ quan thực hiện.",
}


def not_editable(reason: str | None, agencies: list[str] | None = None) -> str:
    """The Vietnamese sentence for a refusal reason ('' when editable)."""
    if not reason:
        return ""
    return NOT_EDITABLE.get(reason, "Không sửa được.").format(agencies=", ".join(agencies or []) or "—")
