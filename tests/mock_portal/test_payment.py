"""Contract section 3 over real sockets: INIT (signed, verified), QUERY, GET_BILL, citizen page."""
from __future__ import annotations

import re

import pytest

from tests.mock_portal.helpers import init_message, query_message, sha

# The INIT of test_checksums, with the MaXacThuc computed in the shell:
# printf '%s' 'INIT|1.0.6|HNI|HS-2021-0001|50000|PAY|1|1|vi-VN|VND|PAYMENT|'\
#   'Nop le phi ho so HS-2021-0001|20211115093000|127.0.0.1|dvcqg-secret' | sha256sum
LITERAL_MAC = "cf1593dbe790a2bd830242fb9b050d9705294eb1c61f9ae94412911611f84e78"


def literal_init(**changes):
    msg = init_message("1.000001", "HS-2021-0001")
    msg["MaXacThuc"] = LITERAL_MAC
    msg.update(changes)
    return msg


def test_init_with_literal_checksum_is_accepted_and_answer_is_signed(portal):
    answer = portal.post("/payment/init", json=literal_init()).json()
    assert answer["MaLoi"] == "00", answer
    assert answer["MaThamChieu"] == "HS-2021-0001"
    assert re.fullmatch(re.escape(portal.url) + r"/payment/pay/[\w-]+", answer["UrlThanhToan"])
    assert answer["MaXacThuc"] == sha(f"00|HS-2021-0001|{answer['UrlThanhToan']}|dvcqg-secret")


@pytest.mark.parametrize("changes", [
    {"SoTien": "50001"},                              # a signed field changed
    {"MaThamChieu": "HS-2021-0009"},
    {"Ip": "10.0.0.1"},
    {"MaXacThuc": LITERAL_MAC.upper()},               # not lowercase hex
    {"MaXacThuc": LITERAL_MAC[:-1] + "0"},
    {"MaXacThuc": ""},
])
def test_wrongly_signed_init_is_refused_with_01(portal, changes):
    answer = portal.post("/payment/init", json=literal_init(**changes)).json()
    assert answer["MaLoi"] == "01"
    assert answer["UrlThanhToan"] == ""
    assert portal.admin("GET", "/payments")["payments"] == []


def test_init_signed_with_another_secret_is_refused(portal):
    msg = init_message("1.000001", "HS-1", secret="not-the-secret")
    assert portal.post("/payment/init", json=msg).json()["MaLoi"] == "01"


@pytest.mark.parametrize("code, partner, maloi", [
    ("1.000001", "HNI", "00"),
    ("1.000002", "HNI", "00"),
    ("1.000003", "HNI", "02"),   # payment not configured for this procedure
    ("9.999999", "HNI", "02"),   # unknown procedure
    ("1.000001", "XYZ", "99"),   # unknown partner
])
def test_init_payment_configuration(portal, code, partner, maloi):
    answer = portal.post("/payment/init", json=init_message(code, "HS-1", partner=partner)).json()
    assert answer["MaLoi"] == maloi


@pytest.mark.parametrize("change", [
    {"PhienBan": "1.0.5"}, {"SoTien": "0"}, {"SoTien": "12.5"}, {"LoaiHinhThanhToan": "REFUND"},
    {"MaTienTe": "USD"}, {"ThoiGianGD": "2021-11-15"}, {"ThongTinBienLai": None},
    {"ThongTinBienLai": {"MaTTHC": ""}}, {"LoaiBanTin": "QUERY"},
])
def test_init_bad_fields_are_99_even_when_signed(portal, change):
    msg = init_message("1.000001", "HS-1")
    msg.update(change)
    fields = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "LoaiHinhThanhToan",
              "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaTienTe", "MaNganHang",
              "ThongTinGiaoDich", "ThoiGianGD", "Ip")
    msg["MaXacThuc"] = sha("|".join([msg[f] for f in fields] + ["dvcqg-secret"]))
    assert portal.post("/payment/init", json=msg).json()["MaLoi"] == "99"


def test_duplicate_reference_is_refused_but_a_replay_is_answered_again(portal):
    def init(code):
        return portal.post("/payment/init", json=init_message(code, "HS-1")).json()
    first = init("1.000001")
    assert first["MaLoi"] == "00"
    assert init("1.000001") == first          # the same INIT re-sent (a retry): same answer
    assert init("1.000002")["MaLoi"] == "99"  # another INIT with the reference
    portal.admin("POST", "/payments/HS-1/pay")
    assert init("1.000001")["MaLoi"] == "99"  # no replay once settled
    assert len(portal.admin("GET", "/payments")["payments"]) == 1


def query(portal, ref, kind="QUERY", path="/payment/query", **changes):
    msg = query_message(ref, kind=kind)
    msg.update(changes)
    return portal.post(path, json=msg).json()


