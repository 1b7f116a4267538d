"""Validation of procedure bodies and import rows."""
from __future__ import annotations

import unicodedata

import pytest
from marshmallow import ValidationError

from registry.schemas import ImportRowSchema, ProcedureCreateSchema, ProcedureUpdateSchema


@pytest.mark.parametrize("code, ok", [
    ("1.000771", True), (" 2.002195 ", True), ("1.001193.H26", True), ("2.000123.12", True),
    ("1.00077", False), ("1000771", False), ("1.000771.h26", False), ("a.000771", False),
    ("1.000771.", False), ("", False),
])
def test_code_pattern(code, ok):
    body = {"code": code, "name": "Thủ tục"}
    if ok:
        assert ProcedureCreateSchema().load(body)["code"] == code.strip()
    else:
        with pytest.raises(ValidationError) as exc:
            ProcedureCreateSchema().load(body)
        assert "code" in exc.value.messages


@pytest.mark.parametrize("level, ok", [(1, True), (4, True), (0, False), (5, False), ("x", False)])
def test_service_level_range(level, ok):
    body = {"code": "1.000001", "name": "X", "service_level": level}
    if ok:
        assert ProcedureCreateSchema().load(body)["service_level"] == level
    else:
        with pytest.raises(ValidationError) as exc:
            ProcedureCreateSchema().load(body)
        assert "service_level" in exc.value.messages


def test_unknown_field_is_rejected_by_name():
    with pytest.raises(ValidationError) as exc:
        ProcedureCreateSchema().load({"code": "1.000001", "name": "X", "colour": "red"})
    assert "colour" in exc.value.messages


def test_text_is_nfc_and_collapsed():
    out = ProcedureCreateSchema().load(
        {"code": "1.000001", "name": unicodedata.normalize("NFD", "  Đăng  ký   khai sinh "),
         "agencies": "Sở Tư pháp\n  UBND   cấp xã \n"})
    assert out["name"] == "Đăng ký khai sinh" and unicodedata.is_normalized("NFC", out["name"])
    assert out["agencies"] == ["Sở Tư pháp", "UBND cấp xã"]
    assert out["agency"] == "Sở Tư pháp"


def test_online_mode_must_match_level():
    with pytest.raises(ValidationError) as exc:
        ImportRowSchema().load({"code": "1.000001", "service_level": 3, "online_mode": "toan_trinh"})
    assert "online_mode" in exc.value.messages


def test_update_cannot_change_code():
    with pytest.raises(ValidationError) as exc:
        ProcedureUpdateSchema().load({"code": "1.000002"})
    assert "code" in exc.value.messages


@pytest.mark.parametrize("word, value", [("có", True), ("x", True), ("true", True), ("1", True),
                                          ("không", False), ("false", False), ("0", False)])
def test_spreadsheet_booleans(word, value):
    assert ImportRowSchema().load({"code": "1.000001", "sso": word})["sso"] is value


def test_payment_channel_requires_fee():
    with pytest.raises(ValidationError) as exc:
        ImportRowSchema().load({"code": "1.000001", "has_fee": False, "payment_channel": "paygov"})
    assert "payment_channel" in exc.value.messages
