"""Contract section 2 over real sockets: auth, sessions that expire, share and integration."""
from __future__ import annotations

import pytest

from tests.mock_portal.helpers import OTHER_UNIT, UNIT


class FakeClock:
    """An expiry clock the test moves by hand (no sleeping, no timing assertions)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(portal, endpoint, service, session, unit=UNIT, **params):
    body = {"session": session, "madonvi": unit, "service": service, **params}
    resp = portal.post(f"/adapter/{endpoint}", json=body)
    assert resp.status_code == 200
    return resp.json()


@pytest.mark.parametrize("body, code", [
    ({"username": "hanoi", "password": "hanoi-secret"}, "00"),
    ({"username": "hanoi", "password": "wrong"}, "01"),
    ({"username": "nobody", "password": "hanoi-secret"}, "01"),
    ({"username": "hanoi"}, "02"),
    ({"username": 1, "password": 2}, "02"),
])
def test_auth(portal, body, code):
    answer = portal.post("/adapter/auth", json=body).json()
    assert answer["error_code"] == code
    assert ("session" in answer) is (code == "00")


def test_lay_thu_tuc(portal):
    s = portal.session()
    answer = call(portal, "share", "LayThuTuc", s, maTTHC="1.000001")
    assert answer["error_code"] == "00"
    (tt,) = answer["result"]
    assert tt["MATTHC"] == "1.000001" and tt["TENTTHC"] == "Đăng ký khai sinh"
    assert tt["LINHVUCTHUCHIEN"][0]["TENLINHVUC"] == "Hộ tịch"
    assert [k["KENH"] for k in tt["CACHTHUCTHUCHIEN"]] == ["2", "1"]
    assert tt["COQUANTHUCHIEN"][0]["TENDONVI"] == "Ủy ban nhân dân cấp xã"
    assert call(portal, "share", "LayThuTuc", s, maTTHC="9.999999")["error_code"] == "01"
    assert call(portal, "share", "LayThuTuc", s)["error_code"] == "02"


@pytest.mark.parametrize("code, entries", [
    ("1.000001", [{"MACOQUANTHUCHIEN": UNIT, "MUCDO": "4"},
                  {"MACOQUANTHUCHIEN": OTHER_UNIT, "MUCDO": "2"}]),
    ("1.000002", [{"MACOQUANTHUCHIEN": UNIT, "MUCDO": "3"}]),
    ("1.000003", [{"MACOQUANTHUCHIEN": OTHER_UNIT, "MUCDO": "3"}]),
    ("2.000007", None),
    ("9.999999", None),
])
def test_lay_dvc(portal, code, entries):
    answer = call(portal, "share", "LayDVC", portal.session(), maTTHC=code)
    assert answer["error_code"] == "00"
    if entries is None:
        assert answer["result"] == []
    else:
        (dvc,) = answer["result"]
        assert dvc["MATTHC"] == code and dvc["APDUNGDVC"] == entries
        assert set(dvc) == {"MADVC", "TENDVC", "MATTHC", "TENTTHC", "TENLINHVUC", "APDUNGDVC"}


def test_lay_dvc_without_code_lists_every_integrated_service(portal):
    answer = call(portal, "share", "LayDVC", portal.session())
    assert [d["MATTHC"] for d in answer["result"]] == \
        ["1.000001", "1.000002", "1.000003", "2.000004", "2.000005", "2.000006"]


@pytest.mark.parametrize("endpoint, service, unit, code", [
    ("integration", "LayDVC", UNIT, "02"),         # share service on the integration endpoint
    ("share", "TraCuuHoSo", UNIT, "02"),
    ("share", "NoSuchService", UNIT, "02"),
    ("share", ["LayDVC"], UNIT, "02"),
    ("share", "LayDVC", "000.00.00.X99", "02"),  # unknown unit
])
def test_dispatch_refusals(portal, endpoint, service, unit, code):
    assert call(portal, endpoint, service, portal.session(), unit=unit)["error_code"] == code


@pytest.mark.parametrize("session", [None, "", "forged", 42])
def test_invalid_session_is_03(portal, session):
    assert call(portal, "share", "LayDVC", session)["error_code"] == "03"


def test_session_expires_after_ttl_then_login_again(start_portal):
    clock = FakeClock()
    portal = start_portal(SESSION_TTL=60, CLOCK=clock)
    s = portal.session()
    clock.now += 59
    assert call(portal, "share", "LayDVC", s)["error_code"] == "00"
    clock.now += 1
    assert call(portal, "share", "LayDVC", s)["error_code"] == "03"
    assert call(portal, "share", "LayDVC", portal.session())["error_code"] == "00"


def test_admin_expire_ends_sessions(portal):
    s = portal.session()
    assert portal.admin("POST", "/expire")["expired"] == 1
    assert call(portal, "share", "LayDVC", s)["error_code"] == "03"


def dossier(code="HS-001", status="1", **extra):
    return {"MaHoSo": code, "MaTTHC": "1.000001", "TenTTHC": "Đăng ký khai sinh",
            "NgayTiepNhan": "20211115093000", "NgayHenTra": "20211118170000",
            "TrangThaiHoSo": status, "KenhThucHien": "2", "DuocThanhToanTrucTuyen": "1", **extra}


@pytest.mark.parametrize("status", [str(n) for n in range(1, 11)])
def test_dossier_sync_every_status(portal, status):
    s = portal.session()
    sent = dossier(status=status, HoTenNguoiNop="Nguyễn Văn A")
    answer = call(portal, "integration", "DongBoHoSoMC", s, isUpdating="False", data=[sent])
    assert answer["error_code"] == "00"
    found = call(portal, "integration", "TraCuuHoSo", s, mahoso="HS-001")
    assert found["error_code"] == "00" and found["result"] == [sent]


def test_dossier_create_duplicate_update(portal):
    s = portal.session()
    sync = lambda updating, data: call(portal, "integration", "DongBoHoSoMC", s,  # noqa: E731
                                       isUpdating=updating, data=data)
    assert sync("False", [dossier()])["error_code"] == "00"
    assert sync("False", [dossier()])["error_code"] == "04"
    assert sync("True", [dossier(status="9")])["error_code"] == "00"
    assert call(portal, "integration", "TraCuuHoSo", s,
                mahoso="HS-001")["result"][0]["TrangThaiHoSo"] == "9"
    assert sync("True", [dossier(code="HS-404")])["error_code"] == "01"
    # all or nothing: a batch with one existing dossier keeps none of it
    assert sync("False", [dossier(code="HS-002"), dossier()])["error_code"] == "04"
    assert call(portal, "integration", "TraCuuHoSo", s, mahoso="HS-002")["result"] == []
    kept = portal.admin("GET", "/dossiers")["dossiers"]
    assert [(d["MaHoSo"], d["madonvi"], d["updates"]) for d in kept] == [("HS-001", UNIT, 1)]


@pytest.mark.parametrize("updating, data", [
    ("False", [dossier(status="11")]),
    ("False", [dossier(status="0")]),
    ("False", [dossier(NgayTiepNhan="2021-11-15")]),
    ("False", [dossier(KenhThucHien="5")]),
    ("False", [{"MaTTHC": "1.000001", "TrangThaiHoSo": "1"}]),
    ("False", []),
    ("false", [dossier()]),
    (True, [dossier()]),
    ("False", "not a list"),
])
def test_dossier_sync_refuses_bad_parameters(portal, updating, data):
    s = portal.session()
    answer = call(portal, "integration", "DongBoHoSoMC", s, isUpdating=updating, data=data)
    assert answer["error_code"] == "02"
    assert portal.admin("GET", "/dossiers")["dossiers"] == []


def test_tra_cuu_unknown_and_missing(portal):
    s = portal.session()
    assert call(portal, "integration", "TraCuuHoSo", s, mahoso="nope") == \
        {"error_code": "00", "message": "Thành công", "result": []}
    assert call(portal, "integration", "TraCuuHoSo", s)["error_code"] == "02"


def test_non_json_body_is_02(portal):
    resp = portal.post("/adapter/share", data="session=x", headers={"Content-Type": "text/plain"})
    assert resp.json()["error_code"] == "02"
