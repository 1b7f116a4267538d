"""Running the mock portal on a real socket: `serve` (foreground, SIGTERM/SIGINT) and
`running_server` (a background thread, for tests and for embedding)."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mock_portal.app import create_app
from mock_portal.injection import HANDLER_KEY
from mock_portal.state import PortalState


class PortalRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, quiet, and reachable from the app so a fault can reset the socket."""

    # Keep connections alive like a real portal's front end: closing after every answer costs
    # a TCP handshake per call, which dominated a 32-way sweep's CPU time.
    protocol_version = "HTTP/1.1"

    def make_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ = super().make_environ()
        environ[HANDLER_KEY] = self
        return environ

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """The request journal (`/_admin/journal`) replaces the access log."""


def make_portal_server(app: Flask, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded werkzeug server for `app`; port 0 picks a free port."""
    return make_server(host, port, app, threaded=True, request_handler=PortalRequestHandler)


def url_of(server: BaseWSGIServer) -> str:
    """The base URL a server is bound to."""
    return f"http://{server.host}:{server.port}"


def _stop(app: Flask, server: BaseWSGIServer) -> None:
    state: PortalState = app.extensions["mock_portal"]
    state.stopping.set()  # ends fault delays in progress
    server.shutdown()
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
          seed: int = 0, **config: Any) -> int:
    """Serve in the foreground until SIGTERM or SIGINT; prints the bound URL on one line."""
    app = create_app(world=world, faults=faults, seed=seed, **config)
    server = make_portal_server(app, host, port)

    def _on_signal(signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever, which runs in this very thread: call it elsewhere.
        threading.Thread(target=_stop, args=(app, server), daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _on_signal)
    print(f"mock_portal listening on {url_of(server)}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mock_portal stopped", file=sys.stderr, flush=True)
    return 0
