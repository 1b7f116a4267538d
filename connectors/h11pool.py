"""A lean HTTP/1.1 transport for httpx: one kept-alive connection per task, asyncio + h11.

Why: a probe call spent most of its client CPU in the generic layers under httpx (httpcore's
pool bookkeeping, anyio's stream wrappers, trace hooks, sniffio look-ups), not in HTTP itself.
A sweep's workers each make one call at a time, so each task gets its own connection (at most
`max_connections`; more tasks share them in turn), written with `h11` (the parser httpcore
uses too) over asyncio streams. Redirects, cookies, auth and timeouts stay httpx's and ours:
this layer only sends one request and reads one answer. Errors map to httpx's exceptions
(ConnectError, ReadError, WriteError, RemoteProtocolError), so callers see the usual tree.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import weakref
from typing import Any

import h11
import httpx

_READ = 65536


class _Connection:
    """One HTTP/1.1 connection, reused while the server keeps it alive."""

    __slots__ = ("reader", "writer", "state", "origin", "lock")

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.state: h11.Connection | None = None
        self.origin: tuple[bytes, bytes, int | None] | None = None
        self.lock = asyncio.Lock()

    def reusable(self, origin: tuple[bytes, bytes, int | None]) -> bool:
        return (self.writer is not None and self.origin == origin and self.state is not None
                and self.state.our_state is h11.IDLE and not self.writer.is_closing()
                and not self.reader.at_eof())  # type: ignore[union-attr]

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except (OSError, RuntimeError):
                pass
        self.reader = self.writer = self.state = self.origin = None


class KeptAliveTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` kept-alive HTTP/1.1 connections, one per task in turn."""

    def __init__(self, max_connections: int, *, verify: ssl.SSLContext | bool = True) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        self._connections = [_Connection() for _ in range(max_connections)]
        self._by_task: weakref.WeakKeyDictionary[asyncio.Task[Any], _Connection] = (
            weakref.WeakKeyDictionary()
        )
        self._next = 0
        self._ssl: ssl.SSLContext | None = (
            verify if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify=verify)
        )

    def _connection(self) -> _Connection:
        task = asyncio.current_task()
        conn = self._by_task.get(task) if task is not None else None
        if conn is None:
            conn = self._connections[self._next % len(self._connections)]
            self._next += 1
            if task is not None:
                self._by_task[task] = conn
        return conn

    async def _open(self, conn: _Connection, url: httpx.URL) -> None:
        secure = url.scheme == "https"
        host = url.host
        port = url.port or (443 if secure else 80)
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=self._ssl if secure else None,
                server_hostname=host if secure else None, limit=_READ * 4)
        except OSError as error:
            raise httpx.ConnectError(f"{type(error).__name__}: {error}") from error
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.reader, conn.writer = reader, writer
        conn.state = h11.Connection(h11.CLIENT)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` on this task's connection and read the whole answer."""
        conn = self._connection()
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        body = await request.aread()
        async with conn.lock:
            if not conn.reusable(origin):
                conn.close()
                await self._open(conn, url)
                conn.origin = origin
            try:
                return await self._exchange(conn, request, body)
            except BaseException:
                conn.close()  # cancelled (a timeout) or failed mid-exchange: never reuse it
                raise

    async def _exchange(self, conn: _Connection, request: httpx.Request,
                        body: bytes) -> httpx.Response:
        state, reader, writer = conn.state, conn.reader, conn.writer
        assert state is not None and reader is not None and writer is not None
        try:
            data = state.send(h11.Request(method=request.method, target=request.url.raw_path,
                                          headers=request.headers.raw))
            if body:
                data += state.send(h11.Data(data=body))
            data += state.send(h11.EndOfMessage())
        except h11.LocalProtocolError as error:
            raise httpx.LocalProtocolError(str(error)) from error
        try:
            writer.write(data)
            await writer.drain()
        except OSError as error:
            raise httpx.WriteError(f"{type(error).__name__}: {error}") from error
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as error:
                raise httpx.RemoteProtocolError(str(error)) from error
            if event is h11.NEED_DATA:
                try:
                    received = await reader.read(_READ)
                except OSError as error:
                    raise httpx.ReadError(f"{type(error).__name__}: {error}") from error
                if not received and response is None:
                    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
                state.receive_data(received)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected while sending the response.")
            elif event is h11.PAUSED:  # cannot happen before EndOfMessage; never loop on it
                raise httpx.RemoteProtocolError("Unexpected data in the answer.")
        assert response is not None
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()  # kept alive for the next request
        else:
            conn.close()
        return httpx.Response(
            response.status_code, headers=response.headers.raw if hasattr(response.headers, "raw")
            else list(response.headers), content=b"".join(chunks),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(response.reason)})

    async def aclose(self) -> None:
        """Close every connection."""
        for conn in self._connections:
            conn.close()


__all__ = ["KeptAliveTransport"]
