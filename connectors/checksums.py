"""Every checksum of the portal contract (lowercase hex SHA-256) and constant-time verifiers.

DVCQG Payment Platform messages join fields with `|`, the secret key last; PayGov `create`
concatenates without a separator, the secret key first; the PayGov IPN (contract v2) joins
`orderId|requestCode|amount|errorCode|transactionNo|payDate|orderInfo|secretKey` with `|`
(v1's unseparated concatenation let a genuine IPN be re-cut between fields and still verify).
A callback whose signed field itself contains `|` could be re-cut the same way, so the
callback verifiers refuse it. Field values are hashed exactly as
they travel (UTF-8, no normalisation): normalising would break messages signed by others.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from connectors.errors import ProtocolError

INIT_FIELDS: tuple[str, ...] = (
    "LoaiBanTin",
    "PhienBan",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "LoaiHinhThanhToan",
    "MaKenhThanhToan",
    "MaThietBi",
    "NgonNgu",
    "MaTienTe",
    "MaNganHang",
    "ThongTinGiaoDich",
    "ThoiGianGD",
    "Ip",
)
QUERY_FIELDS: tuple[str, ...] = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
CONFIRM_FIELDS: tuple[str, ...] = (
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
)
INIT_ANSWER_FIELDS: tuple[str, ...] = ("MaLoi", "MaThamChieu", "UrlThanhToan")
PAYGOV_CREATE_FIELDS: tuple[str, ...] = (
    "accessKey",
    "partnerCode",
    "orderId",
    "requestCode",
    "amount",
)
PAYGOV_IPN_FIELDS: tuple[str, ...] = (
    "orderId",
    "requestCode",
    "amount",
    "errorCode",
    "transactionNo",
    "payDate",
    "orderInfo",
)
# The fields of callbacks (messages others sign and we believe); a `|` inside one is refused.
CALLBACK_FIELDS: dict[str, tuple[str, ...]] = {"confirm": CONFIRM_FIELDS, "paygov_ipn": PAYGOV_IPN_FIELDS}


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    # A missing field signs as "" (what the real systems concatenate); the secret still
    # authenticates the message. Numbers travel as strings: ints are accepted, floats,
    # booleans and containers are ambiguous and refused.
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProtocolError(f"checksum field {name!r} must be a string, got {type(value).__name__}")
    return str(value)


def _secret(secret: str) -> str:
    if not isinstance(secret, str) or not secret:
        raise ProtocolError("checksum secret key is missing")
    return secret


def _piped(fields: Mapping[str, Any], names: tuple[str, ...], secret: str) -> str:
    return sha256_hex("|".join([*(_value(fields, n) for n in names), _secret(secret)]))


def init_checksum(fields: Mapping[str, Any], secret: str) -> str:
    """MaXacThuc of a Payment Platform INIT request."""
    return _piped(fields, INIT_FIELDS, secret)


def query_checksum(fields: Mapping[str, Any], secret: str) -> str:
    """MaXacThuc of a Payment Platform QUERY or GET_BILL request."""
    return _piped(fields, QUERY_FIELDS, secret)


def confirm_checksum(fields: Mapping[str, Any], secret: str) -> str:
    """MaXacThuc of a CONFIRM callback (platform → registry)."""
    return _piped(fields, CONFIRM_FIELDS, secret)


def init_answer_checksum(fields: Mapping[str, Any], secret: str) -> str:
    """MaXacThuc of an INIT answer: MaLoi|MaThamChieu|UrlThanhToan|SecretKey."""
    return _piped(fields, INIT_ANSWER_FIELDS, secret)


def paygov_create_checksum(fields: Mapping[str, Any], secret_key: str) -> str:
    """`checksum` of a PayGov create: secretKey+accessKey+partnerCode+orderId+requestCode+amount."""
    return sha256_hex(
        _secret(secret_key) + "".join(_value(fields, n) for n in PAYGOV_CREATE_FIELDS)
    )


def paygov_ipn_checksum(fields: Mapping[str, Any], secret_key: str) -> str:
    """`checksum` of a PayGov IPN (contract v2):
    SHA-256 of `orderId|requestCode|amount|errorCode|transactionNo|payDate|orderInfo|secretKey`."""
    return _piped(fields, PAYGOV_IPN_FIELDS, secret_key)


def _unambiguous(fields: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """False when a signed field contains the separator: its split into fields is not unique."""
    return not any(isinstance(fields.get(n), str) and "|" in fields[n] for n in names)


def checksums_equal(expected: str, given: object) -> bool:
    """Constant-time comparison; hex case is not significant, non-strings never match."""
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(
        expected.lower().encode("ascii"), given.strip().lower().encode("utf-8")
    )


def _verify(compute, fields: Mapping[str, Any], secret: str, key: str) -> bool:
    try:
        expected = compute(fields, secret)
    except ProtocolError:
        # A message with an ill-typed signed field cannot verify; it is refused, not our error.
        return False
    return checksums_equal(expected, fields.get(key))


def verify_confirm(body: Mapping[str, Any], secret: str) -> bool:
    """True when a CONFIRM callback body carries a valid MaXacThuc (and no signed field holds `|`)."""
    return _unambiguous(body, CONFIRM_FIELDS) and _verify(confirm_checksum, body, secret, "MaXacThuc")


def verify_init_answer(body: Mapping[str, Any], secret: str) -> bool:
    """True when an INIT answer carries a valid MaXacThuc."""
    return _verify(init_answer_checksum, body, secret, "MaXacThuc")


def verify_paygov_ipn(body: Mapping[str, Any], secret_key: str) -> bool:
    """True when a PayGov IPN body carries a valid v2 checksum (and no signed field holds `|`)."""
    return _unambiguous(body, PAYGOV_IPN_FIELDS) and _verify(paygov_ipn_checksum, body, secret_key, "checksum")


def verify_init(body: Mapping[str, Any], secret: str) -> bool:
    """True when an INIT request carries a valid MaXacThuc (for symmetric tooling)."""
    return _verify(init_checksum, body, secret, "MaXacThuc")


def verify_query(body: Mapping[str, Any], secret: str) -> bool:
    """True when a QUERY/GET_BILL request carries a valid MaXacThuc."""
    return _verify(query_checksum, body, secret, "MaXacThuc")


def verify_paygov_create(body: Mapping[str, Any], secret_key: str) -> bool:
    """True when a PayGov create body carries a valid checksum."""
    return _verify(paygov_create_checksum, body, secret_key, "checksum")
