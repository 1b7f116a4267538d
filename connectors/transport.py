"""One HTTP call with explicit timeouts, evidence per attempt and retries on transient failures.

Retries (tenacity, full-jitter exponential backoff, `Retry-After` honoured up to a cap) happen
only when the judge of the answer says so: timeouts, connection errors, 408/429/5xx, 3xx and
answers that are not the JSON the contract promises (such as an HTML maintenance page sent
with HTTP 200). Business errors are never retried here.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any, NamedTuple
from urllib.request import getproxies

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from connectors.config import PortalConfig
from connectors.evidence import CallRecord, iso_now
from connectors.h11pool import KeptAliveTransport
from connectors.ratelimit import HostRateLimiter, current_limiter

Body = Mapping[str, Any] | Callable[[int], Mapping[str, Any]] | None


class Judgement(NamedTuple):
    """What one answer means: keep it (accept) or try again, and why."""

    accept: bool
    outcome: str
    payload: Any = None
    retry_after: float | None = None


@dataclass
class Exchange:
    """All attempts of one call; `response` is the accepted answer or None."""

    calls: list[CallRecord] = field(default_factory=list)
    response: httpx.Response | None = None
    payload: Any = None

    @property
    def accepted(self) -> bool:
        """True when some attempt was accepted by the judge."""
        return self.response is not None

    @property
    def last(self) -> CallRecord:
        """The last attempt's record."""
        return self.calls[-1]


class _Retry(Exception):
    """Internal signal to tenacity: this attempt failed transiently."""

    def __init__(self, record: CallRecord, retry_after: float | None) -> None:
        super().__init__(record.outcome)
        self.record = record
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds announced by a Retry-After header (delta-seconds or HTTP-date), else None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (HTML, garbage, a list)."""
    content_type = response.headers.get("content-type", "").lower()
    # An HTML page is never the answer of a JSON API, whatever its status.
    if "html" in content_type:
        return None
    if content_type and "json" not in content_type and not content_type.startswith("text/plain"):
        return None
    try:
        payload = json.loads(response.content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def judge_json(response: httpx.Response) -> Judgement:
    """Judge an answer of a JSON API of the contract."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return Judgement(False, "http_429", None, retry_after)
    if status == 408:
        return Judgement(False, "http_408", None, retry_after)
    if status >= 500:
        return Judgement(False, "http_5xx", None, retry_after)
    if 300 <= status < 400:
        return Judgement(False, "http_3xx")
    payload = json_object(response)
    if status >= 400:
        # 4xx is not transient: the client reads it (a 401 means "renew the token").
        return Judgement(True, "http_4xx", payload)
    if payload is None:
        return Judgement(False, "malformed")
    return Judgement(True, "ok", payload)


@functools.lru_cache(maxsize=4096)
def parsed_url(url: str) -> httpx.URL:
    """`url` parsed once: httpx would parse the same few endpoint URLs on every call."""
    return httpx.URL(url)


