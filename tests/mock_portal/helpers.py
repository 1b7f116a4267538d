"""Test helpers: a small world, and client-side messages built independently of mock_portal
(hashlib here, never mock_portal.checksums), so a shared mistake cannot pass."""
from __future__ import annotations

import hashlib
from typing import Any

UNIT = "000.00.00.H26"
OTHER_UNIT = "000.00.00.H29"
SECRET = "dvcqg-secret"

SMALL_WORLD: dict[str, Any] = {
    "name": "small",
    "units": {UNIT: "UBND thành phố Hà Nội", OTHER_UNIT: "UBND Thành phố Hồ Chí Minh"},
    "catalog": {"source": None},
    "procedures": [
        {"code": "1.000001", "name": "Đăng ký khai sinh", "field": "Hộ tịch",
         "agencies": ["Ủy ban nhân dân cấp xã"], "levels": ["xa"],
         "channels": ["online", "in_person"], "fees": [8000]},
        {"code": "1.000002", "name": "Cấp giấy phép xây dựng", "field": "Xây dựng",
         "agencies": ["Sở Xây dựng"], "levels": ["tinh"], "channels": ["online", "postal"]},
        {"code": "1.000003", "name": "Đăng ký kết hôn", "field": "Hộ tịch",
         "agencies": ["Ủy ban nhân dân cấp xã"], "levels": ["xa"]},
        {"code": "2.000004", "name": "Cấp phiếu lý lịch tư pháp", "field": "Lý lịch tư pháp",
         "agencies": ["Sở Tư pháp"], "levels": ["tinh"]},
        {"code": "2.000005", "name": "Đổi giấy phép lái xe", "field": "Đường bộ",
         "agencies": ["Sở Giao thông vận tải"], "levels": ["tinh"]},
        {"code": "2.000006", "name": "Cấp lại giấy phép lái xe", "field": "Đường bộ",
         "agencies": ["Sở Giao thông vận tải"], "levels": ["tinh"]},
        {"code": "2.000007", "name": "Gia hạn giấy phép lái xe", "field": "Đường bộ",
         "agencies": ["Sở Giao thông vận tải"], "levels": ["tinh"]},
    ],
    "integrations": {UNIT: {"1.000001": "4", "1.000002": "3", "2.000004": "4", "2.000005": "4",
                            "2.000006": "3"},
                     OTHER_UNIT: {"1.000003": "3", "1.000001": "2"}},
    "broken_links": {"2.000004": "404", "2.000005": "410", "2.000006": "wrong_page"},
    "payments": {"dvcqg_payment": {"HNI": ["1.000001", "1.000002"]},
                 "paygov": {"HNI": ["1.000002"]}},
}

INIT_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien",
               "LoaiHinhThanhToan", "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaTienTe",
               "MaNganHang", "ThongTinGiaoDich", "ThoiGianGD", "Ip")


def sha(text: str) -> str:
    """Lowercase hex SHA-256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def init_message(code: str, reference: str, amount: str = "50000", secret: str = SECRET,
                 partner: str = "HNI") -> dict[str, Any]:
    """A signed INIT, as a client would build it."""
    msg: dict[str, Any] = {
        "LoaiBanTin": "INIT", "PhienBan": "1.0.6", "MaDoiTac": partner, "MaThamChieu": reference,
        "SoTien": amount, "LoaiHinhThanhToan": "PAY", "MaKenhThanhToan": "1", "MaThietBi": "1",
        "NgonNgu": "vi-VN", "MaTienTe": "VND", "MaNganHang": "PAYMENT",
        "ThongTinGiaoDich": f"Nop le phi ho so {reference}", "ThoiGianGD": "20211115093000",
        "Ip": "127.0.0.1",
        "ThongTinBienLai": {"MaDichVu": "2", "MaDVC": code, "TenDVC": "DVC", "MaTTHC": code,
                            "TenTTHC": "Thủ tục", "MaDonVi": UNIT, "TenDonVi": "UBND",
                            "MaHoSo": reference, "NoiDungThanhToan": "Lệ phí",
                            "HoTenNguoiNop": "Nguyễn Văn A"},
    }
    msg["MaXacThuc"] = sha("|".join([msg[f] for f in INIT_FIELDS] + [secret]))
    return msg


def query_message(reference: str, kind: str = "QUERY", secret: str = SECRET,
                  partner: str = "HNI") -> dict[str, Any]:
    """A signed QUERY or GET_BILL."""
    msg = {"LoaiBanTin": kind, "PhienBan": "1.0.6", "MaDoiTac": partner,
           "MaThamChieu": reference, "ThoiGianGD": "20211115093500"}
    msg["MaXacThuc"] = sha("|".join(list(msg.values()) + [secret]))
    return msg


def paygov_order(code: str, order_id: str, amount: str = "150000",
                 secret_key: str = "paygov-secret") -> dict[str, str]:
    """A signed PayGov create body (every value a string)."""
    body = {"partnerCode": "HNI", "returnUrl": "http://127.0.0.1:9/return", "orderId": order_id,
            "amount": amount, "orderInfo": f"Nop le phi {code}", "requestCode": f"REQ-{order_id}",
            "ipAddress": "127.0.0.1", "accessKey": "paygov-access", "serviceCode": code}
    body["checksum"] = sha(secret_key + body["accessKey"] + body["partnerCode"] + order_id
                           + body["requestCode"] + amount)
    return body


def confirm_is_signed(body: dict[str, Any], secret: str = SECRET) -> bool:
    """Whether a CONFIRM callback carries the checksum the contract prescribes."""
    names = ("LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe",
             "MaGiaoDich", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich")
    return body.get("MaXacThuc") == sha("|".join([body[n] for n in names] + [secret]))


def ipn_is_signed(body: dict[str, Any], secret_key: str = "paygov-secret") -> bool:
    """Whether an IPN carries the checksum the contract (v2) prescribes: the fields joined by `|`."""
    fields = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "payDate", "orderInfo")
    return body.get("checksum") == sha("|".join([body[k] for k in fields] + [secret_key]))
