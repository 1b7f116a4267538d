"""Settling a payment (the citizen paid or gave up) and notifying the partner: the DVCQG
CONFIRM callback or the PayGov IPN, signed, delivered in the background."""
from __future__ import annotations

from typing import Any

from flask import url_for

from mock_portal import checksums
from mock_portal.callbacks import dvcqg_acknowledged, paygov_acknowledged
from mock_portal.clock import iso_now, stamp
from mock_portal.state import Payment, PortalState

OUTCOMES = {"pay": "paid", "fail": "failed"}


def confirm_payload(payment: Payment, secret: str) -> dict[str, Any]:
    """The CONFIRM callback body for a settled DVCQG payment (MaLoi "00" paid, "99" failed)."""
    req = payment.request
    body = {
        "LoaiBanTin": "CONFIRM",
        "MaLoi": "00" if payment.state == "paid" else "99",
        "MaDoiTac": payment.partner,
        "MaThamChieu": payment.reference,
        "SoTien": payment.amount,
        "MaTienTe": req.get("MaTienTe", "VND"),
        "MaGiaoDich": payment.transaction_no,
        "MaNganHang": req.get("MaNganHang", ""),
        "ThoiGianGD": payment.settled_stamp or "",
        "ThongTinGiaoDich": req.get("ThongTinGiaoDich", ""),
    }
    body["MaXacThuc"] = checksums.confirm_checksum(body, secret)
    return body


def ipn_payload(payment: Payment, secret_key: str) -> dict[str, Any]:
    """The IPN body for a settled PayGov payment (errorCode "00" paid, "99" failed)."""
    req = payment.request
    body = {
        "amount": payment.amount,
        "orderId": payment.reference,
        "orderInfo": req.get("orderInfo", ""),
        "requestCode": req.get("requestCode", ""),
        "transactionNo": payment.transaction_no,
        "payDate": payment.settled_stamp or "",
        "paygate": "PAYGOV",
        "errorCode": "00" if payment.state == "paid" else "99",
        "type": "PAYMENT",
        "transactionCode": f"FT{payment.transaction_no[-12:]}",
    }
    body["checksum"] = checksums.paygov_ipn_checksum(body, secret_key)
    return body


def settle(state: PortalState, payment: Payment, action: str) -> bool:
    """Mark a pending payment paid or failed and send its callback; False if already settled."""
    with state.lock:
        if payment.state != "pending":
            return False
        payment.state = OUTCOMES[action]
        payment.settled_at = iso_now()
        payment.settled_stamp = stamp()
        world = state.world
        if payment.channel == "dvcqg_payment":
            partner = world.dvcqg_partners[payment.partner]
            kind, payload, ack = "confirm", confirm_payload(payment, partner.secret), \
                dvcqg_acknowledged
        else:
            gov = world.paygov_partners[payment.partner]
            kind, payload, ack = "ipn", ipn_payload(payment, gov.secret_key), paygov_acknowledged
        url = state.callback_url(payment.channel, payment.partner)
    record = state.callbacks.submit(kind, url, payload, ack, payment.reference)
    with state.lock:
        payment.callback_id = record["id"]
    return True


def public_url(state: PortalState, endpoint: str, **values: Any) -> str:
    """An absolute URL on the mock: PUBLIC_URL if configured, else the host the client used."""
    base = state.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
