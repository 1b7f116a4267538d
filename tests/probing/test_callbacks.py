"""Payment callbacks: a real payment through the mock portal reaches a real registry server and
is counted once; a forged one is refused and recorded. Checksums here were computed in the
shell (`printf '%s' '...' | sha256sum`), not by the code under test."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors import PaymentClient, PayGovClient, PortalConfig
from registry.store import open_store

from .conftest import make_app

CODE = "1.000028"
# printf '%s' 'CONFIRM|00|HNI|HS-1.000028-0001|50000|VND|GD20261122000001|PAYMENT|20261122101500|Thanh toan le phi TTHC 1.000028|dvcqg-secret' | sha256sum  # noqa: E501 - the exact shell line
CONFIRM = {"LoaiBanTin": "CONFIRM", "MaLoi": "00", "MaDoiTac": "HNI", "MaThamChieu": "HS-1.000028-0001",
           "SoTien": "50000", "MaTienTe": "VND", "MaGiaoDich": "GD20261122000001", "MaNganHang": "PAYMENT",
           "ThoiGianGD": "20261122101500", "ThongTinGiaoDich": "Thanh toan le phi TTHC 1.000028",
           "MaXacThuc": "ea70f789fe9864ce29baa8fc3a0770c6810838997cb51d667a5ab93f47f7385a"}
# printf '%s' 'ORD-1.000028-77|REQ77|120000|00|PG20261122000009|20261122101500|Le phi TTHC|paygov-secret' | sha256sum  # noqa: E501
IPN = {"amount": "120000", "orderId": "ORD-1.000028-77", "orderInfo": "Le phi TTHC", "requestCode": "REQ77",
       "transactionNo": "PG20261122000009", "payDate": "20261122101500", "paygate": "PAYGOV",
       "errorCode": "00", "type": "PAYMENT", "transactionCode": "FT000009",
       "checksum": "e4b5cd3806a60a317d58e0a1b31199cecd91c54dad18d447afd4500a4cdce85e"}
CONFIRM_URL, IPN_URL = "/api/v1/payments/dvcqg/confirm", "/api/v1/payments/paygov/ipn"


def _state(db: Path) -> dict[str, Any]:
    with open_store(db) as store:
        return {"payments": store.list_payments(), "rejections": store.list_callback_rejections(),
                "audit": store.list_audit(entity="payment", limit=1000),
                "verdicts": store.verdicts_for(CODE)}


@pytest.mark.parametrize("url, body, ok", [(CONFIRM_URL, CONFIRM, {"MaLoi": "00"}),
                                           (IPN_URL, IPN, {"error_code": "SUCCESSFUL"})])
def test_a_genuine_callback_is_kept_once_even_when_delivered_twice(db, url, body, ok):
    client = make_app(db, "http://127.0.0.1:9").test_client()
    for _ in range(2):
        resp = client.post(url, json=body)
        assert resp.status_code == 200 and resp.get_json().items() >= ok.items()
    state = _state(db)
    assert len(state["payments"]) == 1
    payment = state["payments"][0]
    amount = body.get("SoTien", body.get("amount"))
    assert (payment["code"], payment["status"], payment["amount"]) == (CODE, "paid", amount)
    assert [a["action"] for a in state["audit"]] == ["payment.confirmed"]
    assert state["verdicts"]["payment"]["verdict"] == "payment_ready"
    assert state["rejections"] == []


@pytest.mark.parametrize("url, body, field, refused", [
    (CONFIRM_URL, CONFIRM, "SoTien", {"MaLoi": "99"}),
    (CONFIRM_URL, CONFIRM, "MaXacThuc", {"MaLoi": "99"}),
    (CONFIRM_URL, CONFIRM, "MaDoiTac", {"MaLoi": "99"}),
    (IPN_URL, IPN, "amount", {"error_code": "SIGNATURE_WRONG"}),
    (IPN_URL, IPN, "errorCode", {"error_code": "SIGNATURE_WRONG"}),
])
def test_a_forged_callback_is_refused_recorded_and_audited(db, url, body, field, refused):
    client = make_app(db, "http://127.0.0.1:9").test_client()
    forged = {**body, field: "1" + body[field][1:] if body[field][0] != "1" else "9" + body[field][1:]}
    resp = client.post(url, json=forged)
    assert resp.status_code == 200 and resp.get_json().items() >= refused.items()
    state = _state(db)
    assert state["payments"] == [] and "payment" not in state["verdicts"]
    assert len(state["rejections"]) == 1
    assert [a["action"] for a in state["audit"]] == ["payment.callback_rejected"]


@pytest.mark.parametrize("url, payload, answer", [
    (CONFIRM_URL, b"not json", {"MaLoi": "99"}),
    (CONFIRM_URL, b"[1, 2]", {"MaLoi": "99"}),
    (CONFIRM_URL, b'{"LoaiBanTin": "CONFIRM"}', {"MaLoi": "99"}),
    (IPN_URL, b"{}", {"error_code": "FAILED"}),
    (IPN_URL, b'{"orderId": {"x": 1}}', {"error_code": "FAILED"}),
    (CONFIRM_URL, b'{"LoaiBanTin": "CONFIRM", "ThongTinGiaoDich": "\\ud800"}', {"MaLoi": "99"}),
    (IPN_URL, b'{"orderId": "\\udfff"}', {"error_code": "FAILED"}),
])
def test_malformed_callbacks_are_refused_and_recorded(db, url, payload, answer):
    client = make_app(db, "http://127.0.0.1:9").test_client()
    resp = client.post(url, data=payload, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json().items() >= answer.items()
    assert len(_state(db)["rejections"]) == 1 and _state(db)["payments"] == []


def _config(url: str) -> PortalConfig:
    return PortalConfig(base_url=url, timeout=5.0, retries=1, backoff_base=0.01)


async def _init_dvcqg(url: str, code: str) -> str:
    async with httpx.AsyncClient() as client:
        outcome = await PaymentClient(client, _config(url)).init(code=code, amount=25000)
    assert outcome.ok, outcome
    return outcome.value.reference


async def _create_paygov(url: str, code: str) -> str:
    async with httpx.AsyncClient() as client:
        outcome = await PayGovClient(client, _config(url)).create(code=code, amount=25000)
    assert outcome.ok, outcome
    return outcome.value


@pytest.mark.parametrize("channel", ["dvcqg_payment", "paygov"])
def test_a_real_payment_through_the_portal_is_counted_once(portal, db, world, registry_server, channel):
    server = registry_server(make_app(db, portal.url))
    partner = "HNI"
    portal.admin("PUT", "/callback-urls", json={
        "dvcqg_payment": {partner: server.url + CONFIRM_URL}, "paygov": {partner: server.url + IPN_URL}})
    code = sorted(world["payments"][channel][partner])[0]
    if channel == "dvcqg_payment":
        reference = asyncio.run(_init_dvcqg(portal.url, code))
    else:
        pay_url = asyncio.run(_create_paygov(portal.url, code))
        reference = pay_url.rstrip("/").rsplit("/", 1)[-1]  # the pay page's token names the payment
    paid = portal.admin("POST", f"/payments/{reference}/pay")
    assert paid["state"] == "paid"
    callbacks = portal.admin("GET", "/callbacks", params={"wait": 20})["callbacks"]
    assert [c["state"] for c in callbacks] == ["acknowledged"]
    delivered = callbacks[0]["payload"]
    # The platform delivers the same callback again: nothing changes.
    again = httpx.post(callbacks[0]["url"], json=delivered, timeout=10).json()
    assert again.get("MaLoi", again.get("error_code")) in ("00", "SUCCESSFUL")
    state = _state(db)
    assert len(state["payments"]) == 1
    payment = state["payments"][0]
    assert (payment["channel"], payment["code"], payment["status"]) == (channel, code, "paid")
    assert payment["reference"] == paid["reference"] and payment["amount"] == "25000"
    assert [a["action"] for a in state["audit"]] == ["payment.confirmed"]
    with open_store(db) as store:
        assert store.verdicts_for(code)["payment"]["verdict"] == "payment_ready"
    # A forged copy (amount changed, checksum kept) is refused and changes nothing either.
    amount_key = "SoTien" if channel == "dvcqg_payment" else "amount"
    forged = httpx.post(callbacks[0]["url"], json={**delivered, amount_key: "1"}, timeout=10).json()
    assert forged.get("MaLoi", forged.get("error_code")) in ("99", "SIGNATURE_WRONG")
    state = _state(db)
    assert len(state["payments"]) == 1 and len(state["rejections"]) == 1
