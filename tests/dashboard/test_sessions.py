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
