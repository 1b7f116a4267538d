"""Checksums of the contract against hex digests computed independently with `sha256sum`."""

from __future__ import annotations

import unicodedata

import pytest

from connectors import checksums
from connectors.errors import ProtocolError

REF = "PROBE-1.000771-20261122100000-abc123"
INFO = "Thanh toán lệ phí hộ tịch"
INIT = {
    "LoaiBanTin": "INIT",
    "PhienBan": "1.0.6",
    "MaDoiTac": "HNI",
    "MaThamChieu": REF,
    "SoTien": "10000",
    "LoaiHinhThanhToan": "PAY",
    "MaKenhThanhToan": "1",
    "MaThietBi": "1",
    "NgonNgu": "vi-VN",
    "MaTienTe": "VND",
    "MaNganHang": "PAYMENT",
    "ThongTinGiaoDich": INFO,
    "ThoiGianGD": "20261122100000",
    "Ip": "127.0.0.1",
}
QUERY = {
    "LoaiBanTin": "QUERY",
    "PhienBan": "1.0.6",
    "MaDoiTac": "HNI",
    "MaThamChieu": REF,
    "ThoiGianGD": "20261122100500",
}
GET_BILL = {
    "LoaiBanTin": "GET_BILL",
    "PhienBan": "1.0.6",
    "MaDoiTac": "HNI",
    "MaThamChieu": "HS-2026-0001",
    "ThoiGianGD": "20261122100500",
}
CONFIRM = {
    "LoaiBanTin": "CONFIRM",
    "MaLoi": "00",
    "MaDoiTac": "HNI",
    "MaThamChieu": "HS-2026-0001",
    "SoTien": "150000",
    "MaTienTe": "VND",
    "MaGiaoDich": "GD0000123",
    "MaNganHang": "PAYMENT",
    "ThoiGianGD": "20261122101500",
    "ThongTinGiaoDich": "Nộp phí đăng ký khai sinh",
}
ANSWER = {
    "MaLoi": "00",
    "MaThamChieu": REF,
    "UrlThanhToan": "http://127.0.0.1:8081/payment/pay/tok123",
}
REFUSAL = {"MaLoi": "02", "MaThamChieu": REF, "UrlThanhToan": ""}
CREATE = {
    "partnerCode": "HNI",
    "accessKey": "paygov-access",
    "orderId": "ORD-0001",
    "requestCode": "REQ-0001",
    "amount": "50000",
}
IPN = {
    "orderId": "ORD-0001",
    "requestCode": "REQ-0001",
    "amount": "50000",
    "errorCode": "00",
    "transactionNo": "GD-778899",
    "payDate": "20261122101500",
    "orderInfo": "Le phi ho tich",
}

# printf '%s' '<fields joined as the contract says>' | sha256sum
CASES = [
    (
        checksums.init_checksum,
        INIT,
        "dvcqg-secret",
        "781f5274501dc1c89da03bab0b3760181d8fba7547c2afa131714f3884790551",
    ),
    (
        checksums.query_checksum,
        QUERY,
        "dvcqg-secret",
        "5d59dc0c074759071e42cd778d0602c05f7f414d2db898c391f12b1208f8d5c0",
    ),
    (
        checksums.query_checksum,
        GET_BILL,
        "dvcqg-secret",
        "c05d1089ccd0540561e0468b4ad4184a4cf817a2b3fb6c901f60141cd0e0a5f6",
    ),
    (
        checksums.confirm_checksum,
        CONFIRM,
        "dvcqg-secret",
        "989699e62b15b4d07c1a28330c8d51d64a86fba1e5d08322ec97cadab6b97376",
    ),
    (
        checksums.init_answer_checksum,
        ANSWER,
        "dvcqg-secret",
        "8b90b291ce6570404ee2ea827268cfd982417d067e25b083476f0ff70660ecd7",
    ),
    (
        checksums.init_answer_checksum,
        REFUSAL,
        "dvcqg-secret",
        "e21b83fe540ec3d1d2ec841c95fa2fb4b8604b6a4e29e488f6e1589a3a2c2cee",
    ),
    (
        checksums.paygov_create_checksum,
        CREATE,
        "paygov-secret",
        "9c1f88d5b1e97730594ca24e9b68d0a366463abae5444d881e47d5b807afe245",
    ),
    (
        checksums.paygov_ipn_checksum,
        IPN,
        "paygov-secret",
        "720bcf74cce6bb0ad319a1d21a700e61cec6a3329b2fe0a2475db4c72ce3f85f",
    ),
]


def test_vietnamese_inputs_are_nfc():
    # The shell computed the digests over NFC bytes; make sure the literals here are NFC too.
    assert unicodedata.is_normalized("NFC", INFO)
    assert unicodedata.is_normalized("NFC", CONFIRM["ThongTinGiaoDich"])


@pytest.mark.parametrize(
    "compute, fields, secret, expected",
    CASES,
    ids=[
        "init",
        "query",
        "get_bill",
        "confirm",
        "init_answer",
        "refusal_answer",
        "paygov_create",
        "paygov_ipn",
    ],
)
def test_checksum_matches_sha256sum(compute, fields, secret, expected):
    assert compute(fields, secret) == expected


def test_sha256_hex_is_lowercase_hex():
    assert (
        checksums.sha256_hex("abc")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    "compute, fields, secret, expected",
    CASES[:6],
    ids=["init", "query", "get_bill", "confirm", "init_answer", "refusal_answer"],
)
def test_extra_fields_do_not_change_a_piped_checksum(compute, fields, secret, expected):
    assert (
        compute({**fields, "ThongTinBienLai": {"MaTTHC": "1.000771"}, "Extra": "x"}, secret)
        == expected
    )


