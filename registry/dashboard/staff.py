"""Staff sign-in and sign-out (Flask session; the password check is `registry.auth`'s)."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from .. import auth
from ..context import get_store
from .blueprint import bp
from .security import current_principal, safe_next, sign_in, sign_out

MSG_BAD_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng (hoặc tài khoản đã bị khóa)."


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on POST check the password and start a session."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("dashboard/login.html", next_url=next_url, error=None, username="")
    username = request.form.get("username", "")
    principal = auth.authenticate(get_store(), username, request.form.get("password", ""))
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
