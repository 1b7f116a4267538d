"""Client of PayGov through the provincial LGSP (contract section 4): token and create."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from typing import Any

import httpx

from connectors import checksums
from connectors.config import PortalConfig
from connectors.evidence import CallRecord, Outcome, Status
from connectors.payment import new_reference
from connectors.transport import Transport

DEFAULT_TOKEN_LIFETIME = 300.0


def strip_accents(text: str) -> str:
    """Vietnamese text without diacritics (đ/Đ → d/D), as PayGov wants `orderInfo`."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


class PayGovClient:
    """LGSP token cached until shortly before expiry and renewed once on HTTP 401; `create`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: PortalConfig,
        transport: Transport | None = None,
        *,
        clock=time.monotonic,
    ) -> None:
        self.config = config
        self.transport = transport or Transport(client, config)
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        #: Tokens obtained so far.
        self.tokens_issued = 0
        self._sent: set[str] = set()  # tokens already used once (churn vs refusal)
        self._served = 0  # create calls answered with something else than 401 (progress)

    async def fetch_token(self) -> Outcome[str]:
        """Ask the LGSP for a new token (client credentials) and cache it."""
        cfg = self.config
        form = {
            "grant_type": "client_credentials",
            "client_id": cfg.lgsp_client_id,
            "client_secret": cfg.lgsp_client_secret,
        }
        exchange = await self.transport.send(
            "lgsp", "token", "POST", cfg.url("lgsp", "/token"), form=form
        )
        calls = tuple(exchange.calls)
        if not exchange.accepted:
            last = exchange.last
            return Outcome(Status.UNAVAILABLE, message=last.message or last.outcome, calls=calls)
        record, payload = exchange.last, exchange.payload or {}
        if record.status is not None and record.status >= 400:
            record.error_code = str(payload.get("error", record.status))
            record.message = payload.get("error_description")
            return Outcome(
                Status.AUTH_FAILED,
                error_code=record.error_code,
                message=record.message or "LGSP refused our client credentials",
                calls=calls,
            )
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            return Outcome(
                Status.UNEXPECTED, message="token answer without access_token", calls=calls
            )
        try:
            lifetime = float(payload.get("expires_in", DEFAULT_TOKEN_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        margin = min(cfg.token_refresh_margin, lifetime / 2)
        self._token, self._expires_at = token, self._clock() + lifetime - margin
        self.tokens_issued += 1
        return Outcome(Status.OK, value=token, calls=calls)

    async def token(self, stale: str | None = None) -> Outcome[str]:
        """A valid token: the cached one unless expired or `stale`; one fetch for many callers."""
        async with self._lock:
            if (
                self._token is not None
                and self._token != stale
                and self._clock() < self._expires_at
            ):
                return Outcome(Status.OK, value=self._token)
            self._token = None
            return await self.fetch_token()

    def build_create(
        self,
        *,
        order_id: str,
        request_code: str,
        amount: int | str,
        order_info: str,
        service_code: str,
    ) -> dict[str, str]:
        """A signed create body (every value a string)."""
        cfg = self.config
        body = {
            "partnerCode": cfg.paygov_partner_code,
            "returnUrl": cfg.paygov_return_url,
            "orderId": order_id,
            "amount": str(amount),
            "orderInfo": strip_accents(order_info),
            "requestCode": request_code,
            "ipAddress": cfg.client_ip,
            "accessKey": cfg.paygov_access_key,
            "serviceCode": service_code,
        }
        body["checksum"] = checksums.paygov_create_checksum(body, cfg.paygov_secret_key)
        return body

    async def create(
        self,
        *,
        code: str,
        amount: int | str | None = None,
        order_info: str | None = None,
        order_id: str | None = None,
    ) -> Outcome[str]:
        """Create a payment for procedure `code`; value is the redirect URL (`data.url`)."""
        amount = self.config.probe_amount if amount is None else amount
        info = order_info or f"Kiem tra ket noi thanh toan TTHC {code} (khong thu tien)"
        calls: list[CallRecord] = []
        stale: str | None = None
        dead = churn = 0
        while True:
            token = await self.token(stale)
            calls.extend(token.calls)
            if not token.ok:
                return Outcome(
                    token.status,
                    error_code=token.error_code,
                    message=token.message,
                    calls=tuple(calls),
                )

            def body(n: int) -> dict[str, str]:
                # A fresh order id per attempt, so a retry never collides with a lost success.
                ref = order_id or new_reference(code)
                return self.build_create(
                    order_id=ref,
                    request_code=ref,
                    amount=amount,
                    order_info=info,
                    service_code=code,
                )

            # A 401 to the very first call of a fresh token, while nothing else was served,
            # counts against the retry budget; other 401s are churn (tokens expiring while
            # many tasks share them).
            value = token.value or ""
            first = value not in self._sent
            self._sent.add(value)
            mark = self._served
            bearer = self.config.paygov_bearer or value
            headers = {"Authorization": f"Bearer {bearer}", "lgspaccesstoken": value}
            exchange = await self.transport.send(
                "paygov",
                "create",
                "POST",
                self.config.url("paygov", "/create"),
                body=body,
                headers=headers,
            )
            calls.extend(exchange.calls)
            if not exchange.accepted:
                last = exchange.last
                return Outcome(
                    Status.UNAVAILABLE, message=last.message or last.outcome, calls=tuple(calls)
                )
            record, payload = exchange.last, exchange.payload
            if record.status == 401:
                refused = first and self._served == mark  # and nothing else was served since
                dead, churn = (dead + 1, churn) if refused else (dead, churn + 1)
                if dead < self.config.attempts and churn < 8 * self.config.attempts:
                    stale = token.value  # the token expired under us: renew and retry
                    continue
                return Outcome(
                    Status.AUTH_FAILED,
                    error_code="401",
                    calls=tuple(calls),
                    message="PayGov refused a freshly issued token",
                )
            self._served += 1
            return self._read_create(record, payload, tuple(calls))

    @staticmethod
    def _read_create(
        record: CallRecord, payload: Any, calls: tuple[CallRecord, ...]
    ) -> Outcome[str]:
        if not isinstance(payload, dict) or "error_code" not in payload:
            return Outcome(
                Status.UNEXPECTED,
                message=f"HTTP {record.status}: create answer without error_code",
                calls=calls,
            )
        code = str(payload["error_code"])
        record.error_code = code
        if code != "SUCCESSFUL":
            record.message = payload.get("error_message") or payload.get("message")
            return Outcome(Status.REFUSED, error_code=code, message=record.message, calls=calls)
        data = payload.get("data")
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            return Outcome(
                Status.UNEXPECTED,
                error_code=code,
                message="create answer without data.url",
                calls=calls,
            )
        return Outcome(Status.OK, value=url, calls=calls)
