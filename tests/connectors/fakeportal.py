"""A scriptable portal for the connector tests, served by pytest-httpserver.

It answers per shared contract sections 1-4 with its OWN checksum code (a few hashlib lines),
so that a checksum mistake in `connectors` cannot be mirrored here. Faults are scripted per
path: `portal.script(path, fault, fault, ...)` makes the next requests to `path` answer those
faults, in order, before the normal answer resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

UNIT = "000.00.00.H26"
ADAPTER_USER, ADAPTER_PASSWORD = "hanoi", "hanoi-secret"
PARTNER, PAYMENT_SECRET = "HNI", "dvcqg-secret"
PAYGOV_PARTNER, PAYGOV_ACCESS, PAYGOV_SECRET = "HNI", "paygov-access", "paygov-secret"
LGSP_ID, LGSP_SECRET = "tthc", "lgsp-secret"

LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"
DETAIL = "/dvcqg/api/v1/configuring/formality/get-formality-by-citizen"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


def html_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


MAINTENANCE = (
    "<!DOCTYPE html><html><head><title>Bảo trì</title></head><body>"
    "<h1>Hệ thống đang bảo trì</h1><p>Vui lòng quay lại sau.</p></body></html>"
)


# --- scripted faults: callables (request) -> Response | None (None = answer normally) -----------


def status(code: int, retry_after: str | None = None) -> Callable[[Request], Response]:
    def fault(request: Request) -> Response:
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        return json_response({"error": f"HTTP {code}"}, code, headers)

    return fault


def maintenance(request: Request) -> Response:
    """HTTP 200 with an HTML maintenance page."""
    return html_response(MAINTENANCE)


def garbage(request: Request) -> Response:
    """HTTP 200 claiming JSON but sending broken JSON."""
    return Response('{"code": "OK", "data": ', status=200, content_type="application/json")


def slow(seconds: float) -> Callable[[Request], None]:
    """Answer normally, but only after `seconds` (longer than the client's timeout)."""

    def fault(request: Request) -> None:
        time.sleep(seconds)
        return None

    return fault


def gone(code: int = 404) -> Callable[[Request], Response]:
    def fault(request: Request) -> Response:
        return html_response("<html><body>Không tìm thấy trang</body></html>", code)

    return fault


@dataclass
class Procedure:
    code: str
    name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # (unit code, MUCDO) pairs of APDUNGDVC; empty = not integrated anywhere
    units: list[tuple[str, str]] = field(default_factory=list)
    link: str = "works"  # works | 404 | 410 | maintenance
    payment: str | None = None  # DVCQG payment: None = not configured, "ok", "bad_signature", "99"
    paygov: str | None = None  # PayGov: None = not configured, "ok"
    query_state: str = "3"


class FakePortal:
    """All five upstreams on one pytest-httpserver; state guarded by a lock (threaded server)."""

    def __init__(self, server: HTTPServer, *, token_lifetime: int = 3600) -> None:
        self.server = server
        self.base_url = server.url_for("/").rstrip("/")
        self.procedures: dict[str, Procedure] = {}
        self.sessions: set[str] = set()
        self.tokens: set[str] = set()
        self.token_lifetime = token_lifetime
        self.references: dict[str, str] = {}  # MaThamChieu -> procedure code
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.scripts: dict[str, deque[Callable[[Request], Response | None]]] = defaultdict(deque)
        self.journal: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        self.hold = 0.0  # seconds every answer waits (to observe concurrency)
        self.success_code: Any = "00"  # the adapter's and platform's success code ("0", 0...)
        self.session_max_calls: int | None = None  # a session dies after this many calls
        self.session_calls: dict[str, int] = {}
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    # --- world --------------------------------------------------------------------------------

    def add(self, code: str, name: str | None = None, **kwargs: Any) -> Procedure:
        proc = Procedure(code, name or f"Thủ tục {code}", **kwargs)
        self.procedures[code] = proc
        return proc

    def script(self, path: str, *faults: Callable[[Request], Response | None]) -> None:
        with self.lock:
            self.scripts[path].extend(faults)

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.journal if r["path"] == path]

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) if request.is_json else None
        with self.lock:
            self.journal.append(
                {
                    "path": request.path,
                    "method": request.method,
                    "json": body,
                    "form": dict(request.form),
                    "headers": dict(request.headers),
                }
            )
            script = self.scripts.get(request.path)
            fault = script.popleft() if script else None
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.hold:
                time.sleep(self.hold)
            if fault is not None:
                answer = fault(request)
                if answer is not None:
                    return answer
            return self.route(request, body)
        finally:
            with self.lock:
                self.inflight -= 1

    def route(self, request: Request, body: Any) -> Response:
        path = request.path
        if path == LIST:
            return self.catalog_list(body)
        if path == DETAIL:
            proc = next(
                (p for p in self.procedures.values() if p.id == (body or {}).get("id")), None
            )
            if proc is None:
                return json_response(
                    {"code": "NOT_FOUND", "message": "Không tìm thấy", "data": None}
                )
            return json_response(
                {
                    "code": "OK",
                    "message": "",
                    "data": {"id": proc.id, "code": proc.code, "name": proc.name},
                }
            )
        m = re.fullmatch(r"/dvcqg/dich-vu-cong-truc-tuyen/([^/]+)(/nop-ho-so)?", path)
        if m:
            return self.page(unquote(m.group(1)), bool(m.group(2)))
        if path == "/adapter/auth":
            return self.auth(body or {})
        if path in ("/adapter/share", "/adapter/integration"):
            return self.adapter(body or {})
        if path == "/payment/init":
            return self.init(body or {})
        if path == "/payment/query":
            return self.query(body or {})
        if path == "/lgsp/token":
            return self.token(request.form)
        if path == "/paygov/create":
            return self.create(request, body or {})
        return html_response("<html>no such page</html>", 404)

    # --- section 1 ----------------------------------------------------------------------------

    def catalog_list(self, body: Any) -> Response:
        body = body or {}
        q, limit = str(body.get("q", "")), int(body.get("limit", 200))
        items = sorted(
            (p for p in self.procedures.values() if q in p.code or q in p.name), key=lambda p: p.id
        )
        start = str(body.get("lastId") or "")
        if start:
            items = [p for p in items if p.id > start]
        page, more = items[:limit], len(items) > limit
        return json_response(
            {
                "code": "OK",
                "message": "Thành công",
                "data": {
                    "items": [
                        {
                            "id": p.id,
                            "code": p.code,
                            "name": p.name,
                            "type": "STANDARD",
                            "categories": [],
                            "departments": [],
                        }
                        for p in page
                    ],
                    "lastId": page[-1].id if more else "",
                },
            }
        )

    def page(self, code: str, deep: bool) -> Response:
        proc = self.procedures.get(code)
        if proc is None or (deep and proc.link in ("404", "410")):
            status_code = 410 if proc is not None and proc.link == "410" else 404
            return html_response("<html><body>Không tìm thấy</body></html>", status_code)
        if deep and proc.link == "maintenance":
            return html_response(MAINTENANCE)
        title = "Nộp hồ sơ trực tuyến" if deep else proc.name
        return html_response(
            f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            f"<h1>{proc.name}</h1><p>Mã thủ tục: {proc.code}</p></body></html>"
        )

    # --- section 2 ----------------------------------------------------------------------------

    def auth(self, body: dict[str, Any]) -> Response:
        if body.get("username") != ADAPTER_USER or body.get("password") != ADAPTER_PASSWORD:
            return json_response({"error_code": "01", "message": "Sai tài khoản"})
        session = uuid.uuid4().hex
        with self.lock:
            self.sessions.add(session)
        return json_response({"error_code": self.success_code, "session": session})

    def adapter(self, body: dict[str, Any]) -> Response:
        with self.lock:
            session = body.get("session")
            valid = session in self.sessions
            if valid and self.session_max_calls is not None:
                used = self.session_calls[session] = self.session_calls.get(session, 0) + 1
                if used > self.session_max_calls:
                    self.sessions.discard(session)
                    valid = False
        if not valid:
            return json_response({"error_code": "03", "message": "Phiên làm việc hết hạn"})
        if body.get("madonvi") != UNIT:
            return json_response({"error_code": "02", "message": "Sai mã đơn vị"})
        service, code = body.get("service"), body.get("maTTHC")
        proc = self.procedures.get(code) if isinstance(code, str) else None
        if service == "LayDVC":
            if proc is None or not proc.units:
                return json_response({"error_code": self.success_code, "message": "", "result": []})
            return json_response(
                {
                    "error_code": self.success_code,
                    "message": "",
                    "result": [
                        {
                            "MADVC": f"{proc.code}.01",
                            "TENDVC": proc.name,
                            "MATTHC": proc.code,
                            "TENTTHC": proc.name,
                            "TENLINHVUC": "Hộ tịch",
                            "APDUNGDVC": [
                                {"MACOQUANTHUCHIEN": u, "MUCDO": lv} for u, lv in proc.units
                            ],
                        }
                    ],
                }
            )
        if service == "LayThuTuc":
            if proc is None:
                return json_response(
                    {"error_code": "01", "message": "Không tìm thấy", "result": []}
                )
            return json_response(
                {"error_code": self.success_code, "result": [{"MATTHC": proc.code, "TENTTHC": proc.name}]}
            )
        if service == "DongBoHoSoMC":
            with self.lock:
                for dossier in body.get("data") or []:
                    exists = dossier.get("MaHoSo") in self.dossiers
                    if exists and body.get("isUpdating") != "True":
                        return json_response({"error_code": "04", "message": "Hồ sơ đã tồn tại"})
                    self.dossiers[dossier["MaHoSo"]] = dossier
            return json_response({"error_code": self.success_code, "message": "", "result": []})
        if service == "TraCuuHoSo":
            found = self.dossiers.get(body.get("mahoso"))
            return json_response({"error_code": self.success_code, "result": [found] if found else []})
        return json_response({"error_code": "02", "message": "Dịch vụ không hỗ trợ"})

    # --- section 3 ----------------------------------------------------------------------------

    def init(self, body: dict[str, Any]) -> Response:
        names = (
            "LoaiBanTin",
            "PhienBan",
            "MaDoiTac",
            "MaThamChieu",
            "SoTien",
            "LoaiHinhThanhToan",
            "MaKenhThanhToan",
            "MaThietBi",
            "NgonNgu",
            "MaTienTe",
            "MaNganHang",
            "ThongTinGiaoDich",
            "ThoiGianGD",
            "Ip",
        )
        ref = body.get("MaThamChieu", "")
        expected = sha("|".join([str(body.get(n, "")) for n in names] + [PAYMENT_SECRET]))
        if body.get("MaXacThuc") != expected:
            return self.init_answer("01", "Sai mã xác thực", ref, "")
        code = (body.get("ThongTinBienLai") or {}).get("MaTTHC")
        proc = self.procedures.get(code)
        if proc is None or proc.payment is None:
            return self.init_answer("02", "Thủ tục chưa được cấu hình thanh toán", ref, "")
        if proc.payment == "99":
            return self.init_answer("99", "Lỗi khác", ref, "")
        with self.lock:
            if ref in self.references:
                return self.init_answer("99", "MaThamChieu đã tồn tại", ref, "")
            self.references[ref] = proc.code
        url = f"{self.base_url}/payment/pay/{ref}"
        if proc.payment == "bad_signature":
            return json_response(
                {
                    "MaLoi": "00",
                    "MoTaLoi": "Thành công",
                    "UrlThanhToan": url,
                    "MaThamChieu": ref,
                    "MaXacThuc": sha("forged"),
                }
            )
        return self.init_answer("00", "Thành công", ref, url)

    @staticmethod
    def init_answer(code: str, message: str, ref: str, url: str) -> Response:
        return json_response(
            {
                "MaLoi": code,
                "MoTaLoi": message,
                "UrlThanhToan": url,
                "MaThamChieu": ref,
                "MaXacThuc": sha(f"{code}|{ref}|{url}|{PAYMENT_SECRET}"),
            }
        )

    def query(self, body: dict[str, Any]) -> Response:
        names = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
        expected = sha("|".join([str(body.get(n, "")) for n in names] + [PAYMENT_SECRET]))
        ref = body.get("MaThamChieu")
        if body.get("MaXacThuc") != expected:
            return json_response({"MaLoi": "01", "MoTaLoi": "Sai mã xác thực", "MaThamChieu": ref})
        code = self.references.get(ref)
        if code is None:
            return json_response(
                {"MaLoi": "99", "MoTaLoi": "Không tìm thấy giao dịch", "MaThamChieu": ref}
            )
        return json_response(
            {
                "MaLoi": "00",
                "MoTaLoi": "",
                "MaThamChieu": ref,
                "SoTien": "10000",
                "MaGiaoDich": "",
                "TrangThaiGD": self.procedures[code].query_state,
            }
        )

    # --- section 4 ----------------------------------------------------------------------------

    def token(self, form: Any) -> Response:
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != LGSP_ID
            or form.get("client_secret") != LGSP_SECRET
        ):
            return json_response({"error": "invalid_client"}, 401)
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
        return json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "scope": "paygov",
            }
        )

    def create(self, request: Request, body: dict[str, Any]) -> Response:
        bearer = request.headers.get("Authorization", "")
        with self.lock:
            valid = (
                bearer.startswith("Bearer ")
                and bearer[7:] in self.tokens
                and request.headers.get("lgspaccesstoken") == bearer[7:]
            )
        if not valid:
            return json_response({"error": "invalid_token"}, 401)
        expected = sha(
            PAYGOV_SECRET
            + "".join(
                str(body.get(n, ""))
                for n in ("accessKey", "partnerCode", "orderId", "requestCode", "amount")
            )
        )
        if body.get("checksum") != expected:
            return json_response({"error_code": "SIGNATURE_WRONG", "error_message": "Sai checksum"})
        proc = self.procedures.get(body.get("serviceCode"))
        if proc is None or proc.paygov is None:
            return json_response(
                {"error_code": "02", "error_message": "Dịch vụ chưa được cấu hình"}
            )
        if proc.paygov != "ok":
            return json_response({"error_code": proc.paygov, "error_message": "Từ chối"})
        return json_response(
            {
                "error_code": "SUCCESSFUL",
                "data": {"url": f"{self.base_url}/paygov/pay/{body['orderId']}"},
            }
        )
