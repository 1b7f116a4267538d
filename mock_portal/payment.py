"""Contract section 3: the DVCQG Payment Platform 1.0.6 (`/payment`): INIT, QUERY, GET_BILL and
the page where a simulated citizen pays."""
from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from mock_portal import checksums
from mock_portal.state import TRANG_THAI_GD, Payment, PortalState, portal
from mock_portal.settlement import OUTCOMES, public_url, settle

bp = Blueprint("payment", __name__, url_prefix="/payment")

VERSION = "1.0.6"
_STAMP = validate.Regexp(r"^\d{14}$", error="expected yyyyMMddHHmmss")


class ReceiptSchema(Schema):
    """`ThongTinBienLai`: the procedure is how the platform finds the payment set-up."""

    class Meta:
        unknown = INCLUDE

    MaTTHC = fields.String(required=True, validate=validate.Length(min=1))


def _required(*checks: Any) -> fields.String:
    return fields.String(required=True, validate=list(checks) or None)


class InitSchema(Schema):
    """An INIT request; every value a string."""

    class Meta:
        unknown = INCLUDE

    LoaiBanTin = _required(validate.Equal("INIT"))
    PhienBan = _required(validate.Equal(VERSION))
    MaDoiTac = _required()
    MaThamChieu = _required(validate.Length(min=1, max=100))
    SoTien = _required(validate.Regexp(r"^[1-9]\d{0,14}$", error="positive integer string"))
    LoaiHinhThanhToan = _required(validate.Equal("PAY"))
    MaKenhThanhToan = _required()
    MaThietBi = _required()
    NgonNgu = _required()
    MaTienTe = _required(validate.Equal("VND"))
    MaNganHang = _required()
    ThongTinGiaoDich = _required()
    ThoiGianGD = _required(_STAMP)
    Ip = _required()
    MaXacThuc = _required()
    ThongTinBienLai = fields.Nested(ReceiptSchema, required=True)


class QuerySchema(Schema):
    """A QUERY or GET_BILL request."""

    class Meta:
        unknown = INCLUDE

    LoaiBanTin = _required()
    PhienBan = _required(validate.Equal(VERSION))
    MaDoiTac = _required()
    MaThamChieu = _required()
    ThoiGianGD = _required(_STAMP)
    MaXacThuc = _required()


def _init_answer(code: str, message: str, reference: Any, url: str, secret: str | None
                 ) -> Response:
    body: dict[str, Any] = {"MaLoi": code, "MoTaLoi": message, "UrlThanhToan": url,
                            "MaThamChieu": reference if isinstance(reference, str) else ""}
    if secret is not None:
        body["MaXacThuc"] = checksums.init_answer_checksum(body, secret)
    return jsonify(body)


