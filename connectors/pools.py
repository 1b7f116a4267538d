"""An httpx transport whose connection pool is split into one small pool per task.

httpcore's pool rescans every connection (and asks each idle socket whether it is readable)
each time a request starts or ends, so its cost per call grows with the pool: with 32
kept-alive connections it was about a millisecond of CPU per call, as much as the rest of
the client. A sweep's workers each make one call at a time, so pinning each task to its own
one-connection pool gives the same connections (at most `max_connections`, kept alive) for
a constant cost per call.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx


class PinnedPoolTransport(httpx.AsyncBaseTransport):
    """`max_connections` one-connection pools; each task keeps using the pool it first got."""

    def __init__(self, max_connections: int, **transport_options: Any) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        if "verify" not in transport_options:
            # One TLS context for all pools: building one loads the CA bundle (~20 ms each).
            transport_options["verify"] = httpx.create_ssl_context()
        self._pools = [
            httpx.AsyncHTTPTransport(limits=one, **transport_options)
            for _ in range(max_connections)
        ]
        self._by_task: weakref.WeakKeyDictionary[asyncio.Task[Any], httpx.AsyncHTTPTransport] = (
            weakref.WeakKeyDictionary()
        )
        self._next = 0

    def _pool(self) -> httpx.AsyncHTTPTransport:
        task = asyncio.current_task()
        if task is None:  # not inside a task (rare): any pool will do
            return self._pools[0]
        pool = self._by_task.get(task)
        if pool is None:
            # Round robin: with no more tasks than pools (a sweep), each task has its own.
            pool = self._pools[self._next % len(self._pools)]
            self._next += 1
            self._by_task[task] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request on the calling task's pool."""
        return await self._pool().handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self._pools:
            await pool.aclose()
