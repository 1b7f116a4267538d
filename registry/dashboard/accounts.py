"""Accounts: an officer changes their own password; admins list users (with their latest sign-in),
disable, re-enable and reset passwords. Rules live in `registry.auth`; these views only call it."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from .. import auth
from ..context import get_store
from ..store import NotFound
from .blueprint import bp
from .security import current_principal, is_admin, login_required, role_required, session_id

# The service's English reasons, as a Vietnamese page says them.
MESSAGES = {
    "the current password is wrong": "Mật khẩu hiện tại không đúng.",
    "the password must have at least 8 characters": "Mật khẩu mới phải có ít nhất 8 ký tự.",
    "the password must have at most 1,024 characters": "Mật khẩu mới quá dài (tối đa 1.024 ký tự).",
    "the new password must differ from the current one": "Mật khẩu mới phải khác mật khẩu hiện tại.",
    "you cannot disable your own account": "Bạn không thể tự khóa tài khoản của chính mình.",
}


def _vi(exc: Exception) -> str:
    return MESSAGES.get(str(exc), "Không thực hiện được thao tác này.")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def account_password() -> Any:
    """Change one's own password (the current one is asked again; other sessions end)."""
    if request.method == "GET":
        return render_template("dashboard/account_password.html", error=None)
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    if new != again:
        return render_template("dashboard/account_password.html",
                               error="Hai lần nhập mật khẩu mới không khớp nhau."), 422
    try:
        auth.change_own_password(get_store(), current_principal(), request.form.get("current_password", ""), new,
                                 keep_session=session_id())
    except auth.AuthError as exc:
        return render_template("dashboard/account_password.html", error=_vi(exc)), 422
    flash("Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã được kết thúc.", "success")
    return redirect(url_for("dashboard.overview"))


@bp.route("/admin/users", methods=["GET"])
@role_required(is_admin)
def admin_users() -> Any:
    """Every account with its role, agencies, state and latest sign-in."""
    return render_template("dashboard/admin_users.html", users=auth.list_accounts(get_store()))


@bp.route("/admin/users/<username>", methods=["POST"])
@role_required(is_admin)
def admin_user_action(username: str) -> Any:
    """Disable, re-enable or reset the password of one account."""
    action, actor, store = request.form.get("action", ""), current_principal().username, get_store()
    try:
        if action == "disable":
            auth.set_active(store, username, False, actor=actor, source="dashboard")
            flash(f"Đã khóa tài khoản {username}; các phiên đăng nhập và mã truy cập API "
                  "của tài khoản này hết hiệu lực.", "success")
        elif action == "enable":
            auth.set_active(store, username, True, actor=actor, source="dashboard")
            flash(f"Đã mở khóa tài khoản {username}.", "success")
        elif action == "reset_password":
            auth.reset_password(store, username, request.form.get("new_password", ""), actor=actor,
                                source="dashboard")
            flash(f"Đã đặt lại mật khẩu cho {username}; tài khoản này phải đăng nhập lại.", "success")
        else:
            abort(400, description="Thao tác không hợp lệ.")
    except NotFound:
        abort(404, description=f"Không có tài khoản {username}.")
    except auth.AuthError as exc:
        flash(_vi(exc), "error")
    return redirect(url_for("dashboard.admin_users"))
