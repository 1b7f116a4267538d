"""Client of the DVCQG integration adapter (contract section 2): session, share, integration."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from connectors.codes import code_text, is_success
from connectors.config import PortalConfig
from connectors.evidence import CallRecord, Outcome, Status
from connectors.transport import Exchange, Transport

SESSION_EXPIRED = "03"
#: A call gives up after this many re-logins times the retry budget, even when the sessions
#: served others (sessions that expire faster than anyone can use them are a broken portal).
CHURN_FACTOR = 8


def _read_answer(exchange: Exchange, what: str) -> Outcome[Any]:
    """Turn the last accepted adapter answer into an Outcome ("00", "0" or 0 is success)."""
    calls = tuple(exchange.calls)
    if not exchange.accepted:
        last = exchange.last
        return Outcome(Status.UNAVAILABLE, message=last.message or last.outcome, calls=calls)
    record, payload = exchange.last, exchange.payload
    if not isinstance(payload, dict) or "error_code" not in payload:
        return Outcome(
            Status.UNEXPECTED,
            calls=calls,
            message=f"HTTP {record.status}: {what} answer without required field error_code",
        )
    code = code_text(payload["error_code"])
    record.error_code = code
    if not is_success(payload["error_code"]):
        record.message = payload.get("message")
        return Outcome(Status.REFUSED, error_code=code, message=payload.get("message"), calls=calls)
    return Outcome(Status.OK, value=payload, calls=calls)


class _Session:
    """One adapter session and how many calls were sent with it (to tell churn from refusal)."""

    __slots__ = ("token", "sent")

    def __init__(self, token: str) -> None:
        self.token = token
        self.sent = 0


class AdapterClient:
    """The service-multiplexed adapter; one login in flight at a time (single-flight).

    Error "03" (session invalid or expired) is transient: the call takes the fresh session
    another task has just opened, or logs in itself (one login at a time), and retries. A
    "03" while the adapter keeps serving other calls is churn (a portal expiring sessions after
    a few calls while many tasks share one) and does not use the retry budget; a "03" to the
    first call of a session while nothing else was served since does, and after `attempts` of
    those the call ends REFUSED "03".
    """

    def __init__(
        self, client: httpx.AsyncClient, config: PortalConfig, transport: Transport | None = None
    ) -> None:
        self.config = config
        self.transport = transport or Transport(client, config)
        self._session: _Session | None = None
        self._lock = asyncio.Lock()
        #: Successful logins so far (one per session; useful in tests and metrics).
        self.logins = 0
        #: Calls the adapter answered with something else than "03" (progress, to tell churn).
        self.served = 0

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
                Status.UNEXPECTED,
                message="auth answer without required field session",
                calls=outcome.calls,
            )
        self._session = _Session(session)
        self.logins += 1
        return Outcome(Status.OK, value=session, calls=outcome.calls)

    async def _session_for(self, stale: _Session | None) -> Outcome[_Session]:
        """A usable session: the cached one unless it is `stale`; one login for many callers."""
        async with self._lock:
            current = self._session
            if current is not None and current is not stale:
                return Outcome(Status.OK, value=current)
            self._session = None
            opened = await self.login()
            if not opened.ok:
                return Outcome(
                    opened.status,
                    error_code=opened.error_code,
                    message=opened.message,
                    calls=opened.calls,
                )
            return Outcome(Status.OK, value=self._session, calls=opened.calls)

    async def call(
        self, endpoint: str, service: str, params: Mapping[str, Any], *, whole: bool = False
    ) -> Outcome[Any]:
        """Call `service` on /adapter/{endpoint} ("share" or "integration"); value is `result`
        (with `whole`, the whole answer, its `result` checked to be a list)."""
        calls: list[CallRecord] = []
        stale: _Session | None = None
        dead = churn = 0
        url = self.config.url("adapter", f"/{endpoint}")
        while True:
            got = await self._session_for(stale)
            calls.extend(got.calls)
            if not got.ok:
                return Outcome(
                    got.status, error_code=got.error_code, message=got.message, calls=tuple(calls)
                )
            session = got.value
            assert session is not None  # an OK outcome carries its session
            mark = self.served
            body = {
                "session": session.token,
                "madonvi": self.config.unit_code,
                "service": service,
                **params,
            }
            first = session.sent == 0
            session.sent += 1
            exchange = await self.transport.send("adapter", service, "POST", url, body=body)
            outcome = _read_answer(exchange, service)
            calls.extend(outcome.calls)
            if outcome.error_code == SESSION_EXPIRED:
                # A fresh session refused on its first call while nothing else was served says
                # "not you"; otherwise it is churn (another call's expiry, a session used up).
                refused = first and self.served == mark
                dead, churn = (dead + 1, churn) if refused else (dead, churn + 1)
                if dead < self.config.attempts and churn < CHURN_FACTOR * self.config.attempts:
                    stale = session  # log in again (or take the fresh session) and retry
                    continue
                return Outcome(
                    Status.REFUSED,
                    error_code=outcome.error_code,
                    calls=tuple(calls),
                    message=f"{outcome.message} (session refused after {dead + churn + 1} logins)",
                )
            if exchange.accepted:
                self.served += 1
            if not outcome.ok:
                return Outcome(
                    outcome.status,
                    error_code=outcome.error_code,
                    message=outcome.message,
                    calls=tuple(calls),
                )
            result = outcome.value.get("result")
            if result is None and endpoint == "integration":
                result = []  # a write's answer may carry no result at all
            if not isinstance(result, list):
                what = "without required field result" if result is None else "result is not a list"
                return Outcome(
                    Status.UNEXPECTED, message=f"{service} answer {what}", calls=tuple(calls)
                )
            value = {**(outcome.value or {}), "result": result} if whole else result
            return Outcome(Status.OK, value=value, calls=tuple(calls))

    async def lay_thu_tuc(self, ma_tthc: str) -> Outcome[list[Any]]:
        """`LayThuTuc`: the national record of one procedure."""
        return await self.call("share", "LayThuTuc", {"maTTHC": ma_tthc})

    async def lay_dvc(self, ma_tthc: str | None = None, *, whole: bool = False) -> Outcome[Any]:
        """`LayDVC`: online services (with APDUNGDVC per unit), of one procedure or all
        (`whole`: the whole answer, e.g. to read a count the adapter adds)."""
        params = {"maTTHC": ma_tthc} if ma_tthc else {}
        return await self.call("share", "LayDVC", params, whole=whole)

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
