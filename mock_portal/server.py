"""Running the mock portal on a real socket: `serve` (foreground, SIGTERM/SIGINT) and
`running_server` (a background thread, for tests and for embedding)."""
from __future__ import annotations

import signal
import socket
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

from mock_portal.app import create_app
from mock_portal.injection import HANDLER_KEY, upstream_of
from mock_portal.state import PortalState


class PortalRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, quiet, keeping connections alive, and reachable from the app so a
    fault can reset the socket."""

    # Keep connections alive like a real portal's front end: closing after every answer costs
    # a TCP handshake and a new server thread per call, which dominated a 32-way sweep's CPU.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Answers go out whole (see run_wsgi); without this, Nagle's algorithm and the
        # client's delayed ACK can hold a kept-alive connection's answer for ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        live = getattr(self.server, "live_connections", None)
        if live is not None:
            live.add(self.connection)

    def finish(self) -> None:
        live = getattr(self.server, "live_connections", None)
        if live is not None:
            live.discard(self.connection)
        super().finish()

    def make_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ = super().make_environ()
        environ[HANDLER_KEY] = self
        return environ

    def run_wsgi(self) -> None:
        """Answer one request and keep the connection open for the next one.

        werkzeug's own `run_wsgi` always answers `Connection: close` (its development server
        cannot find where a request body ends). Here the body is bounded by Content-Length,
        whatever the app leaves unread is drained, and the answer (small, in a mock) is sent
        with its length. Requests this cannot frame (chunked bodies, `Expect`, HEAD, a client
        asking to close) go to werkzeug's path, which closes the connection afterwards.
        """
        if getattr(self.server, "stopping", False):
            # Stopped while this connection waited for its next request: answer nothing. (Linux
            # still delivers data that arrives after shutdown(SHUT_RD), so that alone is not enough.)
            self.close_connection = True
            return
        length = self.headers.get("Content-Length", "0").strip()
        if (self.close_connection or self.command == "HEAD" or not length.isdigit()
                or "Transfer-Encoding" in self.headers or "Expect" in self.headers):
            super().run_wsgi()
            return
        self.environ = environ = self.make_environ()
        body = LimitedStream(self.rfile, int(length))
        environ["wsgi.input"] = body
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                           ) -> Any:
            if exc_info is not None and started and chunks:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append  # the legacy write() callable: buffered like the rest

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            body.exhaust()  # the next request line starts right after this body
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            raise  # handle() treats it as "client went away" (a reset fault raises it too)
        except Exception as exc:  # our bug: answer 500 like werkzeug does, then close
            self.close_connection = True
            self.server.log("error", f"Error on request {self.command} {self.path}: {exc!r}")
            started[:] = []
        if not started:  # an error, or an app that never called start_response
            self.close_connection = True
            started[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
            chunks[:] = [b"Internal Server Error"]
        status, headers = started
        code, _, reason = status.partition(" ")
        data = b"".join(chunks)
        self.send_response(int(code), reason)
        has_length = False
        for key, value in headers:
            lower = key.lower()
            if lower == "connection":
                continue
            has_length = has_length or lower == "content-length"
            self.send_header(key, value)
        if not has_length and int(code) >= 200 and int(code) not in (204, 304):
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Head and body in one write (http.server buffers the head until flush_headers).
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """The request journal (`/_admin/journal`) replaces the access log."""


def _close_live_connections(server: BaseWSGIServer) -> None:
    """Stop reading from kept-alive connections, so a stopped portal answers nothing more."""
    server.stopping = True  # type: ignore[attr-defined]
    for sock in list(getattr(server, "live_connections", ())):
        try:
            # Read side only: an answer being written still goes out, the next read sees EOF.
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def make_portal_server(app: Flask, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded werkzeug server for `app`; port 0 picks a free port."""
    server = make_server(host, port, app, threaded=True, request_handler=PortalRequestHandler)
    server.live_connections = set()  # type: ignore[attr-defined]
    return server


UPSTREAMS = ("dvcqg", "adapter", "payment", "lgsp", "paygov")


class OneUpstream:
    """WSGI wrapper serving only one upstream's prefix (404 for the others): a host of its own."""

    def __init__(self, app: Flask, upstream: str) -> None:
        self.app, self.upstream = app, upstream

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if upstream_of(environ.get("PATH_INFO", "")) != self.upstream:
            start_response("404 NOT FOUND", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"this host serves /{self.upstream} only".encode()]
        return self.app(environ, start_response)


def upstream_servers(app: Flask, host: str = "127.0.0.1") -> dict[str, BaseWSGIServer]:
    """One server per upstream (free ports), all on the same app and state."""
    servers = {}
    for upstream in UPSTREAMS:
        server = make_server(host, 0, OneUpstream(app, upstream), threaded=True,
                             request_handler=PortalRequestHandler)
        server.live_connections = set()  # type: ignore[attr-defined]
        servers[upstream] = server
    return servers


def upstream_urls(servers: dict[str, BaseWSGIServer]) -> dict[str, str]:
    """Each upstream's base URL (its host and the contract prefix)."""
    return {name: f"{url_of(server)}/{name}" for name, server in servers.items()}


def url_of(server: BaseWSGIServer) -> str:
    """The base URL a server is bound to."""
    return f"http://{server.host}:{server.port}"


def _stop(app: Flask, server: BaseWSGIServer, *others: BaseWSGIServer) -> None:
    state: PortalState = app.extensions["mock_portal"]
    state.stopping.set()  # ends fault delays in progress
    for one in (server, *others):
        one.shutdown()
        _close_live_connections(one)
    state.callbacks.stop()


@contextmanager
def running_server(app: Flask | None = None, host: str = "127.0.0.1", port: int = 0,
                   **create_kwargs: Any) -> Iterator[tuple[str, Flask]]:
    """Serve `app` (or `create_app(**create_kwargs)`) in a thread; yields (base URL, app)."""
    app = app or create_app(**create_kwargs)
    server = make_portal_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              name="mock_portal", daemon=True)
    thread.start()
    try:
        yield url_of(server), app
    finally:
        _stop(app, server)
        thread.join(5)
        server.server_close()


def serve(host: str = "127.0.0.1", port: int = 8081, world: Any = None, faults: Any = None,
          seed: int = 0, split: bool = False, **config: Any) -> int:
    """Serve in the foreground until SIGTERM or SIGINT; prints the bound URL on one line.

    `split`: also serve each upstream on a port of its own (free ports; one line each,
    `mock_portal upstream NAME on URL`), all sharing one state.
    """
    app = create_app(world=world, faults=faults, seed=seed, **config)
    server = make_portal_server(app, host, port)
    extra = upstream_servers(app, host) if split else {}
    for name, one in extra.items():
        threading.Thread(target=one.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"mock_portal-{name}", daemon=True).start()

    def _on_signal(signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever, which runs in this very thread: call it elsewhere.
        threading.Thread(target=_stop, args=(app, server, *extra.values()), daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _on_signal)
    for name, url in upstream_urls(extra).items():
        print(f"mock_portal upstream {name} on {url}", flush=True)
    print(f"mock_portal listening on {url_of(server)}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        for one in extra.values():
            one.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mock_portal stopped", file=sys.stderr, flush=True)
    return 0
