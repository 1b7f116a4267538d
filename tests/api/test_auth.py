"""Tokens, roles and agency scope: 401/403 on every write, the CLI, hashing at rest."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import openpyxl
import pytest

from registry import auth
from registry.store import VN_TZ

from .conftest import BUILDING, JUSTICE, USERS, single_agency

PROBLEM = "application/problem+json"

# Every write operation: (method, path template, JSON body or None). {code} is a procedure of
# the editor's agency.
WRITES = [
    ("post", "/api/v1/procedures", {"code": "1.001193.H26", "name": "x", "agency": JUSTICE}),
    ("patch", "/api/v1/procedures/{code}", {"sso": True}),
    ("put", "/api/v1/procedures/{code}", {"name": "x", "agency": JUSTICE}),
    ("delete", "/api/v1/procedures/{code}", None),
    ("post", "/api/v1/procedures/{code}/retire", None),
    ("post", "/api/v1/imports", None),
    (
        "post",
        "/api/v1/targets",
        {"indicator": "online_rate", "percent": 90, "due": "2030-12-31", "source": "x"},
    ),
    ("put", "/api/v1/targets", {"items": []}),
    ("delete", "/api/v1/targets/1", None),
]


def _call(client, method, path, body, headers):
    kwargs = {"headers": {"If-Match": "*", **headers}}
    if body is not None:
        kwargs["json"] = body
    return getattr(client, method)(path, **kwargs)


@pytest.fixture
def justice(fixture_records):
    return single_agency(fixture_records, JUSTICE)


@pytest.mark.parametrize("method, path, body", WRITES)
@pytest.mark.parametrize(
    "authorization, error",
    [
        (None, None),
        ("Basic cm9vdDpyb290", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer tthc_not-a-real-token", "invalid_token"),
        ("Bearer something-else", "invalid_token"),
    ],
)
def test_writes_without_a_valid_token_are_401(
    api, db, justice, method, path, body, authorization, error
):
    headers = {"Authorization": authorization} if authorization else {}
    audit_before = db.count_audit()
    resp = _call(api, method, path.format(code=justice["code"]), body, headers)
    assert resp.status_code == 401 and resp.mimetype == PROBLEM
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert (f'error="{error}"' in challenge) if error else "error=" not in challenge
    assert db.count_audit() == audit_before


@pytest.mark.parametrize("method, path, body", WRITES)
def test_viewers_cannot_write(api, bearer, db, justice, method, path, body):
    resp = _call(api, method, path.format(code=justice["code"]), body, bearer("viewer"))
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert db.get_procedure(justice["code"])["version"] == 1


@pytest.mark.parametrize("method, path, body", [w for w in WRITES if "targets" in w[1]])
def test_only_admins_change_targets(api, bearer, method, path, body):
    assert _call(api, method, path, body, bearer("editor")).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/procedures",
        "/api/v1/procedures/1.000005",
        "/api/v1/coverage",
        "/api/v1/targets",
        "/api/v1/audit",
        "/api/v1/openapi.json",
    ],
)
def test_reads_are_public(api, path):
    assert api.get(path).status_code == 200


# -- scope ---------------------------------------------------------------------------
def test_editor_of_one_agency_cannot_touch_another_agencys_procedure(
    api, bearer, db, fixture_records
):
    other = single_agency(fixture_records, BUILDING)
    url = f"/api/v1/procedures/{other['code']}"
    headers = bearer("editor", **{"If-Match": '"1"'})
    for resp in (
        api.patch(url, json={"sso": True}, headers=headers),
        api.put(url, json={"name": "x", "agency": JUSTICE}, headers=headers),
        api.delete(url, headers=headers),
        api.post(url + "/retire", headers=headers),
    ):
        assert resp.status_code == 403 and resp.mimetype == PROBLEM
        assert BUILDING in resp.json["detail"]
    create = api.post(
        "/api/v1/procedures",
        json={"code": "1.001193.H26", "name": "x", "agency": BUILDING},
        headers=bearer("editor"),
    )
    assert create.status_code == 403
    assert db.get_procedure(other["code"]) == {**db.get_procedure(other["code"]), "version": 1}
    assert db.procedures_by_code(["1.001193.H26"]) == []
    # The editor of that agency may.
    ok = api.patch(url, json={"sso": True}, headers=bearer("other_editor", **{"If-Match": '"1"'}))
    assert ok.status_code == 200


def test_editor_cannot_move_a_procedure_out_of_scope(api, bearer, db, justice):
    resp = api.patch(
        f"/api/v1/procedures/{justice['code']}",
        json={"agency": BUILDING, "agencies": [BUILDING]},
        headers=bearer("editor", **{"If-Match": '"1"'}),
    )
    assert resp.status_code == 403
    assert db.get_procedure(justice["code"])["agency"] == JUSTICE


def test_editor_cannot_create_without_an_agency(api, bearer):
    resp = api.post(
        "/api/v1/procedures", json={"code": "1.001193.H26", "name": "x"}, headers=bearer("editor")
    )
    assert resp.status_code == 403


def test_scope_is_checked_before_if_match(api, bearer, fixture_records):
    other = single_agency(fixture_records, BUILDING)
    resp = api.patch(
        f"/api/v1/procedures/{other['code']}", json={"sso": True}, headers=bearer("editor")
    )
    assert resp.status_code == 403


def test_admin_may_change_any_agency(api, bearer, fixture_records):
    other = single_agency(fixture_records, BUILDING)
    resp = api.patch(
        f"/api/v1/procedures/{other['code']}",
        json={"sso": True},
        headers=bearer("admin", **{"If-Match": '"1"'}),
    )
    assert resp.status_code == 200


# -- tokens: expiry, revocation, last use ---------------------------------------------
def test_expired_token_is_401(api, db, justice):
    token, rec = auth.issue_token(db, "tuphap", expires_days=1, actor="t")
    past = (datetime.now(VN_TZ) - timedelta(minutes=1)).isoformat()
    db.db.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", [past, rec["id"]])
    resp = api.patch(
        f"/api/v1/procedures/{justice['code']}",
        json={"sso": True},
        headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'},
    )
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_revoked_token_is_401(api, db, tokens):
    headers = {"Authorization": f"Bearer {tokens['editor']}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    [rec] = db.list_tokens("tuphap")
    db.revoke_token(rec["id"], actor="t", source="t")
    assert api.get("/api/v1/me", headers=headers).status_code == 401


def test_last_use_is_recorded(api, db, tokens):
    [rec] = db.list_tokens("reader")
    assert rec["last_used_at"] is None
    before = datetime.now(VN_TZ)
    api.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['viewer']}"})
    [rec] = db.list_tokens("reader")
    assert datetime.fromisoformat(rec["last_used_at"]) >= before


@pytest.mark.parametrize("role", list(USERS))
def test_me_shows_the_principal(api, bearer, role):
    user = USERS[role]
    assert api.get("/api/v1/me", headers=bearer(role)).json == {
        "username": user.username,
        "role": user.role,
        "agencies": list(user.agencies),
    }


def test_tokens_and_passwords_are_hashed_at_rest(db, tokens):
    stored = db.db.execute("SELECT token_hash FROM tokens").fetchall()
    assert all(t not in str(stored) for t in tokens.values())
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for (h,) in stored)
    [(pw_hash,)] = db.db.execute(
        "SELECT password_hash FROM users WHERE username = 'root'"
    ).fetchall()
    assert "root-password" not in pw_hash and pw_hash.startswith("scrypt:")


def test_token_hash_is_sha256():
    # printf 'tthc_example-token' | sha256sum
    assert (
        auth.hash_token("tthc_example-token")
        == "24b504058707aa7afc9e6a633f73ee1f61928ca780e14d498ae450be7bfed119"
    )


# -- the functions the dashboard shares ------------------------------------------------
@pytest.mark.parametrize(
    "username, password, ok",
    [
        ("root", "root-password", True),
        ("root", "wrong-password", False),
        ("nobody", "root-password", False),
        ("root", "", False),
    ],
)
def test_authenticate(db, username, password, ok):
    principal = auth.authenticate(db, username, password)
    assert (principal is not None) is ok
    if ok:
        assert principal.role == "admin"


@pytest.mark.parametrize(
    "role, scope, agencies, allowed",
    [
        ("admin", (), [BUILDING], True),
        ("editor", (JUSTICE,), [JUSTICE], True),
        ("editor", (JUSTICE,), [JUSTICE, BUILDING], False),
        ("editor", (JUSTICE, BUILDING), [JUSTICE, BUILDING], True),
        ("editor", (JUSTICE,), [], False),
        ("viewer", (), [JUSTICE], False),
    ],
)
def test_can_edit(role, scope, agencies, allowed):
    assert auth.can_edit(auth.Principal("u", role, scope), agencies) is allowed


def test_principal_for_token(db, tokens):
    assert auth.principal_for_token(db, tokens["editor"]) == auth.Principal(
        "tuphap", "editor", (JUSTICE,), db.list_tokens("tuphap")[0]["id"]
    )
    assert auth.principal_for_token(db, tokens["editor"] + "x") is None
    assert auth.principal_for_token(db, "") is None


# -- CLI -----------------------------------------------------------------------------------
def test_cli_user_and_token_lifecycle(api_app, api, db):
    runner = api_app.test_cli_runner()
    out = runner.invoke(
        args=["user", "add", "nam", "--role", "editor", "--agency", JUSTICE, "--password-stdin"],
        input="a-long-password\n",
    )
    assert out.exit_code == 0, out.output
    assert auth.authenticate(db, "nam", "a-long-password").agencies == (JUSTICE,)
    listing = runner.invoke(args=["user", "list"])
    assert re.search(rf"^nam\teditor\t{JUSTICE}\tlast login never$", listing.output, re.M)

    created = runner.invoke(
        args=["token", "create", "nam", "--name", "laptop", "--expires-days", "30"]
    )
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert re.fullmatch(r"tthc_[A-Za-z0-9_-]{43}", token)
    assert (
        api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json["username"]
        == "nam"
    )

    tokens = runner.invoke(args=["token", "list", "--user", "nam"])
    assert "laptop" in tokens.output and token not in tokens.output
    token_id = db.list_tokens("nam")[0]["id"]
    revoked = runner.invoke(args=["token", "revoke", str(token_id)])
    assert revoked.exit_code == 0
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert [e["action"] for e in db.list_audit(entity="token", key=str(token_id), order="asc")] == [
        "create",
        "revoke",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["user", "add", "x", "--role", "editor", "--password", "long-enough"],
            "at least one agency",
        ),
        (
            [
                "user",
                "add",
                "x",
                "--role",
                "admin",
                "--agency",
                JUSTICE,
                "--password",
                "long-enough",
            ],
            "only editors",
        ),
        (["user", "add", "x", "--role", "viewer", "--password", "short"], "at least 8"),
        (
            ["user", "add", "root", "--role", "viewer", "--password", "long-enough"],
            "already exists",
        ),
        (["user", "add", "x", "--role", "boss", "--password", "long-enough"], "boss"),
        (["token", "create", "nobody"], "no user"),
        (["token", "create", "root", "--expires-days", "0"], "0"),
        (["token", "revoke", "999"], "no token"),
    ],
)
def test_cli_refusals(api_app, args, message):
    out = api_app.test_cli_runner().invoke(args=args)
    assert out.exit_code != 0 and message in out.output


def test_imports_need_a_token_too(api):
    buf = io.BytesIO()
    openpyxl.Workbook().save(buf)
    resp = api.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(buf.getvalue()), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 401
