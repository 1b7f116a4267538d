"""Payment callbacks: the DVCQG Payment Platform's CONFIRM and PayGov's IPN (contract 3 and 4).

A callback is believed only when its checksum verifies with our secret (connectors'
verifiers, constant-time). A verified one is kept once per channel + reference (the same
callback delivered twice changes nothing), audited, and, when it reports a paid payment of a
registered procedure, stored as `payment_ready` evidence for that procedure: a citizen paid
online, which is better proof than any probe. A forged or malformed one is refused, kept in
`callback_rejections` and audited; its content is never trusted.

Answers follow the contract and always travel with HTTP 200 (as payment platforms expect;
the code is in the body): CONFIRM `{"MaLoi": "00" | "99", "MoTaLoi", "MaThamChieu"}`,
IPN `{"error_code": "SUCCESSFUL" | "FAILED" | "SIGNATURE_WRONG", "error_message"}`.

Which procedure a payment is for **[ours]**: neither message names it, so the first
registered procedure code found in the reference (`MaThamChieu` / `orderId`, e.g. our probe
references `PROBE-<code>-...`), then in the transaction text (`ThongTinGiaoDich` /
`orderInfo`); none found: the payment is kept without a procedure.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from connectors.checksums import verify_confirm, verify_paygov_ipn

from ..store import Store, now_iso

log = logging.getLogger("tthc.probing.callbacks")

DVCQG, PAYGOV = "dvcqg_payment", "paygov"
SOURCE = "callback"
_CODE = re.compile(r"(?<![0-9A-Za-z])\d\.\d{6}(?:\.[0-9A-Z]+)?(?![0-9])")
CONFIRM_REQUIRED = ("LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "SoTien", "MaXacThuc")
IPN_REQUIRED = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "checksum")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def procedure_of(store: Store, *texts: Any) -> str | None:
    """The first registered procedure code named in `texts` (longest form first), or None."""
    candidates: list[str] = []
    for text in texts:
        for match in _CODE.finditer(_text(text)):
            code = match.group(0)
            # "1.000771.H26" may be registered as such or as "1.000771": try both, longest first.
            for candidate in (code, code[:8]):
                if candidate not in candidates:
                    candidates.append(candidate)
    if not candidates:
        return None
    known = {p["code"] for p in store.procedures_by_code(candidates)}
    return next((c for c in candidates if c in known), None)


def _missing(body: Mapping[str, Any], required: tuple[str, ...]) -> list[str]:
    return [k for k in required if not isinstance(body.get(k), str) or not body[k]]


def _reject(store: Store, channel: str, reason: str, payload: Any, reference: str) -> None:
    log.warning("refused %s callback %r: %s", channel, reference, reason)
    store.reject_callback(channel=channel, reason=reason, payload=payload, reference=reference,
                          actor=channel, source=SOURCE)


def _keep(store: Store, channel: str, body: Mapping[str, Any], *, reference: str, amount: str,
          transaction_no: str, paid: bool, texts: tuple[Any, ...]) -> bool:
    code = procedure_of(store, reference, *texts)
    status = "paid" if paid else "failed"
    attempt = None
    if paid and code is not None:
        attempt = {"run_id": None, "code": code, "dimension": "payment", "verdict": "payment_ready",
                   "checked_at": now_iso(), "duration_ms": 0,
                   "details": {"source": SOURCE, "channel": channel, "reference": reference,
                               "reason": f"{channel} confirmed a paid online payment"},
                   "evidence": [dict(body)]}
    return store.confirm_payment(channel=channel, reference=reference, code=code, amount=amount,
                                 transaction_no=transaction_no, status=status, payload=body,
                                 actor=channel, source=SOURCE, attempt=attempt)


def handle_dvcqg_confirm(store: Store, cfg: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """Verify and keep a CONFIRM; returns the contract's answer."""
    reference = _text(body.get("MaThamChieu")) if isinstance(body, Mapping) else ""

    def refuse(reason: str, message: str) -> dict[str, Any]:
        _reject(store, DVCQG, reason, body, reference)
        return {"MaLoi": "99", "MoTaLoi": message, "MaThamChieu": reference}

    if not isinstance(body, Mapping):
        return refuse("malformed: the body is not a JSON object", "Bản tin không hợp lệ")
    missing = _missing(body, CONFIRM_REQUIRED)
    if missing or body.get("LoaiBanTin") != "CONFIRM":
        return refuse(f"malformed: missing or invalid {', '.join(missing) or 'LoaiBanTin'}",
                      "Bản tin không hợp lệ")
    if body["MaDoiTac"] != cfg["PAYMENT_PARTNER"]:
        return refuse(f"unknown partner {body['MaDoiTac']!r}", "Sai mã đối tác (MaDoiTac)")
    if not verify_confirm(body, cfg["PAYMENT_SECRET"]):
        return refuse("checksum: MaXacThuc does not verify", "Sai mã xác thực (MaXacThuc)")
    new = _keep(store, DVCQG, body, reference=reference, amount=body["SoTien"],
                transaction_no=_text(body.get("MaGiaoDich")), paid=body["MaLoi"] == "00",
                texts=(body.get("ThongTinGiaoDich"),))
    return {"MaLoi": "00", "MoTaLoi": "Thành công" if new else "Thành công (đã nhận trước đó)",
            "MaThamChieu": reference}


def handle_paygov_ipn(store: Store, cfg: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """Verify and keep a PayGov IPN; returns the contract's answer."""
    reference = _text(body.get("orderId")) if isinstance(body, Mapping) else ""
    if not isinstance(body, Mapping) or _missing(body, IPN_REQUIRED):
        missing = ", ".join(_missing(body, IPN_REQUIRED)) if isinstance(body, Mapping) else "a JSON object"
        _reject(store, PAYGOV, f"malformed: missing or invalid {missing}", body, reference)
        return {"error_code": "FAILED", "error_message": "Invalid IPN: missing or invalid fields"}
    if not verify_paygov_ipn(body, cfg["PAYGOV_SECRET_KEY"]):
        _reject(store, PAYGOV, "checksum: checksum does not verify", body, reference)
        return {"error_code": "SIGNATURE_WRONG", "error_message": "Checksum does not verify"}
    new = _keep(store, PAYGOV, body, reference=reference, amount=body["amount"],
                transaction_no=body["transactionNo"], paid=body["errorCode"] == "00",
                texts=(body.get("orderInfo"),))
    return {"error_code": "SUCCESSFUL", "error_message": "" if new else "Already received"}