@pytest.mark.parametrize(
    "field", ["MaLoi", "SoTien", "MaGiaoDich", "ThongTinGiaoDich", "MaThamChieu"]
)
def test_confirm_verifies_and_any_tampered_field_fails(field):
    signed = {
        **CONFIRM,
        "MaXacThuc": "989699e62b15b4d07c1a28330c8d51d64a86fba1e5d08322ec97cadab6b97376",
    }
    assert checksums.verify_confirm(signed, "dvcqg-secret")
    assert not checksums.verify_confirm({**signed, field: signed[field] + "9"}, "dvcqg-secret")


def test_confirm_with_wrong_secret_or_no_checksum_fails():
    signed = {
        **CONFIRM,
        "MaXacThuc": "989699e62b15b4d07c1a28330c8d51d64a86fba1e5d08322ec97cadab6b97376",
    }
    assert not checksums.verify_confirm(signed, "another-secret")
    assert not checksums.verify_confirm(CONFIRM, "dvcqg-secret")
    assert not checksums.verify_confirm({**signed, "MaXacThuc": 12345}, "dvcqg-secret")


@pytest.mark.parametrize(
    "field", ["orderId", "requestCode", "amount", "errorCode", "transactionNo"]
)
def test_ipn_verifies_and_any_tampered_field_fails(field):
    signed = {**IPN, "checksum": "720bcf74cce6bb0ad319a1d21a700e61cec6a3329b2fe0a2475db4c72ce3f85f"}
    assert checksums.verify_paygov_ipn(signed, "paygov-secret")
    assert not checksums.verify_paygov_ipn({**signed, field: signed[field] + "1"}, "paygov-secret")


def test_verify_accepts_uppercase_hex():
    signed = {**IPN, "checksum": "720BCF74CCE6BB0AD319A1D21A700E61CEC6A3329B2FE0A2475DB4C72CE3F85F"}
    assert checksums.verify_paygov_ipn(signed, "paygov-secret")


def test_init_answer_verifier():
    good = {
        **ANSWER,
        "MaXacThuc": "8b90b291ce6570404ee2ea827268cfd982417d067e25b083476f0ff70660ecd7",
    }
    assert checksums.verify_init_answer(good, "dvcqg-secret")
    assert not checksums.verify_init_answer(
        {**good, "UrlThanhToan": "http://evil/pay"}, "dvcqg-secret"
    )


def test_missing_field_signs_as_empty_string():
    without_url = {"MaLoi": "02", "MaThamChieu": REF}
    assert (
        checksums.init_answer_checksum(without_url, "dvcqg-secret")
        == "e21b83fe540ec3d1d2ec841c95fa2fb4b8604b6a4e29e488f6e1589a3a2c2cee"
    )


def test_int_amount_signs_like_its_string():
    assert (
        checksums.paygov_create_checksum({**CREATE, "amount": 50000}, "paygov-secret")
        == "9c1f88d5b1e97730594ca24e9b68d0a366463abae5444d881e47d5b807afe245"
    )


@pytest.mark.parametrize("bad", [10000.0, True, {"x": 1}, ["1"]])
def test_ambiguous_values_cannot_be_signed(bad):
    with pytest.raises(ProtocolError):
        checksums.init_checksum({**INIT, "SoTien": bad}, "dvcqg-secret")
    # ...and a received message carrying one simply does not verify.
    assert not checksums.verify_confirm(
        {**CONFIRM, "SoTien": bad, "MaXacThuc": "00"}, "dvcqg-secret"
    )


def test_empty_secret_is_refused():
    with pytest.raises(ProtocolError):
        checksums.query_checksum(QUERY, "")




@pytest.mark.parametrize("recut", [
    # v1 let the boundary between orderId and requestCode move: the same bytes, another order.
    {"orderId": "ORD-0001REQ", "requestCode": "-0001"},
    # ... and a failed payment become "paid" with another amount.
    {"amount": "5", "errorCode": "00", "transactionNo": "00" + "00GD-778899"},
])
def test_a_recut_ipn_does_not_verify(recut):
    signed = {**IPN, "checksum": "720bcf74cce6bb0ad319a1d21a700e61cec6a3329b2fe0a2475db4c72ce3f85f"}
    assert checksums.verify_paygov_ipn(signed, "paygov-secret")
    assert not checksums.verify_paygov_ipn({**signed, **recut}, "paygov-secret")


def test_the_v1_ipn_checksum_no_longer_verifies():
    v1 = checksums.sha256_hex("paygov-secret" + "".join(IPN[k] for k in (
        "orderId", "requestCode", "amount", "errorCode", "transactionNo")))
    assert not checksums.verify_paygov_ipn({**IPN, "checksum": v1}, "paygov-secret")


@pytest.mark.parametrize("verify, message, secret", [
    (checksums.verify_paygov_ipn, IPN, "paygov-secret"),
    (checksums.verify_confirm, CONFIRM, "dvcqg-secret"),
])
def test_a_signed_field_holding_the_separator_is_refused_even_when_signed(verify, message, secret):
    # "A|B" + "C" and "A" + "B|C" join to the same string: such a message cannot be believed.
    compute = checksums.paygov_ipn_checksum if verify is checksums.verify_paygov_ipn else checksums.confirm_checksum
    key = "checksum" if verify is checksums.verify_paygov_ipn else "MaXacThuc"
    first = next(iter(message))
    cut = {**message, first: message[first] + "|x"}
    assert not verify({**cut, key: compute(cut, secret)}, secret)
    assert verify({**message, key: compute(message, secret)}, secret)
