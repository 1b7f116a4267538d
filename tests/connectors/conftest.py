"""Fixtures of the connector tests: a threaded pytest-httpserver playing the portal."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from pytest_httpserver import HTTPServer

from connectors import PortalConfig, Prober
from tests.connectors.fakeportal import FakePortal

T = TypeVar("T")


@pytest.fixture(scope="session")
def portal_server():
    # Threaded: slow answers (timeouts) and concurrency tests need parallel handlers.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def portal(portal_server: HTTPServer):
    portal_server.clear()
    fake = FakePortal(portal_server)
    yield fake
    portal_server.check_handler_errors()
    portal_server.clear()


def fast_config(base_url: str, **overrides: Any) -> PortalConfig:
    """A config with tiny backoff so that retries cost milliseconds."""
    settings: dict[str, Any] = dict(
        base_url=base_url,
        timeout=2.0,
        retries=2,
        backoff_base=0.001,
        backoff_max=0.004,
        retry_after_max=0.02,
    )
    settings.update(overrides)
    return PortalConfig(**settings)


@pytest.fixture
def config(portal: FakePortal) -> PortalConfig:
    return fast_config(portal.base_url)


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def with_prober(config: PortalConfig, use: Callable[[Prober], Awaitable[T]]) -> T:
    """Run `use(prober)` in a fresh event loop with a fresh httpx client."""

    async def main() -> T:
        async with httpx.AsyncClient() as client:
            return await use(Prober(config, client))

    return asyncio.run(main())
