"""Staff sign-in and sign-out (Flask session; the password check is `registry.auth`'s)."""
from __future__ import annotations

from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for

from .. import auth
from ..context import get_store
from .blueprint import bp
from .security import current_principal, safe_next, sign_in, sign_out

MSG_BAD_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng (hoặc tài khoản đã bị khóa)."
MSG_THROTTLED = ("Đăng nhập sai quá nhiều lần. Để bảo vệ tài khoản, vui lòng thử lại sau {wait}. "
                 "Mỗi lần sai tiếp theo, thời gian chờ sẽ tăng gấp đôi.")


def _vn_wait(seconds: int) -> str:
    """"45 giây", "2 phút 30 giây"."""
    minutes, secs = divmod(int(seconds), 60)
    if not minutes:
        return f"{secs} giây"
    return f"{minutes} phút" + (f" {secs} giây" if secs else "")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on POST check the password and start a session."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("dashboard/login.html", next_url=next_url, error=None, username="")
    username = request.form.get("username", "")
    outcome = auth.login(get_store(), username, request.form.get("password", ""), request.remote_addr or "")
    if outcome.retry_after:
        resp = make_response(render_template(
            "dashboard/login.html", next_url=next_url, username=username,
            error=MSG_THROTTLED.format(wait=_vn_wait(outcome.retry_after))), 429)
        resp.headers["Retry-After"] = str(outcome.retry_after)
        return resp
    principal = outcome.principal
    if principal is None:
        return render_template("dashboard/login.html", next_url=next_url, error=MSG_BAD_LOGIN,
                               username=username), 401
    sign_in(principal)
    flash(f"Xin chào {principal.username}. Bạn đã đăng nhập.", "success")
    return redirect(next_url or url_for("dashboard.overview"))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session (POST with a CSRF token, so a link elsewhere cannot sign anyone out)."""
    was = current_principal()
    sign_out()
    if was is not None:
        flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("dashboard.overview"))
