"""Applying faults to live requests: the before-request hook, the faulty answers, and the WSGI
middleware that resets a connection."""
from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any, Callable, Iterable

from flask import Response, g, request

from mock_portal.faults import RequestInfo, Rule
from mock_portal.state import PortalState, portal

RESET_FLAG = "mock_portal.reset"
HANDLER_KEY = "mock_portal.handler"
# The simulated citizen's pages are our browser, not an upstream API: never faulted.
EXEMPT_ENDPOINTS = {"payment.pay_page", "payment.pay_submit", "paygov.pay_page",
                    "paygov.pay_submit"}

MAINTENANCE_HTML = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Bảo trì hệ thống</title></head>
<body><h1>Hệ thống đang bảo trì</h1>
<p>Cổng Dịch vụ công quốc gia đang được nâng cấp. Vui lòng quay lại sau.</p></body></html>
"""


def upstream_of(path: str) -> str | None:
    """Which of the five upstreams a path belongs to (None for admin and unknown paths)."""
    head = path.lstrip("/").split("/", 1)[0]
    return head if head in ("dvcqg", "adapter", "payment", "lgsp", "paygov") else None


def _codes_in(body: Any, path: str, state: PortalState) -> frozenset[str]:
    """Procedure codes a request is about, so that a rule can target specific procedures."""
    codes: set[str] = set()
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "dich-vu-cong-truc-tuyen":
        codes.add(parts[2])
    if isinstance(body, dict):
        for key in ("maTTHC", "MaTTHC", "code", "q", "serviceCode"):
            if isinstance(body.get(key), str) and body[key]:
                codes.add(body[key])
        receipt = body.get("ThongTinBienLai")
        if isinstance(receipt, dict) and isinstance(receipt.get("MaTTHC"), str):
            codes.add(receipt["MaTTHC"])
        if isinstance(body.get("id"), str):
            proc = state.world.listed_by_id.get(body["id"])
            if proc:
                codes.add(proc.code)
        dossiers = body.get("data")
        for dossier in dossiers if isinstance(dossiers, list) else []:
            if isinstance(dossier, dict) and isinstance(dossier.get("MaTTHC"), str):
                codes.add(dossier["MaTTHC"])
    return frozenset(codes)


# Parts of a request that change on every attempt of the same call (references, sessions,
# timestamps, signatures): left out of its signature.
_VOLATILE = frozenset({"session", "MaXacThuc", "MaThamChieu", "ThoiGianGD", "MaHoSo", "orderId",
                       "requestCode", "checksum"})


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def signature_of(body: Any) -> str:
    """One request's identity across its retries: method, path and body without volatile parts."""
    payload = body if body is not None else request.form.to_dict() if request.form else None
    return "|".join((request.method, request.path,
                     json.dumps(_stable(payload), sort_keys=True, ensure_ascii=False)))


def before_request() -> Response | None:
    """Draw this request's faults; sleep for latency; answer for a terminal fault."""
    g.fired, g.delay_ms = [], 0.0
    upstream = upstream_of(request.path)
    if upstream is None or request.endpoint in EXEMPT_ENDPOINTS:
        return None
    state = portal()
    body = request.get_json(silent=True)
    service = body.get("service") if isinstance(body, dict) else None
    info = RequestInfo(method=request.method, path=request.path, upstream=upstream,
                       service=service if isinstance(service, str) else None,
                       codes=_codes_in(body, request.path, state),
                       signature=signature_of(body) if state.faults.wants_signature else "")
    decision = state.faults.decide(info)
    g.fired = decision.fired
    if decision.delay:
        g.delay_ms = round(decision.delay * 1000.0, 3)
        # Waiting on the stop event lets a shutdown end a "slower than the timeout" answer.
        state.stopping.wait(decision.delay)
    if decision.action is not None:
        return fault_response(decision.action, upstream, state, body)
    return None


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def _business_error(upstream: str, message: str) -> Response:
    """The upstream's own failure envelope, with HTTP 200 as the real systems do."""
    if upstream == "dvcqg":
        if "/dich-vu-cong-truc-tuyen/" in request.path:
            return Response(f"<html><body><h1>Lỗi hệ thống</h1><p>{message}</p></body></html>",
                            status=500, content_type="text/html; charset=utf-8")
        return _json({"code": "ERROR", "message": message, "data": None})
    if upstream == "adapter":
        return _json({"error_code": "99", "message": message, "result": []})
    if upstream == "payment":
        return _json({"MaLoi": "99", "MoTaLoi": message})
    if upstream == "lgsp":
        return _json({"error": "server_error", "error_description": message}, 500)
    return _json({"error_code": "FAILED", "error_message": message})


_MALFORMED = {"dvcqg": '{"code": "OK", "message": "", "data": {"items": [{"id": "',
              "adapter": '{"error_code": "00", "message": "", "result": [{"MATTHC": ',
              "payment": '{"MaLoi": "00", "MoTaLoi": "Thành công", "MaThamChieu": ',
              "lgsp": '{"access_token": "',
              "paygov": '{"error_code": "SUCCESSFUL", "data": {"url": '}


def fault_response(rule: Rule, upstream: str, state: PortalState, body: Any) -> Response | None:
    """The answer a terminal fault gives instead of the real one."""
    kind, spec = rule.kind, rule.spec
    message = spec["message"] or f"mock_portal fault {rule.name}"
    if kind == "error":
        return _business_error(upstream, message)
    if kind == "http_error":
        return Response(f"<html><body><h1>{spec['status']} Error</h1></body></html>",
                        status=spec["status"], content_type="text/html; charset=utf-8")
    if kind == "rate_limit":
        resp = _json({"message": "Too Many Requests"}, 429)
        resp.headers["Retry-After"] = str(spec["retry_after"])
        return resp
    if kind == "malformed":
        return Response(_MALFORMED[upstream], status=200,
                        content_type="application/json; charset=utf-8")
    if kind == "maintenance":
        return Response(MAINTENANCE_HTML, status=200, content_type="text/html; charset=utf-8")
    if kind == "reset":
        request.environ[RESET_FLAG] = True
        return Response(b"", status=200)
    if kind == "session_expiry":
        if upstream == "adapter":
            if isinstance(body, dict):
                state.revoke(body.get("session"))
            return _json({"error_code": "03", "message": "Phiên làm việc đã hết hạn", "result": []})
        if upstream == "paygov":
            for value in (request.headers.get("Authorization", "").removeprefix("Bearer ").strip(),
                          request.headers.get("lgspaccesstoken", "")):
                state.revoke(value)
            return _json({"error_code": "UNAUTHORIZED", "error_message": "token expired"}, 401)
    return None  # session expiry on an upstream without sessions: answer normally


def _abort_connection(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    handler = environ.get(HANDLER_KEY)
    try:
        # Linger 0: closing sends RST instead of FIN, a real "connection reset by peer".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if handler is not None:
            handler.close_connection = True  # no keep-alive read on the dead socket
            os.close(sock.detach())
        else:
            sock.shutdown(socket.SHUT_RDWR)  # a plain werkzeug server: closed without answer
    except OSError:
        pass


class ResetMiddleware:
    """WSGI middleware: when a `reset` fault fired, drop the connection instead of answering."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        if environ.get(RESET_FLAG):
            if hasattr(result, "close"):
                result.close()
            _abort_connection(environ)
            # werkzeug's server treats ConnectionError as "client went away": no traceback.
            raise ConnectionResetError("connection reset by mock_portal fault")
        return result
