"""The connectors' transports (KeptAliveTransport, used by new_client, and PinnedPoolTransport)
against a real keep-alive HTTP/1.1 server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest

from connectors import PortalConfig, new_client
from connectors.h11pool import KeptAliveTransport
from connectors.pools import PinnedPoolTransport

TRANSPORTS = [KeptAliveTransport, PinnedPoolTransport]


class KeepAliveServer:
    """A tiny HTTP/1.1 server that keeps connections open and answers each request with the
    client's port, so a test can see which connection carried it."""

    def __init__(self) -> None:
        self.open_connections = 0
        self.ports: set[int] = set()
        self.server: asyncio.base_events.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("peername")[1]
        self.ports.add(port)
        self.open_connections += 1
        try:
            for _ in range(10_000):  # bounded: requests on one connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                body = str(port).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _sweep(url: str, client: httpx.AsyncClient, tasks: int, calls: int
                 ) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = defaultdict(list)

    async def worker(n: int) -> None:
        for i in range(calls):
            response = await client.post(f"{url}/x", json={"worker": n, "call": i})
            seen[n].append(int(response.text))

    await asyncio.gather(*(worker(n) for n in range(tasks)))
    return seen


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("tasks, pools", [(1, 1), (4, 4), (4, 8), (6, 2), (5, 3)])
def test_connections_are_kept_alive_and_bounded(tasks, pools, transport):
    async def main() -> tuple[dict[int, list[int]], KeepAliveServer]:
        server = KeepAliveServer()
        async with server as url:
            async with httpx.AsyncClient(transport=transport(pools)) as client:
                seen = await _sweep(url, client, tasks, calls=6)
        return seen, server

    seen, server = asyncio.run(main())
    assert sorted(seen) == list(range(tasks))
    assert all(len(ports) == 6 for ports in seen.values())
    used = {port for ports in seen.values() for port in ports}
    # Never more connections than pools; with enough pools, one connection per task.
    assert len(server.ports) == len(used) == min(tasks, pools)
    if tasks <= pools:
        assert all(len(set(ports)) == 1 for ports in seen.values())


def test_new_client_closes_every_connection_on_exit():
    async def main() -> int:
        server = KeepAliveServer()
        async with server as url:
            config = PortalConfig(base_url=url)
            async with new_client(config, max_connections=3) as client:
                await _sweep(url, client, tasks=3, calls=2)
                assert server.open_connections == 3
            for _ in range(200):  # bounded wait for the server to see the closes
                if server.open_connections == 0:
                    break
                await asyncio.sleep(0.01)
        return server.open_connections

    assert asyncio.run(main()) == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("bad", [0, -1])
def test_at_least_one_pool(bad, transport):
    with pytest.raises(ValueError):
        transport(bad)


def test_kept_alive_and_a_dead_port_is_a_connect_error():
    async def main() -> tuple[int, int, type]:
        server = KeepAliveServer()
        async with server as url:
            async with httpx.AsyncClient(transport=KeptAliveTransport(1)) as client:
                first = int((await client.get(f"{url}/a")).text)
                second = int((await client.get(f"{url}/b")).text)
        async with httpx.AsyncClient(transport=KeptAliveTransport(1)) as client:
            try:
                await client.get("http://127.0.0.1:9/")
            except httpx.HTTPError as error:
                kind = type(error)
        return first, second, kind

    first, second, kind = asyncio.run(main())
    assert first == second  # kept alive: the same connection
    assert issubclass(kind, httpx.ConnectError)


@pytest.mark.parametrize("env, pinned", [
    ({}, True),
    ({"HTTP_PROXY": "http://127.0.0.1:9"}, False),
    ({"https_proxy": "http://127.0.0.1:9"}, False),
])
def test_new_client_keeps_httpx_proxy_support(monkeypatch, env, pinned):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def main() -> tuple[bool, bool]:
        async with new_client(PortalConfig(), max_connections=2) as client:
            proxied = any(t is not None for t in client._mounts.values())
            return isinstance(client._transport, KeptAliveTransport), proxied

    uses_pools, proxied = asyncio.run(main())
    assert uses_pools is pinned
    assert proxied is not pinned
