"""The Vietnamese dashboard: server-rendered pages over the registry (issue 6).

Pages: overview (`/`), breakdowns, procedures (list, detail, staff forms), bulk import,
discrepancies and probe runs. Never imports `registry.api` or `registry.cli`.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from ..context import settings
from ..errors import RegistryError
from . import labels
from .blueprint import bp
from .formatting import FILTERS
from .security import (StaffSessionInterface, check_csrf, csrf_token, current_principal, is_admin, is_editor,
                       may_edit)
from . import breakdowns, editing, imports, overview, probes, procedures, staff  # noqa: F401,E402 (routes)
from . import accounts  # noqa: F401,E402 (routes)
from . import federation  # noqa: F401,E402 (routes)
from . import alerts  # noqa: F401,E402 (routes)
from . import dossiers as _dossiers  # noqa: F401,E402 (routes: the "Hồ sơ" page)

# (endpoint, text, endpoints under which the entry is the current page)
NAV = (("dashboard.overview", "Tổng quan", ()),
       ("dashboard.breakdowns_home", "Phân tích", ("dashboard.breakdown",)),
       ("dashboard.procedures", "Thủ tục", ("dashboard.procedure",)),
       ("dashboard.discrepancies", "Sai lệch", ()),
       ("dashboard.probe_runs", "Lượt kiểm tra", ("dashboard.probe_run",)),
       ("dashboard.dossiers_page", "Hồ sơ", ()),
       ("dashboard.federation_page", "Liên thông", ()),
       ("dashboard.alerts_page", "Cảnh báo", ()))
STAFF_NAV = (("dashboard.procedure_new", "Đăng ký thủ tục", ()),
             ("dashboard.import_form", "Nhập tệp", ()),
             ("dashboard.my_procedures", "Thủ tục của tôi", ()))

ERROR_TITLES = {400: "Yêu cầu không hợp lệ", 403: "Không có quyền", 404: "Không tìm thấy",
                405: "Phương thức không được phép", 409: "Xung đột dữ liệu",
                413: "Tệp quá lớn", 500: "Lỗi máy chủ"}


bp.before_request(check_csrf)
for _name, _func in FILTERS.items():
    bp.add_app_template_filter(_func, _name)


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    principal = current_principal()
    nav = list(NAV) + (list(STAFF_NAV) if is_editor(principal) else [])
    return {"principal": principal, "csrf_token": csrf_token, "labels": labels, "nav": nav,
            "is_editor": is_editor, "is_admin": is_admin, "may_edit": may_edit,
            "unit_name": settings()["UNIT_NAME"]}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Errors of dashboard pages as Vietnamese HTML pages with the right status."""
    code = exc.code or 500
    message = exc.description
    if code == 413:
        message = (f"Tệp vượt quá giới hạn {settings()['MAX_UPLOAD_MB']:g} MiB "
                   "(TTHC_MAX_UPLOAD_MB). Không có gì được ghi.")
    elif code in (404, 405) and message and message.startswith(("The requested", "The method")):
        message = None
    return render_template("dashboard/error.html", code=code, title=ERROR_TITLES.get(code, "Lỗi"),
                           message=message), code


@bp.errorhandler(RegistryError)
def _registry_error(exc: RegistryError) -> Any:
    """Errors of the registry's tree as the Vietnamese error page (never the English message)."""
    return render_template("dashboard/error.html", code=exc.status, title=exc.title_vi,
                           message=exc.message_vi), exc.status


def init_app(app: Flask) -> None:
    """Register the dashboard blueprint at `/` (the overview is the home page)."""
    # The session cookie: never readable by scripts, not sent on cross-site posts, Secure over HTTPS.
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.session_interface = StaffSessionInterface()
    app.register_blueprint(bp)
