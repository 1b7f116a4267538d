"""Payment probes: DVCQG INIT + QUERY and PayGov token + create, every verdict of section 5."""

from __future__ import annotations

import hashlib
import re

import pytest

from connectors import UsageError
from connectors.paygov import strip_accents
from tests.connectors import fakeportal as fp
from tests.connectors.conftest import fast_config, with_prober

CODE = "2.002195"


def payment(config, channel="dvcqg_payment", code=CODE, **kwargs):
    return with_prober(config, lambda p: p.payment(code, channel, **kwargs))


# --- DVCQG Payment Platform ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["3", "1"])
def test_payment_ready(portal, config, state):
    portal.add(CODE, "Cấp giấy phép xây dựng", payment="ok", query_state=state)
    verdict = payment(config, name="Cấp giấy phép xây dựng")
    assert verdict.verdict == "payment_ready" and verdict.channel == "dvcqg_payment"
    assert verdict.details["transaction_state"] == state
    assert verdict.details["payment_url"].startswith(f"{portal.base_url}/payment/pay/")
    assert [c.service for c in verdict.calls] == ["INIT", "QUERY"]
    init = portal.requests_to("/payment/init")[0]["json"]
    query = portal.requests_to("/payment/query")[0]["json"]
    assert init["MaThamChieu"] == query["MaThamChieu"] == verdict.details["reference"]


def test_init_message_follows_the_contract(portal, config):
    portal.add(CODE, payment="ok")
    payment(config, name="Cấp giấy phép xây dựng", amount=25000)
    body = portal.requests_to("/payment/init")[0]["json"]
    fixed = {
        "LoaiBanTin": "INIT",
        "PhienBan": "1.0.6",
        "MaDoiTac": "HNI",
        "SoTien": "25000",
        "LoaiHinhThanhToan": "PAY",
        "MaKenhThanhToan": "1",
        "MaThietBi": "1",
        "NgonNgu": "vi-VN",
        "MaTienTe": "VND",
        "MaNganHang": "PAYMENT",
        "Ip": "127.0.0.1",
    }
    assert {k: body[k] for k in fixed} == fixed
    assert re.fullmatch(rf"PROBE-{re.escape(CODE)}-\d{{14}}-[0-9a-f]{{6}}", body["MaThamChieu"])
    assert re.fullmatch(r"\d{14}", body["ThoiGianGD"])
    receipt = body["ThongTinBienLai"]
    assert (receipt["MaDichVu"], receipt["MaTTHC"], receipt["MaDonVi"], receipt["TenTTHC"]) == (
        "2",
        CODE,
        "000.00.00.H26",
        "Cấp giấy phép xây dựng",
    )
    # the fake portal verified MaXacThuc with its own code, or INIT would have answered "01"


def test_probe_references_are_unique(portal, config):
    portal.add(CODE, payment="ok")

    async def use(prober):
        return [await prober.payment(CODE, "dvcqg_payment") for _ in range(3)]

    verdicts = with_prober(config, use)
    assert len({v.details["reference"] for v in verdicts}) == 3


def test_payment_not_configured(portal, config):
    portal.add(CODE)
    verdict = payment(config)
    assert verdict.verdict == "payment_not_configured" and verdict.error_code == "02"
    assert [c.service for c in verdict.calls] == ["INIT"]


def test_payment_rejected_with_code_and_message(portal, config):
    portal.add(CODE, payment="99")
    verdict = payment(config)
    assert verdict.verdict == "payment_rejected"
    assert (verdict.error_code, verdict.error_message) == ("99", "Lỗi khác")


def test_our_wrong_secret_cannot_verify_the_signed_01_refusal(portal):
    portal.add(CODE, payment="ok")
    verdict = payment(fast_config(portal.base_url, payment_secret="not-the-secret"))
    # The platform refuses our checksum with a "01" signed with the real secret: we cannot
    # verify it either, so we do not believe it.
    assert verdict.verdict == "invalid_signature" and verdict.error_code == "01"


def test_unsigned_01_refusal_is_a_rejection(portal, config):
    portal.add(CODE, payment="ok")
    portal.script(
        "/payment/init", lambda r: fp.json_response({"MaLoi": "01", "MoTaLoi": "Sai mã xác thực"})
    )
    verdict = payment(config)
    assert verdict.verdict == "payment_rejected" and verdict.error_code == "01"


def test_invalid_signature(portal, config):
    portal.add(CODE, payment="bad_signature")
    verdict = payment(config)
    assert verdict.verdict == "invalid_signature"
    assert [c.service for c in verdict.calls] == ["INIT"]  # never QUERY an answer we do not believe


