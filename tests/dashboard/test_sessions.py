"""Sessions and logins (issue 10 item 9): logout revokes server-side, throttled failed logins with a
Vietnamese message, cookie flags; and account management (issue 13 item 2)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from registry import auth
from registry.store import VN_TZ

from .helpers import ADMIN, EDITOR, VIEWER, csrf_of, login


def _cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_logout_stops_working(dash_app):
    client = dash_app.test_client()
    login(client, EDITOR)
    assert "Đăng xuất" in client.get("/").get_data(as_text=True)
    stolen = _cookie(client)
    assert client.post("/logout", data={"csrf_token": csrf_of(client, "/")}).status_code == 302
    thief = dash_app.test_client()
    thief.set_cookie("session", stolen)
    html = thief.get("/").get_data(as_text=True)
    assert "Đăng xuất" not in html and EDITOR.username not in html
    assert thief.get("/procedures/new").status_code == 302  # back to the login page


def test_a_copied_cookie_works_until_logout(dash_app):
    client = dash_app.test_client()
    login(client, EDITOR)
    twin = dash_app.test_client()
    twin.set_cookie("session", _cookie(client))
    assert "Đăng xuất" in twin.get("/").get_data(as_text=True)  # the same session, not yet revoked


def _attempt(client, password: str, username: str = EDITOR.username):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(client)})


def test_failed_logins_are_throttled_per_user_in_vietnamese(dash_app, dash_store):
    client = dash_app.test_client()
    for _ in range(auth.FREE_FAILURES_PER_USER):
        assert _attempt(client, "sai-mat-khau").status_code == 401
    # Even the right password is not checked now.
    resp = _attempt(client, EDITOR.password)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "Đăng nhập sai quá nhiều lần" in resp.get_data(as_text=True)
    # From another address too: the user's count is per user.
    other = dash_app.test_client()
    resp = other.post("/login", data={"username": EDITOR.username, "password": EDITOR.password,
                                      "csrf_token": csrf_of(other)}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert resp.status_code == 429
    # Other users are not locked out by it.
    login(dash_app.test_client(), ADMIN)
    # Once the delay has passed (the last failure moved into the past), the right password works.
    past = (datetime.now(VN_TZ) - timedelta(minutes=5)).isoformat()
    with dash_store.db.conn:
        dash_store.db.conn.execute("UPDATE login_failures SET last_at = ?", [past])
    assert _attempt(client, EDITOR.password).status_code == 302


def test_failed_logins_are_throttled_per_address():
    from registry.store import open_store
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "r.db") as store:
        now = datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)
        for i in range(auth.FREE_FAILURES_PER_ADDRESS):
            out = auth.login(store, f"user{i}", "wrong-password", "203.0.113.5", now=now)
            assert out.principal is None and out.retry_after == 0
        out = auth.login(store, "someone-else", "whatever", "203.0.113.5", now=now + timedelta(seconds=1))
        assert out.retry_after == auth.THROTTLE_BASE_SECONDS - 1
        # The delay doubles with each failure after the free ones.
        store.record_login_failure(["addr:203.0.113.5"], at=now.isoformat(), reset_before="")
        out = auth.login(store, "x", "y", "203.0.113.5", now=now)
        assert out.retry_after == 2 * auth.THROTTLE_BASE_SECONDS
        assert auth.login(store, "x", "y", "203.0.113.6", now=now).retry_after == 0


@pytest.mark.parametrize("base_url, secure", [("http://localhost", False), ("https://localhost", True)])
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(dash_app, base_url, secure):
    client = dash_app.test_client()
    token = csrf_of(client)
    resp = client.post("/login", base_url=base_url, data={"username": EDITOR.username,
                                                          "password": EDITOR.password, "csrf_token": token})
    assert resp.status_code == 302
    header = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert ("Secure" in header) is secure


def test_disabling_an_account_ends_its_sessions_and_re_enabling_needs_a_new_login(dash_app, dash_store):
    client = dash_app.test_client()
    login(client, EDITOR)
    cookie = _cookie(client)
    auth.set_active(dash_store, EDITOR.username, False, actor=ADMIN.username)
    assert "Đăng xuất" not in client.get("/").get_data(as_text=True)
    auth.set_active(dash_store, EDITOR.username, True, actor=ADMIN.username)
    again = dash_app.test_client()
    again.set_cookie("session", cookie)
    assert "Đăng xuất" not in again.get("/").get_data(as_text=True)  # the old session stays dead
    login(again, EDITOR)


def test_a_password_reset_ends_sessions_and_the_new_password_works(dash_app, dash_store):
    client = dash_app.test_client()
    login(client, VIEWER)
    auth.reset_password(dash_store, VIEWER.username, "mot-mat-khau-moi", actor=ADMIN.username)
    assert "Đăng xuất" not in client.get("/").get_data(as_text=True)
    assert _attempt(client, VIEWER.password, VIEWER.username).status_code == 401
    assert _attempt(client, "mot-mat-khau-moi", VIEWER.username).status_code == 302
    accounts = {a["username"]: a for a in auth.list_accounts(dash_store)}
    assert accounts[VIEWER.username]["last_login_at"] is not None
    assert accounts[EDITOR.username]["last_login_at"] is None


# -- account pages (issue 13 item 2) ---------------------------------------------------------
def test_an_officer_changes_their_own_password(dash_app):
    client = dash_app.test_client()
    login(client, EDITOR)
    other_device = dash_app.test_client()
    login(other_device, EDITOR)
    page = client.get("/account/password").get_data(as_text=True)
    assert "Đổi mật khẩu" in page and "Mật khẩu hiện tại" in page
    token = csrf_of(client, "/account/password")
    wrong = client.post("/account/password", data={"current_password": "sai", "new_password": "mat-khau-moi-1",
                                                   "new_password_again": "mat-khau-moi-1", "csrf_token": token})
    assert wrong.status_code == 422 and "Mật khẩu hiện tại không đúng" in wrong.get_data(as_text=True)
    short = client.post("/account/password", data={"current_password": EDITOR.password, "new_password": "ngan",
                                                   "new_password_again": "ngan", "csrf_token": token})
    assert short.status_code == 422 and "ít nhất 8 ký tự" in short.get_data(as_text=True)
    ok = client.post("/account/password", data={"current_password": EDITOR.password,
                                                "new_password": "mat-khau-moi-1",
                                                "new_password_again": "mat-khau-moi-1", "csrf_token": token})
    assert ok.status_code == 302
    assert "Đăng xuất" in client.get("/").get_data(as_text=True)  # this session goes on
    assert "Đăng xuất" not in other_device.get("/").get_data(as_text=True)  # the other one ended
    assert _attempt(dash_app.test_client(), "mat-khau-moi-1").status_code == 302


def test_an_admin_lists_disables_enables_and_resets(dash_app, dash_store):
    login(dash_app.test_client(), EDITOR)
    admin = dash_app.test_client()
    login(admin, ADMIN)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'id="user-tuphap"' in page and "Chưa đăng nhập" in page and "Đang hoạt động" in page
    token = csrf_of(admin, "/admin/users")
    resp = admin.post(f"/admin/users/{EDITOR.username}", data={"action": "disable", "csrf_token": token})
    assert resp.status_code == 302
    assert not dash_store.get_user(EDITOR.username)["active"]
    assert "Đã khóa" in admin.get("/admin/users").get_data(as_text=True)
    assert _attempt(dash_app.test_client(), EDITOR.password).status_code == 401
    admin.post(f"/admin/users/{EDITOR.username}", data={"action": "enable", "csrf_token": token})
    admin.post(f"/admin/users/{EDITOR.username}", data={"action": "reset_password", "new_password": "dat-lai-123",
                                                        "csrf_token": token})
    assert _attempt(dash_app.test_client(), "dat-lai-123").status_code == 302
    actions = [e["action"] for e in dash_store.list_audit(entity="user", key=EDITOR.username, order="asc")]
    assert actions[-3:] == ["disable", "enable", "password"]
    # An admin cannot lock themselves out; others may not use the page at all.
    admin.post(f"/admin/users/{ADMIN.username}", data={"action": "disable", "csrf_token": token})
    assert dash_store.get_user(ADMIN.username)["active"]
    editor = dash_app.test_client()
    login(editor, EDITOR.__class__(EDITOR.username, "dat-lai-123", EDITOR.role, EDITOR.agencies))
    assert editor.get("/admin/users").status_code == 403
    assert editor.post(f"/admin/users/{VIEWER.username}", data={"action": "disable",
                                                                "csrf_token": csrf_of(editor, "/")}).status_code == 403


def test_cli_disable_enable_reset_and_list_last_login(dash_app, dash_store):
    login(dash_app.test_client(), VIEWER)
    runner = dash_app.test_cli_runner()
    listing = runner.invoke(args=["user", "list"]).output
    assert f"{EDITOR.username}\teditor" in listing and "last login never" in listing
    assert "last login 20" in [line for line in listing.splitlines() if line.startswith(VIEWER.username)][0]
    assert runner.invoke(args=["user", "disable", EDITOR.username]).exit_code == 0
    assert not dash_store.get_user(EDITOR.username)["active"]
    assert runner.invoke(args=["user", "enable", EDITOR.username]).exit_code == 0
    out = runner.invoke(args=["user", "reset-password", EDITOR.username, "--password-stdin"], input="mat-khau-cli-1\n")
    assert out.exit_code == 0, out.output
    assert auth.authenticate(dash_store, EDITOR.username, "mat-khau-cli-1") is not None
    missing = runner.invoke(args=["user", "disable", "khong-co"])
    assert missing.exit_code == 1 and "no user named" in missing.output


def test_old_sessions_and_failures_do_not_pile_up_but_last_logins_stay(tmp_path):
    from registry.store import open_store
    with open_store(tmp_path / "r.db") as store:
        old = "2026-01-01T08:00:00+07:00"
        with store.db.conn:
            for i in range(3):
                store.db.conn.execute("INSERT INTO staff_sessions (id_hash, username, created_at, last_seen_at, "
                                      "expires_at) VALUES (?, ?, ?, ?, ?)",
                                      [f"h{i}", "a" if i < 2 else "b", f"2026-01-0{i + 1}T08:00:00+07:00", old, old])
            store.db.conn.execute("INSERT INTO login_failures VALUES ('user:x', 3, ?)", [old])
        store.create_session(id_hash="new", username="a", expires_at="2099-01-01T00:00:00+07:00", address="")
        kept = {r[0] for r in store.db.execute("SELECT id_hash FROM staff_sessions")}
        assert kept == {"h1", "h2", "new"}  # a's oldest went; b's only one stays (its last login)
        assert store.last_logins()["b"] == "2026-01-03T08:00:00+07:00"
        store.record_login_failure(["user:y"], at=datetime.now(VN_TZ).isoformat(),
                                   reset_before=(datetime.now(VN_TZ) - auth.FAILURE_MEMORY).isoformat())
        assert {r[0] for r in store.db.execute("SELECT key FROM login_failures")} == {"user:y"}
