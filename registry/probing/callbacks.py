"""Payment callbacks: the DVCQG Payment Platform's CONFIRM and PayGov's IPN (contract 3 and 4, v2).

A callback is believed only when its checksum verifies with our secret (connectors'
verifiers, constant-time; the PayGov IPN with the v2 `|`-joined checksum). A verified one is a
payment identified by its platform transaction (`MaGiaoDich` / `transactionNo`) *and* its
reference: kept once, audited, and, when it reports a paid payment of a registered procedure,
stored as `payment_ready` evidence for that procedure (a citizen paid online, better proof than
any probe). The same callback delivered again changes nothing; the same transaction under
another reference, or another outcome for a reference already settled, is refused.

Which procedure a payment is for **[ours]**: neither message names it, so only *signed*
fields decide: the first registered procedure code found in the reference (`MaThamChieu` /
`orderId`; our own probe orders are `PROBE-<code>-...`), else in the signed transaction text
(`ThongTinGiaoDich` / `orderInfo`, signed in contract v2) when it names exactly one registered
procedure. A callback whose procedure cannot be decided that way is refused, not counted.

Refused callbacks are kept as bounded records (`docs/probing.md`): the first 4 KiB of the
body, its SHA-256, its size, the source address and the reason; an identical refusal again
only raises a counter. A body over 64 KiB is refused (413) before it is parsed; a body that
is not a JSON object of text (invalid UTF-8 or JSON, lone surrogates, nesting too deep,
5,000-digit numbers, missing fields) is refused with 400. Everything else answers HTTP 200 with
the outcome in the body, as payment platforms expect: CONFIRM `{"MaLoi": "00" | "99", "MoTaLoi",
"MaThamChieu"}`, IPN `{"error_code": "SUCCESSFUL" | "FAILED" | "SIGNATURE_WRONG", "error_message"}`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any, Callable, Mapping

from connectors.checksums import CONFIRM_FIELDS, PAYGOV_IPN_FIELDS, verify_confirm, verify_paygov_ipn

from ..store import Store, now_iso

log = logging.getLogger("tthc.probing.callbacks")

DVCQG, PAYGOV = "dvcqg_payment", "paygov"
SOURCE = "callback"
MAX_CALLBACK_BYTES = 64 * 1024
HEAD_BYTES = 4096
_CODE = re.compile(r"(?<![0-9A-Za-z])\d\.\d{6}(?:\.[0-9A-Z]+)?(?![0-9])")
CONFIRM_REQUIRED = ("LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "SoTien", "MaGiaoDich", "MaXacThuc")
IPN_REQUIRED = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "checksum")
# Fields that may decide the procedure: the reference first, then the transaction text; each must
# be covered by the channel's checksum (asserted below, so a contract change cannot silently
# let an unsigned field choose).
PROCEDURE_FIELDS = {DVCQG: ("MaThamChieu", "ThongTinGiaoDich"), PAYGOV: ("orderId", "orderInfo")}
assert set(PROCEDURE_FIELDS[DVCQG]) <= set(CONFIRM_FIELDS)
assert set(PROCEDURE_FIELDS[PAYGOV]) <= set(PAYGOV_IPN_FIELDS)


class Refusal(Exception):
    """A callback we do not count: `status` is the HTTP status, `reason` what the record keeps."""

    def __init__(self, reason: str, status: int = 200, message: str = "") -> None:
        super().__init__(reason)
        self.reason, self.status, self.message = reason, status, message or reason


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _codes_in(text: str) -> list[str]:
    out: list[str] = []
    for match in _CODE.finditer(text):
        code = match.group(0)
        # "1.000771.H26" may be registered as such or as "1.000771": try both, longest first.
        for candidate in (code, code[:8]):
            if candidate not in out:
                out.append(candidate)
    return out


def procedure_of(store: Store, *texts: Any) -> str | None:
    """The registered procedure the signed `texts` (reference first) decide, or None.

    The first text naming a registered procedure decides, and it must name exactly one (an
    ambiguous text decides nothing); a later text is read only when the earlier ones name none.
    """
    for text in texts:
        candidates = _codes_in(_text(text))
        if not candidates:
            continue
        known = {p["code"] for p in store.procedures_by_code(candidates)}
        found = [c for c in candidates if c in known]
        if not found:
            continue
        # A longer code and its 8-character base are one procedure as far as naming goes.
        return found[0] if len({c[:8] for c in found}) == 1 else None
    return None


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_body(raw: bytes) -> dict[str, Any]:
    """The callback as a JSON object, or Refusal(400) naming what is wrong with the body."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("malformed: the body is not UTF-8", 400) from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise Refusal("malformed: JSON nested too deeply", 400) from None
    except ValueError as exc:  # invalid JSON, or an integer too long to convert (5,000+ digits)
        raise Refusal(f"malformed: not JSON ({str(exc)[:120]})", 400) from None
    if not isinstance(body, dict):
        raise Refusal("malformed: the body is not a JSON object", 400)
    if _has_lone_surrogate(body):
        raise Refusal("malformed: text with a lone surrogate (not valid Unicode)", 400)
    return body


def _missing(body: Mapping[str, Any], required: tuple[str, ...]) -> list[str]:
    return [k for k in required if not isinstance(body.get(k), str) or not body[k]]


def _evidence(channel: str, reference: str, transaction_no: str, amount: str, paid_at: str) -> dict[str, Any]:
    """What public evidence shows of a callback: never the raw body, the checksum or the text."""
    return {"channel": channel, "reference": reference, "transaction_no": transaction_no, "amount": amount,
            "paid_at": paid_at, "status": "paid"}