def test_answer_for_another_reference_does_not_verify(portal, config):
    portal.add(CODE, payment="ok")

    def other_reference(request):
        ref, url = "PROBE-someone-else", "http://127.0.0.1/pay"
        digest = hashlib.sha256(f"00|{ref}|{url}|dvcqg-secret".encode()).hexdigest()
        return fp.json_response(
            {"MaLoi": "00", "MaThamChieu": ref, "UrlThanhToan": url, "MaXacThuc": digest}
        )

    portal.script("/payment/init", other_reference)
    assert payment(config).verdict == "invalid_signature"


def test_signed_refusal_with_a_bad_checksum_is_invalid_signature(portal, config):
    portal.add(CODE, payment="ok")
    portal.script(
        "/payment/init",
        lambda r: fp.json_response(
            {"MaLoi": "02", "MoTaLoi": "x", "MaThamChieu": "r", "MaXacThuc": "00" * 32}
        ),
    )
    assert payment(config).verdict == "invalid_signature"


def test_unsigned_refusal_is_believed(portal, config):
    portal.add(CODE, payment="ok")
    portal.script(
        "/payment/init", lambda r: fp.json_response({"MaLoi": "02", "MoTaLoi": "chưa cấu hình"})
    )
    assert payment(config).verdict == "payment_not_configured"


def test_query_state_failed_is_rejected(portal, config):
    portal.add(CODE, payment="ok", query_state="4")
    verdict = payment(config)
    assert verdict.verdict == "payment_rejected" and verdict.error_code == "TrangThaiGD=4"


def test_init_retried_after_5xx_uses_a_fresh_reference(portal, config):
    portal.add(CODE, payment="ok")
    portal.script("/payment/init", fp.status(502))
    verdict = payment(config)
    assert verdict.verdict == "payment_ready"
    refs = [r["json"]["MaThamChieu"] for r in portal.requests_to("/payment/init")]
    assert len(refs) == 2 and refs[0] != refs[1] and verdict.details["reference"] == refs[1]


def test_init_answer_lost_to_a_timeout_does_not_make_a_duplicate(portal):
    # The first INIT is accepted by the platform but answers too late; the retry must not
    # be refused as a duplicate reference ("99" in the fake, as in mock_portal).
    config = fast_config(portal.base_url, timeout=0.3)
    portal.add(CODE, payment="ok")
    portal.script("/payment/init", fp.slow(0.8))
    verdict = payment(config)
    assert verdict.verdict == "payment_ready"
    assert [c.outcome for c in verdict.calls if c.service == "INIT"] == ["timeout", "ok"]


@pytest.mark.parametrize("fault", [fp.status(503), fp.maintenance, fp.status(429, "1")])
def test_payment_platform_unavailable_is_unknown(portal, config, fault):
    portal.add(CODE, payment="ok")
    portal.script("/payment/init", *[fault] * 5)
    verdict = payment(config)
    assert verdict.verdict == "unknown" and verdict.unavailable
    assert len(verdict.calls) == config.attempts


def test_query_unavailable_is_unknown(portal, config):
    portal.add(CODE, payment="ok")
    portal.script("/payment/query", *[fp.status(500)] * 5)
    verdict = payment(config)
    assert verdict.verdict == "unknown" and verdict.cause == "unavailable"
    assert verdict.details["reference"]  # the INIT evidence is kept


def test_portal_down(dead_url):
    verdict = payment(fast_config(dead_url))
    assert verdict.verdict == "unknown" and verdict.unavailable


# --- PayGov ---------------------------------------------------------------------------------------


def test_paygov_ready(portal, config):
    portal.add(CODE, paygov="ok")
    verdict = payment(config, "paygov", amount=50000)
    assert verdict.verdict == "payment_ready" and verdict.channel == "paygov"
    assert [c.service for c in verdict.calls] == ["token", "create"]
    body = portal.requests_to("/paygov/create")[0]["json"]
    assert (
        body["serviceCode"] == CODE and body["amount"] == "50000" and body["partnerCode"] == "HNI"
    )
    assert all(isinstance(v, str) for v in body.values())
    assert body["orderInfo"] == strip_accents(body["orderInfo"]) and body["orderInfo"].isascii()
    token = portal.requests_to("/lgsp/token")[0]["form"]
    assert token == {
        "grant_type": "client_credentials",
        "client_id": "tthc",
        "client_secret": "lgsp-secret",
    }


def test_paygov_not_configured(portal, config):
    portal.add(CODE)
    verdict = payment(config, "paygov")
    assert verdict.verdict == "payment_not_configured" and verdict.error_code == "02"


