"""Checksums of contract sections 3-4. Expected hex values were computed once in the shell,
e.g. `printf '%s' 'QUERY|1.0.6|HNI|HS-2021-0001|20211115093500|dvcqg-secret' | sha256sum`."""
from __future__ import annotations

import pytest

from mock_portal import checksums

INIT = {"LoaiBanTin": "INIT", "PhienBan": "1.0.6", "MaDoiTac": "HNI",
        "MaThamChieu": "HS-2021-0001", "SoTien": "50000", "LoaiHinhThanhToan": "PAY",
        "MaKenhThanhToan": "1", "MaThietBi": "1", "NgonNgu": "vi-VN", "MaTienTe": "VND",
        "MaNganHang": "PAYMENT", "ThongTinGiaoDich": "Nop le phi ho so HS-2021-0001",
        "ThoiGianGD": "20211115093000", "Ip": "127.0.0.1"}
INIT_VI = dict(INIT, MaThamChieu="HS-2021-0002", SoTien="8000",
               ThongTinGiaoDich="Nộp lệ phí đăng ký khai sinh")
QUERY = {"LoaiBanTin": "QUERY", "PhienBan": "1.0.6", "MaDoiTac": "HNI",
         "MaThamChieu": "HS-2021-0001", "ThoiGianGD": "20211115093500"}
CONFIRM = {"LoaiBanTin": "CONFIRM", "MaLoi": "00", "MaDoiTac": "HNI",
           "MaThamChieu": "HS-2021-0001", "SoTien": "50000", "MaTienTe": "VND",
           "MaGiaoDich": "GD20211115000001", "MaNganHang": "PAYMENT",
           "ThoiGianGD": "20211115094000", "ThongTinGiaoDich": "Nop le phi ho so HS-2021-0001"}
ANSWER = {"MaLoi": "00", "MaThamChieu": "HS-2021-0001",
          "UrlThanhToan": "http://127.0.0.1:8081/payment/pay/abc"}
CREATE = {"partnerCode": "HNI", "accessKey": "paygov-access", "orderId": "ORD-1",
          "requestCode": "REQ-1", "amount": "150000"}
IPN = {"orderId": "ORD-1", "requestCode": "REQ-1", "amount": "150000", "errorCode": "00",
       "transactionNo": "PG20211115000001", "payDate": "20211115094000", "orderInfo": "Nop le phi"}


@pytest.mark.parametrize("function, message, secret, expected", [
    (checksums.init_checksum, INIT, "dvcqg-secret",
     "cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e78"),
    (checksums.init_checksum, INIT_VI, "dvcqg-secret",
     "9b5751f00018a436b470aa8f9f1ee2a413d146960de8884732dc318228a7de6c"),
    (checksums.query_checksum, QUERY, "dvcqg-secret",
     "505c470f233c144c27da55eb7d421732da6257787d5da38105727a526b3016bd"),
    (checksums.query_checksum, dict(QUERY, LoaiBanTin="GET_BILL"), "dvcqg-secret",
     "186b156767fe1772a4d3de51693663ddbff51eaf49b905eba22c74a7a1df0c5d"),
    (checksums.confirm_checksum, CONFIRM, "dvcqg-secret",
     "b7ffac78e6bc35ecdf49c7e6b6a6fdc3d2324d0ead627113d45c0e316ec84cc3"),
    (checksums.init_answer_checksum, ANSWER, "dvcqg-secret",
     "a4daf1ee454a7bf9af10d996cdaaeab63d4bd80515065e20c30d1d41c39ce541"),
    (checksums.paygov_create_checksum, CREATE, "paygov-secret",
     "7d541d7dc3f3efd9472c8c1c5aae087ebc960282cb1b450c215cba44fca7dbe7"),
    (checksums.paygov_ipn_checksum, IPN, "paygov-secret",
     "a9ebd94ac9f0f1715159f98d79002eb24c512a9b4defec34dcd234f99f8346c3"),
])
def test_checksum_matches_independent_value(function, message, secret, expected):
    assert function(message, secret) == expected


@pytest.mark.parametrize("field", sorted(INIT))
def test_every_init_field_is_signed(field):
    changed = dict(INIT, **{field: INIT[field] + "x"})
    assert checksums.init_checksum(changed, "dvcqg-secret") != \
        "cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e78"


@pytest.mark.parametrize("given, ok", [
    ("cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e78", True),
    ("CF1593DBE790A2BD830242FB9B050D9705294EB1C61F9AE94412911611F84E78", False),
    ("cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e7", False),
    ("", False), (None, False), (12345, False),
])
def test_matches_is_strict(given, ok):
    expected = "cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e78"
    assert checksums.matches(expected, given) is ok
