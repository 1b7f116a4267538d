"""Client of the DVCQG integration adapter (contract section 2): session, share, integration."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors.config import PortalConfig
from connectors.evidence import CallRecord, Outcome, Status
from connectors.transport import Exchange, Transport

SESSION_EXPIRED = "03"


def _read_answer(exchange: Exchange, what: str) -> Outcome[Any]:
    """Turn the last accepted adapter answer into an Outcome (error_code "00" is success)."""
    calls = tuple(exchange.calls)
    if not exchange.accepted:
        last = exchange.last
        return Outcome(Status.UNAVAILABLE, message=last.message or last.outcome, calls=calls)
    record, payload = exchange.last, exchange.payload
    if not isinstance(payload, dict) or "error_code" not in payload:
        return Outcome(
            Status.UNEXPECTED,
            calls=calls,
            message=f"HTTP {record.status}: {what} answer without error_code",
        )
    code = str(payload["error_code"])
    record.error_code = code
    if code != "00":
        record.message = payload.get("message")
        return Outcome(Status.REFUSED, error_code=code, message=payload.get("message"), calls=calls)
    return Outcome(Status.OK, value=payload, calls=calls)


class AdapterClient:
    """The service-multiplexed adapter; logs in lazily and again once on error "03"."""

    def __init__(
        self, client: httpx.AsyncClient, config: PortalConfig, transport: Transport | None = None
    ) -> None:
        self.config = config
        self.transport = transport or Transport(client, config)
        self._session: str | None = None
        self._lock = asyncio.Lock()
        #: Successful logins so far (one per session; useful in tests and metrics).
        self.logins = 0

    async def login(self) -> Outcome[str]:
        """Open a new session (AUTH_FAILED when the adapter refuses our credentials)."""
        body = {"username": self.config.adapter_username, "password": self.config.adapter_password}
        exchange = await self.transport.send(
            "adapter", "auth", "POST", self.config.url("adapter", "/auth"), body=body
        )
        outcome = _read_answer(exchange, "auth")
        if outcome.status is Status.REFUSED or (
            outcome.status is Status.UNEXPECTED and exchange.last.status in (401, 403)
        ):
            return Outcome(
                Status.AUTH_FAILED,
                error_code=outcome.error_code,
                message=outcome.message or "adapter login refused",
                calls=outcome.calls,
            )
        if not outcome.ok:
            return outcome
        session = outcome.value.get("session")
        if not isinstance(session, str) or not session:
            return Outcome(
                Status.UNEXPECTED, message="auth answer without session", calls=outcome.calls
            )
        self._session = session
        self.logins += 1
        return Outcome(Status.OK, value=session, calls=outcome.calls)

    async def _session_for(self, stale: str | None) -> Outcome[str]:
        """A usable session: the cached one, unless it is `stale`; one login for many callers."""
        async with self._lock:
            if self._session is not None and self._session != stale:
                return Outcome(Status.OK, value=self._session)
            self._session = None
            return await self.login()

    async def call(
        self, endpoint: str, service: str, params: Mapping[str, Any]
    ) -> Outcome[list[Any]]:
        """Call `service` on /adapter/{endpoint} ("share" or "integration"); value is `result`."""
        calls: list[CallRecord] = []
        stale: str | None = None
        for attempt in (1, 2):
            session = await self._session_for(stale)
            calls.extend(session.calls)
            if not session.ok:
                return Outcome(
                    session.status,
                    error_code=session.error_code,
                    message=session.message,
                    calls=tuple(calls),
                )
            body = {
                "session": session.value,
                "madonvi": self.config.unit_code,
                "service": service,
                **params,
            }
            exchange = await self.transport.send(
                "adapter", service, "POST", self.config.url("adapter", f"/{endpoint}"), body=body
            )
            outcome = _read_answer(exchange, service)
            calls.extend(outcome.calls)
            if outcome.error_code == SESSION_EXPIRED and attempt == 1:
                stale = session.value  # log in again and retry once
                continue
            if not outcome.ok:
                return Outcome(
                    outcome.status,
                    error_code=outcome.error_code,
                    message=outcome.message,
                    calls=tuple(calls),
                )
            result = outcome.value.get("result", [])
            if not isinstance(result, list):
                return Outcome(
                    Status.UNEXPECTED, message=f"{service} result is not a list", calls=tuple(calls)
                )
            return Outcome(Status.OK, value=result, calls=tuple(calls))
        raise AssertionError("unreachable")  # pragma: no cover

    async def lay_thu_tuc(self, ma_tthc: str) -> Outcome[list[Any]]:
        """`LayThuTuc`: the national record of one procedure."""
        return await self.call("share", "LayThuTuc", {"maTTHC": ma_tthc})

    async def lay_dvc(self, ma_tthc: str | None = None) -> Outcome[list[Any]]:
        """`LayDVC`: online services (with APDUNGDVC per unit), of one procedure or all."""
        return await self.call("share", "LayDVC", {"maTTHC": ma_tthc} if ma_tthc else {})

    async def dong_bo_ho_so_mc(
        self, dossiers: Sequence[Mapping[str, Any]], *, is_updating: bool = False
    ) -> Outcome[list[Any]]:
        """`DongBoHoSoMC`: push dossiers (error "04" when one exists and is_updating is False)."""
        return await self.call(
            "integration",
            "DongBoHoSoMC",
            {"isUpdating": "True" if is_updating else "False", "data": [dict(d) for d in dossiers]},
        )

    async def tra_cuu_ho_so(self, ma_ho_so: str) -> Outcome[list[Any]]:
        """`TraCuuHoSo`: look a dossier up by its code."""
        return await self.call("integration", "TraCuuHoSo", {"mahoso": ma_ho_so})
