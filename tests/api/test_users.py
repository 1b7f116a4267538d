"""/api/v1/users: admins list accounts with their latest sign-in, lock, unlock and reset passwords."""
from __future__ import annotations

import pytest

from registry import auth


def test_only_admins_manage_users(api, bearer):
    assert api.get("/api/v1/users").status_code == 401
    for role in ("viewer", "editor"):
        assert api.get("/api/v1/users", headers=bearer(role)).status_code == 403
        assert api.patch("/api/v1/users/reader", json={"active": False}, headers=bearer(role)).status_code == 403


def test_list_lock_unlock_reset(api, bearer, db, tokens):
    listing = api.get("/api/v1/users", headers=bearer("admin")).get_json()
    names = {u["username"]: u for u in listing["items"]}
    editor = "tuphap"
    assert listing["total"] == len(names) and names[editor]["last_login_at"] is None
    assert all("password_hash" not in u for u in listing["items"])
    locked = api.patch(f"/api/v1/users/{editor}", json={"active": False}, headers=bearer("admin"))
    assert locked.status_code == 200 and locked.get_json()["active"] is False
    # Its token stops working at once.
    assert api.get("/api/v1/me", headers=bearer("editor")).status_code == 401
    assert api.patch(f"/api/v1/users/{editor}", json={"active": True}, headers=bearer("admin")).status_code == 200
    assert api.get("/api/v1/me", headers=bearer("editor")).status_code == 200
    reset = api.post(f"/api/v1/users/{editor}/password", json={"password": "mat-khau-api-1"}, headers=bearer("admin"))
    assert reset.status_code == 200
    assert auth.authenticate(db, editor, "mat-khau-api-1") is not None
    actions = [e["action"] for e in db.list_audit(entity="user", key=editor, order="asc")]
    assert actions[-3:] == ["disable", "enable", "password"]
    assert "mat-khau-api-1" not in str(db.list_audit(entity="user", key=editor))


@pytest.mark.parametrize("path, body, status", [
    ("/api/v1/users/khong-co", {"active": False}, 404),
    ("/api/v1/users/khong-co/password", {"password": "mat-khau-dai-1"}, 404),
    ("/api/v1/users/reader", {"active": "no"}, 422),
    ("/api/v1/users/reader", {}, 422),
    ("/api/v1/users/reader/password", {"password": "ngan"}, 422),
])
def test_bad_requests_name_the_problem(api, bearer, path, body, status):
    method = api.post if path.endswith("/password") else api.patch
    resp = method(path, json=body, headers=bearer("admin"))
    assert resp.status_code == status, resp.get_json()
    assert resp.content_type == "application/problem+json"


def test_an_admin_cannot_lock_their_own_account(api, bearer):
    me = api.get("/api/v1/me", headers=bearer("admin")).get_json()["username"]
    resp = api.patch(f"/api/v1/users/{me}", json={"active": False}, headers=bearer("admin"))
    assert resp.status_code == 409 and "your own account" in resp.get_json()["detail"]
