"""The portal's own checksums (contract sections 3 and 4): lowercase hex SHA-256.

Deliberately independent of `connectors.checksums`: the mock must not share code with the
client it tests, or a shared mistake would pass unnoticed.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping

INIT_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "LoaiHinhThanhToan",
               "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaTienTe", "MaNganHang",
               "ThongTinGiaoDich", "ThoiGianGD", "Ip")
QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
CONFIRM_FIELDS = ("LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe",
                  "MaGiaoDich", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich")
INIT_ANSWER_FIELDS = ("MaLoi", "MaThamChieu", "UrlThanhToan")


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    # A missing field signs as the empty string; the real systems concatenate what they send.
    return "" if value is None else str(value)


def _piped(message: Mapping[str, Any], names: tuple[str, ...], secret: str) -> str:
    return sha256_hex("|".join([_text(message.get(n)) for n in names] + [secret]))


def init_checksum(message: Mapping[str, Any], secret: str) -> str:
    """`MaXacThuc` of an INIT request."""
    return _piped(message, INIT_FIELDS, secret)


def query_checksum(message: Mapping[str, Any], secret: str) -> str:
    """`MaXacThuc` of a QUERY or GET_BILL request."""
    return _piped(message, QUERY_FIELDS, secret)


def confirm_checksum(message: Mapping[str, Any], secret: str) -> str:
    """`MaXacThuc` of a CONFIRM callback."""
    return _piped(message, CONFIRM_FIELDS, secret)


def init_answer_checksum(message: Mapping[str, Any], secret: str) -> str:
    """`MaXacThuc` of the answer to an INIT."""
    return _piped(message, INIT_ANSWER_FIELDS, secret)


def paygov_create_checksum(message: Mapping[str, Any], secret_key: str) -> str:
    """`checksum` of a PayGov create: secretKey+accessKey+partnerCode+orderId+requestCode+amount."""
    parts = [secret_key] + [_text(message.get(n)) for n in
                            ("accessKey", "partnerCode", "orderId", "requestCode", "amount")]
    return sha256_hex("".join(parts))


PAYGOV_IPN_FIELDS = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "payDate",
                     "orderInfo")


def paygov_ipn_checksum(message: Mapping[str, Any], secret_key: str) -> str:
    """`checksum` of a PayGov IPN, contract v2: SHA-256 of
    `orderId|requestCode|amount|errorCode|transactionNo|payDate|orderInfo|secretKey`."""
    return _piped(message, PAYGOV_IPN_FIELDS, secret_key)


def matches(expected: str, given: Any) -> bool:
    """Constant-time comparison of a computed checksum with the one received.

    Strict on purpose: the contract says lowercase hex, and a mock that forgave uppercase or
    padding would hide a client bug that the real platform refuses.
    """
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8"))
