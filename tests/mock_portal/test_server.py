"""The mock portal's server over raw sockets: HTTP/1.1 keep-alive, request framing, stop."""
from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest

LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def test_one_connection_carries_many_requests(portal):
    conn = connect(portal.url)
    ask(conn, "GET", "/_admin/health")
    sock = conn.sock
    assert sock is not None
    for _ in range(5):
        response, body = ask(conn, "POST", LIST, json.dumps({"limit": 1}).encode(),
                             {"Content-Type": "application/json"})
        assert response.status == 200 and json.loads(body)["code"] == "OK"
        assert response.getheader("Connection") is None
        assert int(response.getheader("Content-Length")) == len(body)
        assert conn.sock is sock  # the same socket: nothing was closed in between
    conn.close()


@pytest.mark.parametrize("size", [0, 1, 5_000, 300_000])
def test_an_unread_request_body_does_not_leak_into_the_next_request(portal, size):
    # /_admin/health never reads its body: the server must skip it to find the next request.
    conn = connect(portal.url)
    response, _ = ask(conn, "GET", "/_admin/health", b"x" * size,
                      {"Content-Type": "application/octet-stream"})
    assert response.status == 200
    response, body = ask(conn, "POST", LIST, json.dumps({"limit": 2}).encode(),
                         {"Content-Type": "application/json"})
    assert response.status == 200 and len(json.loads(body)["data"]["items"]) == 2
    conn.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (socket timeout if it never does)."""
    data = b""
    for _ in range(10_000):  # bounded
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the server kept sending")


@pytest.mark.parametrize("request_bytes", [
    b"GET /_admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST " + LIST.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nc\r\n{\"limit\": 1}\r\n0\r\n\r\n",
    b"GET /_admin/health HTTP/1.0\r\n\r\n",
])
def test_requests_it_cannot_keep_alive_close_the_connection(portal, request_bytes):
    parts = urlsplit(portal.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = read_until_closed(sock)  # returns only because the server closed
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"200"
    if b"chunked" in request_bytes:  # the chunked body was read whole
        assert len(json.loads(body)["data"]["items"]) == 1


def test_a_kept_alive_connection_is_answered_by_the_app_after_a_reset_elsewhere(start_portal):
    portal = start_portal(faults=[{"name": "r", "kind": "reset", "path": "/adapter/*"}])
    kept = connect(portal.url)
    assert ask(kept, "GET", "/_admin/health")[0].status == 200
    other = connect(portal.url)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        ask(other, "POST", "/adapter/auth", b"{}", {"Content-Type": "application/json"})
    response, body = ask(kept, "POST", LIST, b'{"limit": 1}', {"Content-Type": "application/json"})
    assert response.status == 200 and json.loads(body)["code"] == "OK"
    kept.close()
    other.close()


def test_stopping_the_server_ends_kept_alive_connections(start_portal):
    from mock_portal.server import running_server

    with running_server(world=None) as (url, _app):
        conn = connect(url)
        assert ask(conn, "GET", "/_admin/health")[0].status == 200
        sock = conn.sock
    # Stopped: the idle connection is not served any more (EOF or reset, never an answer).
    sock.settimeout(5)
    try:
        sock.sendall(b"GET /_admin/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1) == b""
    except OSError:
        pass
    conn.close()


def test_answers_carry_their_length_and_a_single_write(portal):
    # Head and body arrive together: one recv sees the whole (small) answer.
    parts = urlsplit(portal.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET /_admin/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        for _ in range(100):  # bounded
            chunk = sock.recv(65536)
            data += chunk
            if not chunk or b"\r\n\r\n" in data:
                break
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        assert head.startswith(b"HTTP/1.1 200")
        assert len(body) == length


@pytest.mark.parametrize("app_error", ["raises", "never_starts"])
def test_an_app_failure_answers_500_and_closes(app_error):
    import threading

    from mock_portal.server import make_portal_server

    def app(environ, start_response):
        if app_error == "raises":
            raise RuntimeError("boom")
        return [b"no start_response"]

    server = make_portal_server(app)  # any WSGI app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    try:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_until_closed(sock)
        assert answer.split(b" ")[1] == b"500"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