def test_paygov_rejected(portal, config):
    portal.add(CODE, paygov="SERVICE_LOCKED")
    verdict = payment(config, "paygov")
    assert verdict.verdict == "payment_rejected" and verdict.error_code == "SERVICE_LOCKED"


def test_paygov_wrong_checksum_is_rejected(portal):
    portal.add(CODE, paygov="ok")
    verdict = payment(fast_config(portal.base_url, paygov_secret_key="wrong"), "paygov")
    assert verdict.verdict == "payment_rejected" and verdict.error_code == "SIGNATURE_WRONG"


def test_token_is_cached_then_refreshed_once_on_401(portal, config):
    portal.add(CODE, paygov="ok")
    portal.add("2.002196", paygov="ok")

    async def use(prober):
        first = await prober.payment(CODE, "paygov")
        again = await prober.payment(CODE, "paygov")
        portal.revoke_tokens()  # the token expires on the portal's side
        after = await prober.payment("2.002196", "paygov")
        return first, again, after, prober.paygov.tokens_issued

    first, again, after, issued = with_prober(config, use)
    assert [v.verdict for v in (first, again, after)] == ["payment_ready"] * 3
    assert issued == 2 and [c.service for c in again.calls] == ["create"]
    assert [(c.service, c.status) for c in after.calls] == [
        ("create", 401),
        ("token", 200),
        ("create", 200),
    ]
    headers = [r["headers"] for r in portal.requests_to("/paygov/create")]
    assert headers[0]["Authorization"] == f"Bearer {headers[0]['Lgspaccesstoken']}"
    assert headers[2]["Authorization"] != headers[3]["Authorization"]


def test_401_on_fresh_tokens_is_retried_within_the_budget_then_auth_failed(portal, config):
    # Like the adapter's "03": a fresh token refused on its first use costs a retry; after
    # `attempts` of them, our credentials are what is refused.
    portal.add(CODE, paygov="ok")
    unauthorized = fp.status(401)
    portal.script("/paygov/create", *[unauthorized] * config.attempts)
    verdict = payment(config, "paygov")
    assert verdict.verdict == "unknown" and verdict.cause == "auth_failed"
    assert (
        len(portal.requests_to("/paygov/create")) == config.attempts
        and len(portal.requests_to("/lgsp/token")) == config.attempts
    )


def test_a_401_after_a_renewed_token_is_transient(portal, config):
    portal.add(CODE, paygov="ok")
    unauthorized = fp.status(401)
    portal.script("/paygov/create", *[unauthorized] * (config.attempts - 1))
    assert payment(config, "paygov").verdict == "payment_ready"


def test_token_expiry_is_anticipated(portal):
    # expires_in 2 s with a 30 s margin: the margin is capped at half the lifetime (1 s),
    # so a second probe right away reuses it; the clock is what decides, not the portal.
    config = fast_config(portal.base_url)
    portal.token_lifetime = 2
    portal.add(CODE, paygov="ok")
    now = [1000.0]

    async def use(prober):
        prober.paygov._clock = lambda: now[0]
        await prober.payment(CODE, "paygov")
        await prober.payment(CODE, "paygov")
        now[0] += 1.5
        await prober.payment(CODE, "paygov")
        return prober.paygov.tokens_issued

    assert with_prober(config, use) == 2


def test_wrong_lgsp_credentials_are_unknown_auth_failed(portal):
    portal.add(CODE, paygov="ok")
    verdict = payment(fast_config(portal.base_url, lgsp_client_secret="wrong"), "paygov")
    assert verdict.verdict == "unknown" and verdict.cause == "auth_failed"
    assert len(portal.requests_to("/lgsp/token")) == 1


def test_paygov_html_maintenance_is_retried(portal, config):
    portal.add(CODE, paygov="ok")
    portal.script("/paygov/create", fp.maintenance)
    verdict = payment(config, "paygov")
    assert verdict.verdict == "payment_ready"
    orders = [r["json"]["orderId"] for r in portal.requests_to("/paygov/create")]
    assert len(orders) == 2 and orders[0] != orders[1]


@pytest.mark.parametrize("channel", ["none", "", "momo", None])
def test_unknown_channel_is_a_usage_error(config, channel):
    with pytest.raises(UsageError):
        payment(config, channel)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Thanh toán lệ phí hộ tịch", "Thanh toan le phi ho tich"),
        ("Đăng ký đất đai", "Dang ky dat dai"),
        ("ỨNG DỤNG", "UNG DUNG"),
    ],
)
def test_strip_accents(text, expected):
    assert strip_accents(text) == expected