@bp.post("/init")
def init() -> Response:
    """INIT: verify `MaXacThuc`, check the procedure's payment set-up, answer `UrlThanhToan`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"MaLoi": "99", "MoTaLoi": "Bản tin không hợp lệ"})
    state = portal()
    ref = body.get("MaThamChieu")
    partner = state.world.dvcqg_partners.get(body["MaDoiTac"]) \
        if isinstance(body.get("MaDoiTac"), str) else None
    if partner is None:
        return jsonify({"MaLoi": "99", "MoTaLoi": "Đối tác không tồn tại", "MaThamChieu": ref})
    secret = partner.secret
    if not checksums.matches(checksums.init_checksum(body, secret), body.get("MaXacThuc")):
        return _init_answer("01", "Sai mã xác thực (MaXacThuc)", ref, "", secret)
    try:
        msg = InitSchema().load(body)
    except ValidationError as exc:
        return _init_answer("99", f"Bản tin không hợp lệ: {exc.messages}", ref, "", secret)
    code = msg["ThongTinBienLai"]["MaTTHC"]
    if not state.world.payment_configured("dvcqg_payment", msg["MaDoiTac"], code):
        return _init_answer("02", f"Thủ tục {code} chưa được cấu hình thanh toán cho đối tác",
                            ref, "", secret)
    with state.lock:
        known = state.payment_by_reference("dvcqg_payment", msg["MaDoiTac"], msg["MaThamChieu"])
        if known is not None:
            # A client retrying after a timeout re-sends the same INIT: answer it again [ours].
            if known.request == body and known.state == "pending":
                url = public_url(state, "payment.pay_page", token=known.token)
                return _init_answer("00", "Thành công", known.reference, url, secret)
            return _init_answer("99", "MaThamChieu đã tồn tại", ref, "", secret)
        payment = Payment(token=secrets.token_urlsafe(16), channel="dvcqg_payment",
                          partner=msg["MaDoiTac"], reference=msg["MaThamChieu"],
                          amount=msg["SoTien"], procedure_code=code,
                          transaction_no=state.next_transaction_no("GD"), request=dict(body))
        state.add_payment(payment)
    url = public_url(state, "payment.pay_page", token=payment.token)
    return _init_answer("00", "Thành công", payment.reference, url, secret)


def _checked_query(kind: str) -> tuple[dict[str, Any] | None, Response | None, PortalState]:
    """Validate and verify a QUERY/GET_BILL; returns the message or the refusal."""
    state = portal()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, jsonify({"MaLoi": "99", "MoTaLoi": "Bản tin không hợp lệ"}), state
    ref = body.get("MaThamChieu")
    partner = state.world.dvcqg_partners.get(body.get("MaDoiTac")) \
        if isinstance(body.get("MaDoiTac"), str) else None
    if partner is None:
        return None, jsonify({"MaLoi": "99", "MoTaLoi": "Đối tác không tồn tại",
                              "MaThamChieu": ref}), state
    if not checksums.matches(checksums.query_checksum(body, partner.secret), body.get("MaXacThuc")):
        return None, jsonify({"MaLoi": "01", "MoTaLoi": "Sai mã xác thực (MaXacThuc)",
                              "MaThamChieu": ref}), state
    try:
        msg = QuerySchema().load(body)
    except ValidationError as exc:
        return None, jsonify({"MaLoi": "99", "MoTaLoi": f"Bản tin không hợp lệ: {exc.messages}",
                              "MaThamChieu": ref}), state
    if msg["LoaiBanTin"] != kind:
        return None, jsonify({"MaLoi": "99", "MoTaLoi": f"LoaiBanTin phải là {kind}",
                              "MaThamChieu": ref}), state
    return msg, None, state


@bp.post("/query")
def query() -> Response:
    """QUERY: the state of a payment (TrangThaiGD 1 paid, 3 pending or not yet known, 4 failed)."""
    msg, refusal, state = _checked_query("QUERY")
    if refusal is not None:
        return refusal
    assert msg is not None
    with state.lock:
        p = state.payment_by_reference("dvcqg_payment", msg["MaDoiTac"], msg["MaThamChieu"])
        return jsonify({"MaLoi": "00", "MoTaLoi": "Thành công", "MaThamChieu": msg["MaThamChieu"],
                        "SoTien": p.amount if p else "",
                        "MaGiaoDich": p.transaction_no if p else "",
                        "TrangThaiGD": TRANG_THAI_GD[p.state] if p else "3"})


@bp.post("/receipt")
def receipt() -> Response:
    """GET_BILL: the receipt of a paid payment; "99" while it is not paid."""
    msg, refusal, state = _checked_query("GET_BILL")
    if refusal is not None:
        return refusal
    assert msg is not None
    with state.lock:
        p = state.payment_by_reference("dvcqg_payment", msg["MaDoiTac"], msg["MaThamChieu"])
        if p is None or p.state != "paid":
            return jsonify({"MaLoi": "99", "MoTaLoi": "Giao dịch chưa được thanh toán",
                            "MaThamChieu": msg["MaThamChieu"]})
        bill = dict(p.request.get("ThongTinBienLai") or {})
        bill.update({"SoBienLai": p.transaction_no, "NgayBienLai": p.settled_stamp})
        return jsonify({"MaLoi": "00", "MoTaLoi": "Thành công", "MaThamChieu": p.reference,
                        "MaGiaoDich": p.transaction_no, "SoTien": p.amount,
                        "TrangThaiGD": TRANG_THAI_GD[p.state], "ThongTinBienLai": bill})


def _payment_for(token: str, channel: str) -> Payment:
    state = portal()
    with state.lock:
        p = state.payments.get(token)
    if p is None or p.channel != channel:
        abort(404)
    return p


def render_pay_page(payment: Payment, return_url: str | None = None) -> str:
    """The simulated citizen's page: pay or fail."""
    return render_template("pay.html", payment=payment, return_url=return_url)


def submit_pay_form(payment: Payment, endpoint: str) -> Response:
    """Settle from the page's form (`action` pay|fail), then show the result (POST-redirect-GET)."""
    action = request.form.get("action")
    if action not in OUTCOMES:
        abort(400)
    if not settle(portal(), payment, action):
        return Response(render_pay_page(payment), status=409,
                        content_type="text/html; charset=utf-8")
    return redirect(public_url(portal(), endpoint, token=payment.token), code=303)


@bp.get("/pay/<token>")
def pay_page(token: str) -> str:
    """Where `UrlThanhToan` points."""
    return render_pay_page(_payment_for(token, "dvcqg_payment"))


@bp.post("/pay/<token>")
def pay_submit(token: str) -> Response:
    """The citizen clicked pay or fail."""
    return submit_pay_form(_payment_for(token, "dvcqg_payment"), "payment.pay_page")
