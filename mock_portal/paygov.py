"""Contract section 4: PayGov reached through a provincial LGSP (`/lgsp`, `/paygov`)."""
from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from mock_portal import checksums
from mock_portal.payment import render_pay_page, submit_pay_form
from mock_portal.state import Payment, portal
from mock_portal.settlement import public_url

lgsp = Blueprint("lgsp", __name__, url_prefix="/lgsp")
bp = Blueprint("paygov", __name__, url_prefix="/paygov")

CREATE_FIELDS = ("partnerCode", "returnUrl", "orderId", "amount", "orderInfo", "requestCode",
                 "ipAddress", "checksum", "accessKey", "serviceCode")
_AMOUNT = re.compile(r"^[1-9]\d{0,14}$")


@lgsp.post("/token")
def token() -> tuple[Response, int]:
    """OAuth2 client credentials: a bearer token that expires after TOKEN_TTL seconds."""
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return jsonify({"error": "unsupported_grant_type"}), 400
    state = portal()
    expected = state.world.lgsp_clients.get(form.get("client_id", ""))
    given = form.get("client_secret", "")
    if expected is None or not hmac.compare_digest(expected.encode(), given.encode()):
        return jsonify({"error": "invalid_client"}), 401
    ttl = int(float(state.config["TOKEN_TTL"]))
    return jsonify({"access_token": state.issue_token(form["client_id"]), "token_type": "Bearer",
                    "expires_in": ttl, "scope": "paygov"}), 200


def _fail(code: str, message: str, status: int = 200) -> tuple[Response, int]:
    return jsonify({"error_code": code, "error_message": message}), status


@bp.post("/create")
def create() -> tuple[Response, int]:
    """Create a PayGov order: bearer + lgspaccesstoken headers, checksum, configured service."""
    state = portal()
    auth = request.headers.get("Authorization", "")
    bearer = auth[7:].strip() if auth.startswith("Bearer ") else ""
    lgsp_token = request.headers.get("lgspaccesstoken")
    if not (state.token_valid(bearer) and state.token_valid(lgsp_token)):
        return _fail("UNAUTHORIZED", "Token không hợp lệ hoặc đã hết hạn", 401)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _fail("INVALID_REQUEST", "Body phải là một đối tượng JSON")
    bad = [f for f in CREATE_FIELDS if not isinstance(body.get(f), str) or not body[f]]
    if bad:
        return _fail("INVALID_REQUEST", f"Thiếu hoặc sai kiểu (phải là chuỗi): {', '.join(bad)}")
    partner = state.world.paygov_partners.get(body["partnerCode"])
    if partner is None or not hmac.compare_digest(partner.access_key.encode(),
                                                  body["accessKey"].encode()):
        return _fail("PARTNER_NOT_FOUND", "partnerCode hoặc accessKey không hợp lệ")
    expected = checksums.paygov_create_checksum(body, partner.secret_key)
    if not checksums.matches(expected, body["checksum"]):
        return _fail("SIGNATURE_WRONG", "Sai checksum")
    if not _AMOUNT.match(body["amount"]):
        return _fail("INVALID_REQUEST", "amount phải là số nguyên dương")
    if not body["orderInfo"].isascii():
        return _fail("INVALID_REQUEST", "orderInfo phải bỏ dấu")
    # The service code names the procedure whose payment is set up [ours].
    if not state.world.payment_configured("paygov", body["partnerCode"], body["serviceCode"]):
        return _fail("SERVICE_NOT_CONFIGURED",
                     f"Dịch vụ {body['serviceCode']} chưa được cấu hình thanh toán")
    with state.lock:
        known = state.payment_by_reference("paygov", body["partnerCode"], body["orderId"])
        if known is not None:
            # The same create re-sent after a timeout gets the same answer [ours].
            if known.request == body and known.state == "pending":
                url = public_url(state, "paygov.pay_page", token=known.token)
                return jsonify({"error_code": "SUCCESSFUL", "error_message": "",
                                "data": {"url": url}}), 200
            return _fail("DUPLICATE_ORDER", "orderId đã tồn tại")
        payment = Payment(token=secrets.token_urlsafe(16), channel="paygov",
                          partner=body["partnerCode"], reference=body["orderId"],
                          amount=body["amount"], procedure_code=body["serviceCode"],
                          transaction_no=state.next_transaction_no("PG"), request=dict(body))
        state.add_payment(payment)
    url = public_url(state, "paygov.pay_page", token=payment.token)
    return jsonify({"error_code": "SUCCESSFUL", "error_message": "", "data": {"url": url}}), 200


def _payment(token: str) -> Payment:
    state = portal()
    with state.lock:
        p = state.payments.get(token)
    if p is None or p.channel != "paygov":
        abort(404)
    return p


@bp.get("/pay/<token>")
def pay_page(token: str) -> str:
    """Where `data.url` points: the citizen pays or fails; then a link back to `returnUrl`."""
    p = _payment(token)
    back = None
    if p.state != "pending":
        query = urlencode({"orderId": p.reference, "transactionNo": p.transaction_no,
                           "errorCode": "00" if p.state == "paid" else "99"})
        ret = p.request.get("returnUrl", "")
        back = f"{ret}{'&' if '?' in ret else '?'}{query}" if ret else None
    return render_pay_page(p, back)


@bp.post("/pay/<token>")
def pay_submit(token: str) -> Response:
    """The citizen clicked pay or fail."""
    return submit_pay_form(_payment(token), "paygov.pay_page")
