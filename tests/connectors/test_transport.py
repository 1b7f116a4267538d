"""Transport: explicit timeouts, retries on transient failures only, Retry-After, evidence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from connectors.transport import Transport, parse_retry_after
from tests.connectors import fakeportal as fp
from tests.connectors.conftest import fast_config, run


def send(config, path="/adapter/auth", body=None):
    async def main():
        async with httpx.AsyncClient() as client:
            transport = Transport(client, config)
            return await transport.send(
                "adapter",
                "auth",
                "POST",
                config.url("adapter", path.removeprefix("/adapter")),
                body=body or {"username": "hanoi", "password": "hanoi-secret"},
            )

    return run(main())


@pytest.mark.parametrize(
    "fault, outcome",
    [
        (fp.status(500), "http_5xx"),
        (fp.status(502), "http_5xx"),
        (fp.status(503), "http_5xx"),
        (fp.status(429), "http_429"),
        (fp.status(408), "http_408"),
        (fp.maintenance, "malformed"),
        (fp.garbage, "malformed"),
    ],
)
def test_transient_failures_are_retried_then_succeed(portal, config, fault, outcome):
    portal.script("/adapter/auth", fault, fault)
    exchange = send(config)
    assert exchange.accepted and exchange.payload["error_code"] == "00"
    assert [c.outcome for c in exchange.calls] == [outcome, outcome, "ok"]
    assert [c.attempt for c in exchange.calls] == [1, 2, 3]
    assert len(portal.requests_to("/adapter/auth")) == 3


def test_transient_failures_persisting_exhaust_the_attempts(portal, config):
    portal.script("/adapter/auth", *[fp.status(503)] * 5)
    exchange = send(config)
    assert not exchange.accepted
    assert [c.status for c in exchange.calls] == [503, 503, 503]  # retries=2 → 3 attempts
    assert exchange.calls[-1].wait_s is None  # nothing slept after the last attempt
    assert all(c.wait_s is not None for c in exchange.calls[:-1])


def test_business_error_is_not_retried(portal, config):
    exchange = send(config, body={"username": "hanoi", "password": "wrong"})
    assert exchange.accepted and exchange.payload["error_code"] == "01"
    assert len(exchange.calls) == 1 and len(portal.requests_to("/adapter/auth")) == 1


def test_client_error_status_is_not_retried(portal, config):
    exchange = send(config, path="/adapter/nowhere")
    assert exchange.accepted and exchange.response.status_code == 404
    assert [c.outcome for c in exchange.calls] == ["http_4xx"]


def test_retry_after_is_honoured_up_to_the_cap(portal):
    config = fast_config(portal.base_url, retry_after_max=0.05)
    portal.script(
        "/adapter/auth", fp.status(429, retry_after="0"), fp.status(429, retry_after="3600")
    )
    exchange = send(config)
    first, second, third = exchange.calls
    assert (first.retry_after_s, first.wait_s) == (0.0, 0.0)  # honoured exactly
    assert (second.retry_after_s, second.wait_s) == (3600.0, 0.05)  # capped
    assert third.outcome == "ok"


def test_backoff_without_retry_after_is_jittered_within_the_bound(portal):
    config = fast_config(portal.base_url, backoff_base=0.002, backoff_max=0.003)
    portal.script("/adapter/auth", fp.status(500), fp.status(500))
    waits = [c.wait_s for c in send(config).calls[:-1]]
    assert waits[0] <= 0.002 and waits[1] <= 0.003  # full jitter: uniform(0, min(max, base*2^n))


def test_timeouts_are_retried(portal):
    config = fast_config(portal.base_url, timeout=0.2)
    portal.script("/adapter/auth", fp.slow(1.0))
    exchange = send(config)
    assert [c.outcome for c in exchange.calls] == ["timeout", "ok"]
    assert exchange.calls[0].status is None and exchange.calls[0].message


def test_connection_refused_is_retried_and_reported(dead_url):
    exchange = send(fast_config(dead_url))
    assert not exchange.accepted
    assert [c.outcome for c in exchange.calls] == ["connection_error"] * 3
    assert "ConnectError" in exchange.calls[0].message


def test_evidence_names_the_call(portal, config):
    record = send(config).calls[0]
    assert (record.upstream, record.service, record.method) == ("adapter", "auth", "POST")
    assert record.url == f"{portal.base_url}/adapter/auth" and record.status == 200
    assert record.elapsed_ms > 0 and record.started_at.endswith("+07:00")
    assert set(record.to_dict()) >= {
        "url",
        "status",
        "elapsed_ms",
        "attempt",
        "outcome",
        "error_code",
    }


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    now = datetime(2026, 11, 22, 3, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0


def test_a_timed_out_attempt_gives_the_next_one_a_longer_deadline():
    # A deadline that just proved too tight (a portal or a machine slowed by load) is doubled
    # for the call's next attempt, up to 4x: the issue-11 flaky test died of 7 equal deadlines.
    import asyncio

    import httpx

    from connectors import PortalConfig
    from connectors.transport import Transport

    deadlines: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        deadlines.append(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("slow", request=request)

    config = PortalConfig(timeout=0.5, retries=4, backoff_base=0.0, backoff_max=0.0)

    async def main() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            exchange = await Transport(client, config).send("dvcqg", "x", "GET", "http://portal.test/x")
        return [c.outcome for c in exchange.calls]

    assert asyncio.run(main()) == ["timeout"] * 5
    assert deadlines == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert [config.attempt_timeout(n) for n in range(4)] == [0.5, 1.0, 2.0, 2.0]