@pytest.mark.parametrize("action, state", [("pay", "1"), ("fail", "4")])
def test_query_reflects_state(portal, action, state):
    portal.post("/payment/init", json=init_message("1.000001", "HS-7", amount="8000"))
    pending = query(portal, "HS-7")
    assert (pending["MaLoi"], pending["TrangThaiGD"], pending["SoTien"]) == ("00", "3", "8000")
    settled = portal.admin("POST", f"/payments/HS-7/{action}")
    assert settled["TrangThaiGD"] == state
    answer = query(portal, "HS-7")
    assert answer["TrangThaiGD"] == state and answer["MaGiaoDich"] == pending["MaGiaoDich"]
    assert set(answer) == {"MaLoi", "MoTaLoi", "MaThamChieu", "SoTien", "MaGiaoDich", "TrangThaiGD"}


def test_query_unknown_reference_is_not_yet_known(portal):
    answer = query(portal, "NEVER-SEEN")
    assert (answer["MaLoi"], answer["TrangThaiGD"]) == ("00", "3")


@pytest.mark.parametrize("changes, maloi", [
    ({"MaXacThuc": "0" * 64}, "01"),
    ({"MaThamChieu": "other"}, "01"),   # signed field changed
    ({"MaDoiTac": "XYZ"}, "99"),
])
def test_query_refusals(portal, changes, maloi):
    assert query(portal, "HS-1", **changes)["MaLoi"] == maloi


def test_query_with_get_bill_type_on_query_path_is_99(portal):
    assert query(portal, "HS-1", kind="GET_BILL")["MaLoi"] == "99"


def test_receipt_only_when_paid(portal):
    portal.post("/payment/init", json=init_message("1.000001", "HS-9"))
    assert query(portal, "HS-9", kind="GET_BILL", path="/payment/receipt")["MaLoi"] == "99"
    portal.admin("POST", "/payments/HS-9/pay")
    bill = query(portal, "HS-9", kind="GET_BILL", path="/payment/receipt")
    assert bill["MaLoi"] == "00" and bill["TrangThaiGD"] == "1"
    assert bill["ThongTinBienLai"]["MaTTHC"] == "1.000001"
    assert bill["ThongTinBienLai"]["SoBienLai"] == bill["MaGiaoDich"]


@pytest.mark.parametrize("action, state, trang_thai",
                         [("pay", "paid", "1"), ("fail", "failed", "4")])
def test_citizen_page(portal, action, state, trang_thai):
    url = portal.post("/payment/init", json=init_message("1.000002", "HS-5")).json()["UrlThanhToan"]
    page = portal.get(url[len(portal.url):])
    assert page.status_code == 200 and "HS-5" in page.text
    assert 'value="pay"' in page.text and 'value="fail"' in page.text
    done = portal.post(url[len(portal.url):], data={"action": action})
    assert done.status_code == 200 and done.history[0].status_code == 303
    assert 'value="pay"' not in done.text
    assert query(portal, "HS-5")["TrangThaiGD"] == trang_thai
    again = portal.post(url[len(portal.url):], data={"action": "pay"})
    assert again.status_code == 409
    (payment,) = portal.admin("GET", "/payments")["payments"]
    assert payment["state"] == state


def test_citizen_page_unknown_token_404(portal):
    assert portal.get("/payment/pay/nope").status_code == 404
    assert portal.post("/payment/pay/nope", data={"action": "pay"}).status_code == 404


def test_public_url_config_sets_payment_url(start_portal):
    portal = start_portal(PUBLIC_URL="https://pay.example.test/base/")
    url = portal.post("/payment/init", json=init_message("1.000001", "HS-1")).json()["UrlThanhToan"]
    assert url.startswith("https://pay.example.test/base/payment/pay/")


@pytest.mark.parametrize("path, status", [("/payments/NOPE/pay", 404),
                                          ("/payments/HS-1/refund", 404)])
def test_admin_settle_refusals(portal, path, status):
    portal.post("/payment/init", json=init_message("1.000001", "HS-1"))
    resp = portal.post("/_admin" + path)
    assert resp.status_code == status


def test_admin_settle_twice_is_409(portal):
    portal.post("/payment/init", json=init_message("1.000001", "HS-1"))
    assert portal.post("/_admin/payments/HS-1/pay").status_code == 200
    assert portal.post("/_admin/payments/HS-1/fail").status_code == 409


@pytest.mark.parametrize("body", ["not json", None])
def test_init_not_json_is_99(portal, body):
    resp = portal.post("/payment/init", data=body, headers={"Content-Type": "text/plain"})
    assert resp.json()["MaLoi"] == "99"


def test_concurrent_inits_are_consistent(portal):
    """The state lock holds under the threaded server: unique references all succeed, and of
    many INITs racing for one reference exactly one wins."""
    from concurrent.futures import ThreadPoolExecutor

    def init(ref):
        return portal.post("/payment/init", json=init_message("1.000001", ref)).json()["MaLoi"]

    def init_other(i):
        return portal.post("/payment/init", json=init_message("1.000001", "SAME",
                                                              amount=str(1000 + i))).json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        unique = list(pool.map(init, [f"U-{i}" for i in range(24)]))
        racing = [a["MaLoi"] for a in pool.map(init_other, range(16))]
    assert unique == ["00"] * 24
    assert sorted(racing) == ["00"] + ["99"] * 15
    assert len(portal.admin("GET", "/payments")["payments"]) == 25