class Transport:
    """Sends requests for one client: timeouts, rate limit, retries, evidence."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: PortalConfig,
        *,
        limiter: HostRateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.config = config
        self._limiter = limiter
        self._sleep = sleep
        self._jitter = wait_random_exponential(
            multiplier=config.backoff_base, max=config.backoff_max
        )
        # Built once: they hold no per-call state (tenacity keeps that in RetryCallState).
        self._stop_rest = stop_after_attempt(max(1, config.attempts - 1))
        self._retry = retry_if_exception_type(_Retry)
        self._timeout = httpx.Timeout(config.timeout)

    def _wait_for(self, error: BaseException | None, attempt: int) -> float:
        """Delay after failed attempt number `attempt`: its Retry-After (capped), else jitter."""
        if isinstance(error, _Retry) and error.retry_after is not None:
            return min(error.retry_after, self.config.retry_after_max)
        return self._jitter(SimpleNamespace(attempt_number=attempt))  # type: ignore[arg-type]

    def _wait_rest(self, state: RetryCallState) -> float:
        # Tenacity runs attempts 2.. (its attempt 1 is our second one).
        error = state.outcome.exception() if state.outcome else None
        return self._wait_for(error, state.attempt_number + 1)

    @staticmethod
    def _before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retry):
            error.record.wait_s = round(state.upcoming_sleep, 6)

    async def send(
        self,
        upstream: str,
        service: str,
        method: str,
        url: str,
        *,
        body: Body = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        judge: Callable[[httpx.Response], Judgement] = judge_json,
        follow_redirects: bool = False,
    ) -> Exchange:
        """Send a request, retrying while the judge refuses the answer; never raises for I/O."""
        exchange = Exchange()

        async def attempt(number: int) -> None:
            payload = body(number) if callable(body) else body
            head = headers() if callable(headers) else headers
            record = CallRecord(upstream, service, method, url, number, iso_now())
            exchange.calls.append(record)
            # A deadline that just proved too tight is not imposed again as is: each
            # timed-out attempt of this call doubles the next one's (up to the cap).
            timeouts = sum(1 for c in exchange.calls if c.outcome == "timeout")
            response, judgement = await self._once(
                record, method, url, payload, form, head, judge, follow_redirects,
                self.config.attempt_timeout(timeouts),
            )
            if response is None or not judgement.accept:
                raise _Retry(record, judgement.retry_after)
            exchange.response, exchange.payload = response, judgement.payload

        # Most calls succeed at once: the first attempt runs without tenacity's machinery
        # (building its retry state cost ~5% of a call's CPU); retries go through tenacity.
        try:
            await attempt(1)
            return exchange
        except _Retry as failed:
            if self.config.attempts == 1:
                return exchange
            wait = self._wait_for(failed, 1)
            failed.record.wait_s = round(wait, 6)
        await self._sleep(wait)
        retrying = AsyncRetrying(
            stop=self._stop_rest,
            wait=self._wait_rest,
            retry=self._retry,
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for step in retrying:
                with step:
                    await attempt(step.retry_state.attempt_number + 1)
        except _Retry:
            pass  # every attempt failed; the evidence says how
        return exchange

    async def _once(
        self,
        record: CallRecord,
        method: str,
        url: str,
        payload: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        judge: Callable[[httpx.Response], Judgement],
        follow_redirects: bool,
        timeout: float | None = None,
    ) -> tuple[httpx.Response | None, Judgement]:
        limiter = self._limiter or current_limiter()
        if limiter is not None:
            await limiter.acquire(url)
        timeout = timeout or self.config.timeout
        started = time.perf_counter()
        try:
            # httpx timeouts bound each phase; asyncio.timeout bounds the whole attempt.
            async with asyncio.timeout(timeout):
                response = await self.client.request(
                    method,
                    parsed_url(url),
                    json=payload,
                    data=form,
                    headers=headers,
                    timeout=self._timeout if timeout == self.config.timeout else httpx.Timeout(timeout),
                    follow_redirects=follow_redirects,
                )
        except (TimeoutError, httpx.TimeoutException) as error:
            return None, self._failed(record, started, "timeout", error)
        except httpx.TransportError as error:
            return None, self._failed(record, started, "connection_error", error)
        except httpx.HTTPError as error:
            return None, self._failed(record, started, "request_error", error)
        record.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        record.status = response.status_code
        judgement = judge(response)
        record.outcome = judgement.outcome
        record.retry_after_s = judgement.retry_after
        return response, judgement

    @staticmethod
    def _failed(record: CallRecord, started: float, outcome: str, error: Exception) -> Judgement:
        record.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        record.outcome = outcome
        record.message = f"{type(error).__name__}: {error}".rstrip(": ")
        return Judgement(False, outcome)


def new_client(config: PortalConfig, *, max_connections: int = 64) -> httpx.AsyncClient:
    """An AsyncClient suited to the connectors: at most `max_connections` kept-alive
    connections (one pool per task, see `connectors.pools`), default timeout set."""
    common: dict[str, Any] = {
        "timeout": httpx.Timeout(config.timeout),
        "headers": {"User-Agent": config.user_agent},
    }
    if any(getproxies().get(scheme) for scheme in ("http", "https", "all")):
        # httpx honours HTTP(S)_PROXY only with its own transport: keep it behind a proxy.
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        return httpx.AsyncClient(limits=limits, **common)
    client = httpx.AsyncClient(transport=KeptAliveTransport(max_connections), **common)
    # A probe keeps no cookies: parsing every answer for them cost ~5% of a call's CPU.
    client._cookies = _NoCookies()  # noqa: SLF001 (httpx has no public switch)
    return client


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing (the contract's APIs use none)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None