def _count(store: Store, channel: str, body: Mapping[str, Any], *, reference: str, amount: str,
           transaction_no: str, paid: bool, paid_at: str) -> bool:
    """Keep a verified callback; True when new, False when a redelivery. Refusal otherwise."""
    names = PROCEDURE_FIELDS[channel]
    code = procedure_of(store, *(body.get(n) for n in names))
    if code is None:
        raise Refusal(f"undecided: no signed field ({', '.join(names)}) names exactly one registered procedure",
                      message="No registered procedure for this payment")
    attempt = None
    if paid:
        attempt = {"run_id": None, "code": code, "dimension": "payment", "verdict": "payment_ready",
                   "checked_at": now_iso(), "duration_ms": 0,
                   "details": {"source": SOURCE, "channel": channel, "reference": reference,
                               "reason": f"{channel} confirmed a paid online payment"},
                   "evidence": [_evidence(channel, reference, transaction_no, amount, paid_at)]}
    outcome, why = store.confirm_payment(
        channel=channel, reference=reference, code=code, amount=amount, transaction_no=transaction_no,
        status="paid" if paid else "failed", payload=body, actor=channel, source=SOURCE, attempt=attempt)
    if outcome == "conflict":
        raise Refusal(f"replay: {why}", message="Transaction or reference already settled otherwise")
    return outcome == "new"


def _confirm(store: Store, cfg: Mapping[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    missing = _missing(body, CONFIRM_REQUIRED)
    if missing or body.get("LoaiBanTin") != "CONFIRM":
        raise Refusal(f"malformed: missing or invalid {', '.join(missing) or 'LoaiBanTin'}", 400,
                      "Bản tin không hợp lệ")
    if body["MaDoiTac"] != cfg["PAYMENT_PARTNER"]:
        raise Refusal(f"unknown partner {body['MaDoiTac']!r}", message="Sai mã đối tác (MaDoiTac)")
    if not verify_confirm(body, cfg["PAYMENT_SECRET"]):
        raise Refusal("checksum: MaXacThuc does not verify", message="Sai mã xác thực (MaXacThuc)")
    new = _count(store, DVCQG, body, reference=body["MaThamChieu"], amount=body["SoTien"],
                 transaction_no=body["MaGiaoDich"], paid=body["MaLoi"] == "00",
                 paid_at=_text(body.get("ThoiGianGD")))
    return {"MaLoi": "00", "MoTaLoi": "Thành công" if new else "Thành công (đã nhận trước đó)",
            "MaThamChieu": body["MaThamChieu"]}


def _ipn(store: Store, cfg: Mapping[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    missing = _missing(body, IPN_REQUIRED)
    if missing:
        raise Refusal(f"malformed: missing or invalid {', '.join(missing)}", 400,
                      "Invalid IPN: missing or invalid fields")
    if not verify_paygov_ipn(body, cfg["PAYGOV_SECRET_KEY"]):
        raise Refusal("checksum: checksum does not verify", message="Checksum does not verify")
    new = _count(store, PAYGOV, body, reference=body["orderId"], amount=body["amount"],
                 transaction_no=body["transactionNo"], paid=body["errorCode"] == "00",
                 paid_at=_text(body.get("payDate")))
    return {"error_code": "SUCCESSFUL", "error_message": "" if new else "Already received"}


def _refusal_reply(channel: str, refusal: Refusal, reference: str) -> dict[str, Any]:
    if channel == DVCQG:
        return {"MaLoi": "99", "MoTaLoi": refusal.message, "MaThamChieu": reference}
    code = "SIGNATURE_WRONG" if refusal.reason.startswith("checksum") else "FAILED"
    return {"error_code": code, "error_message": refusal.message}


def _handle(store: Store, cfg: Mapping[str, Any], channel: str, raw: bytes, address: str, size: int | None,
            verify: Callable[[Store, Mapping[str, Any], dict[str, Any]], dict[str, Any]]
            ) -> tuple[int, dict[str, Any]]:
    size = max(len(raw), size or 0)
    reference = ""
    try:
        if size > MAX_CALLBACK_BYTES:
            raise Refusal(f"too large: {size} bytes (limit {MAX_CALLBACK_BYTES}); not parsed", 413,
                          "Bản tin quá lớn" if channel == DVCQG else "Payload too large")
        body = parse_body(raw)
        reference = _text(body.get("MaThamChieu" if channel == DVCQG else "orderId"))
        return 200, verify(store, cfg, body)
    except Refusal as refusal:
        log.warning("refused %s callback from %s: %s", channel, address, refusal.reason)
        store.reject_callback(channel=channel, reason=refusal.reason, head=raw[:HEAD_BYTES].decode(
            "utf-8", "replace"), size=size, body_sha256=hashlib.sha256(raw).hexdigest(), reference=reference,
            address=address, actor=channel, source=SOURCE)
        return refusal.status, _refusal_reply(channel, refusal, reference)


def handle_dvcqg_confirm(store: Store, cfg: Mapping[str, Any], raw: bytes, *, address: str = "",
                         size: int | None = None) -> tuple[int, dict[str, Any]]:
    """Verify and keep a CONFIRM body (raw bytes, at most 64 KiB read); (HTTP status, contract answer)."""
    return _handle(store, cfg, DVCQG, raw, address, size, _confirm)


def handle_paygov_ipn(store: Store, cfg: Mapping[str, Any], raw: bytes, *, address: str = "",
                      size: int | None = None) -> tuple[int, dict[str, Any]]:
    """Verify and keep a PayGov IPN body (raw bytes, at most 64 KiB read); (HTTP status, contract answer)."""
    return _handle(store, cfg, PAYGOV, raw, address, size, _ipn)
