"""Federation: pulling other units' coverage reports over HTTP with the connectors' transport.

Timeouts, retries of transient failures (tenacity, jittered backoff, `Retry-After`), a per-host
rate limit and one evidence record per attempt all come from `connectors.transport`. This
module knows nothing of the store: it turns each unit's answer into a `PullAnswer`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.config import PortalConfig
from connectors.ratelimit import HostRateLimiter
from connectors.transport import Judgement, Transport, json_object, judge_json, new_client

BASES = ("declared", "verified")
COVERAGE_PATH = "/api/v1/coverage"


@dataclass(frozen=True)
class PullRequest:
    """One report to pull: a unit, a basis, and the ETag of our last snapshot of it."""

    unit_code: str
    url: str
    basis: str
    etag: str | None = None


@dataclass
class PullAnswer:
    """What one pull brought: `changed` (a report), `not_modified` (304) or `failed` (why)."""

    request: PullRequest
    outcome: str
    reason: str = ""
    http_status: int | None = None
    report: Any = None
    etag: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)


def coverage_url(base: str, basis: str) -> str:
    """The unit's report URL for one basis."""
    return f"{base.rstrip('/')}{COVERAGE_PATH}?basis={basis}"


def judge_coverage(response: httpx.Response) -> Judgement:
    """304 and any JSON object are answers; 5xx/429/408/timeouts are retried; garbage and
    other statuses are final answers (retrying them would only delay the pull)."""
    status = response.status_code
    if status == 304:
        return Judgement(True, "not_modified")
    if status in (408, 429) or status >= 500:
        return judge_json(response)
    if status != 200:
        return Judgement(True, f"http_{status}")
    payload = json_object(response)
    if payload is None:
        return Judgement(True, "malformed")
    return Judgement(True, "ok", payload)


def _answer(request: PullRequest, exchange: Any) -> PullAnswer:
    evidence = [call.to_dict() for call in exchange.calls]
    if not exchange.accepted:
        last = exchange.last
        reason = f"no answer: {last.outcome}" + (f" ({last.message})" if last.message else "")
        return PullAnswer(request, "failed", reason, last.status, evidence=evidence)
    response = exchange.response
    status = response.status_code
    outcome = exchange.last.outcome
    etag = response.headers.get("etag")
    if outcome == "not_modified":
        return PullAnswer(request, "not_modified", "", status, etag=etag or request.etag, evidence=evidence)
    if outcome == "malformed":
        return PullAnswer(request, "failed", "the answer is not a JSON object", status, evidence=evidence)
    if outcome != "ok":
        return PullAnswer(request, "failed", f"HTTP {status}", status, evidence=evidence)
    return PullAnswer(request, "changed", "", status, report=exchange.payload, etag=etag, evidence=evidence)


async def pull_reports(requests: list[PullRequest], *, timeout: float = 10.0, retries: int = 2,
                       rate: float = 0.0, concurrency: int = 16) -> list[PullAnswer]:
    """Pull every report concurrently (at most `concurrency` at once); never raises for I/O."""
    if not requests:
        return []
    config = PortalConfig(base_url=requests[0].url, timeout=timeout, retries=retries,
                          backoff_base=0.2, backoff_max=2.0, retry_after_max=5.0,
                          user_agent="tthc-federation/1")
    limiter = HostRateLimiter(rate) if rate > 0 else None
    gate = asyncio.Semaphore(concurrency)
    async with new_client(config, max_connections=concurrency) as client:
        transport = Transport(client, config, limiter=limiter)

        async def one(request: PullRequest) -> PullAnswer:
            headers = {"Accept": "application/json"}
            if request.etag:
                headers["If-None-Match"] = request.etag
            async with gate:
                exchange = await transport.send("federation", "coverage", "GET",
                                                coverage_url(request.url, request.basis),
                                                headers=headers, judge=judge_coverage)
            return _answer(request, exchange)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def pull_reports_sync(requests: list[PullRequest], **options: Any) -> list[PullAnswer]:
    """`pull_reports` from blocking code (the CLI, the scheduler thread)."""
    return asyncio.run(pull_reports(requests, **options))
