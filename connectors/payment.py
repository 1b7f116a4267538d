"""Client of the DVCQG Payment Platform, message version 1.0.6 (contract section 3)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.codes import code_text, is_success
from connectors import checksums
from connectors.config import PortalConfig
from connectors.evidence import Outcome, Status, portal_timestamp
from connectors.transport import Exchange, Transport

VERSION = "1.0.6"
NOT_CONFIGURED = "02"


def new_reference(code: str) -> str:
    """A unique probe reference `PROBE-<code>-<yyyyMMddHHmmss>-<random>` (MaThamChieu/orderId)."""
    return f"PROBE-{code}-{portal_timestamp()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class InitAnswer:
    """An accepted, verified INIT: the reference it is for and where the citizen would pay."""

    reference: str
    payment_url: str
    answer: dict[str, Any]


def _unavailable(exchange: Exchange) -> Outcome[Any]:
    last = exchange.last
    return Outcome(
        Status.UNAVAILABLE, message=last.message or last.outcome, calls=tuple(exchange.calls)
    )


class PaymentClient:
    """INIT and QUERY, signed with our secret; INIT answers verified before being believed."""

    def __init__(
        self, client: httpx.AsyncClient, config: PortalConfig, transport: Transport | None = None
    ) -> None:
        self.config = config
        self.transport = transport or Transport(client, config)

    def build_init(
        self, *, reference: str, amount: int | str, code: str, name: str, description: str
    ) -> dict[str, Any]:
        """A signed INIT message for `code`; no dossier exists behind a probe reference."""
        cfg = self.config
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": VERSION,
            "MaDoiTac": cfg.payment_partner_code,
            "MaThamChieu": reference,
            "SoTien": str(amount),
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "1",
            "MaThietBi": "1",
            "NgonNgu": "vi-VN",
            "MaTienTe": "VND",
            "MaNganHang": "PAYMENT",
            "ThongTinGiaoDich": description,
            "ThoiGianGD": portal_timestamp(),
            "Ip": cfg.client_ip,
        }
        message["MaXacThuc"] = checksums.init_checksum(message, cfg.payment_secret)
        message["ThongTinBienLai"] = {
            "MaDichVu": "2",
            "MaDVC": code,
            "TenDVC": name,
            "MaTTHC": code,
            "TenTTHC": name,
            "MaDonVi": cfg.unit_code,
            "TenDonVi": cfg.unit_name,
            "MaHoSo": reference,
            "NoiDungThanhToan": description,
            "HoTenNguoiNop": "TTHC PROBE",
        }
        return message

    def build_query(self, reference: str, kind: str = "QUERY") -> dict[str, Any]:
        """A signed QUERY (or GET_BILL) message for a reference."""
        cfg = self.config
        message: dict[str, Any] = {
            "LoaiBanTin": kind,
            "PhienBan": VERSION,
            "MaDoiTac": cfg.payment_partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": portal_timestamp(),
        }
        message["MaXacThuc"] = checksums.query_checksum(message, cfg.payment_secret)
        return message

    async def init(
        self,
        *,
        code: str,
        name: str | None = None,
        amount: int | str | None = None,
        reference: str | None = None,
        description: str | None = None,
    ) -> Outcome[InitAnswer]:
        """Send INIT; OK only for MaLoi "00" with a verified checksum and a payment URL."""
        amount = self.config.probe_amount if amount is None else amount
        description = description or f"Kiem tra ket noi thanh toan TTHC {code} (khong thu tien)"
        sent: dict[str, Any] = {}

        def body(attempt: int) -> dict[str, Any]:
            # A fresh reference per attempt: a retried INIT must not collide with one the
            # platform accepted but whose answer we lost to a timeout.
            ref = reference or new_reference(code)
            sent.update(
                self.build_init(
                    reference=ref,
                    amount=amount,
                    code=code,
                    name=name or code,
                    description=description,
                )
            )
            return dict(sent)

        exchange = await self.transport.send(
            "payment", "INIT", "POST", self.config.url("payment", "/init"), body=body
        )
        if not exchange.accepted:
            return _unavailable(exchange)
        calls, record, answer = tuple(exchange.calls), exchange.last, exchange.payload
        if not isinstance(answer, dict) or "MaLoi" not in answer:
            return Outcome(
                Status.UNEXPECTED,
                message=f"HTTP {record.status}: INIT answer without MaLoi",
                calls=calls,
            )
        code_ = code_text(answer["MaLoi"])
        record.error_code, record.message = code_, answer.get("MoTaLoi")
        ref = sent["MaThamChieu"]
        secret = self.config.payment_secret
        if not is_success(answer["MaLoi"]):
            # A refusal need not be signed; if it is, it must verify.
            signed = {**answer, "MaThamChieu": answer.get("MaThamChieu", ref)}
            if "MaXacThuc" in answer and not checksums.verify_init_answer(signed, secret):
                return Outcome(
                    Status.INVALID_SIGNATURE,
                    error_code=code_,
                    calls=calls,
                    message="INIT refusal carries a checksum that does not verify",
                )
            return Outcome(
                Status.REFUSED, error_code=code_, message=answer.get("MoTaLoi"), calls=calls
            )
        # Verified against OUR reference: an answer for another reference is not an answer.
        if (
            not checksums.verify_init_answer({**answer, "MaThamChieu": ref}, secret)
            or answer.get("MaThamChieu", ref) != ref
        ):
            return Outcome(
                Status.INVALID_SIGNATURE,
                error_code=code_,
                calls=calls,
                message="INIT answer checksum does not verify",
            )
        url = answer.get("UrlThanhToan")
        if not isinstance(url, str) or not url:
            return Outcome(
                Status.UNEXPECTED,
                error_code=code_,
                message="INIT answer without UrlThanhToan",
                calls=calls,
            )
        return Outcome(Status.OK, value=InitAnswer(ref, url, answer), calls=calls)

    async def query(self, reference: str, kind: str = "QUERY") -> Outcome[dict[str, Any]]:
        """Send QUERY (or GET_BILL) for a reference; value is the answer (MaLoi "00")."""
        exchange = await self.transport.send(
            "payment",
            kind,
            "POST",
            self.config.url("payment", "/query"),
            body=lambda attempt: self.build_query(reference, kind),
        )
        if not exchange.accepted:
            return _unavailable(exchange)
        calls, record, answer = tuple(exchange.calls), exchange.last, exchange.payload
        if not isinstance(answer, Mapping) or "MaLoi" not in answer:
            return Outcome(
                Status.UNEXPECTED,
                message=f"HTTP {record.status}: {kind} answer without MaLoi",
                calls=calls,
            )
        code_ = code_text(answer["MaLoi"])
        record.error_code, record.message = code_, answer.get("MoTaLoi")
        if not is_success(answer["MaLoi"]):
            return Outcome(
                Status.REFUSED, error_code=code_, message=answer.get("MoTaLoi"), calls=calls
            )
        return Outcome(Status.OK, value=dict(answer), calls=calls)
