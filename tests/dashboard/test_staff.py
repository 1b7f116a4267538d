"""Staff: sign-in, CSRF, and create/edit/retire limited to one's own agencies (server-side)."""
from __future__ import annotations

import re

import pytest

from .helpers import ADMIN, EDITOR, OTHER_EDITOR, VIEWER, Account, csrf_of, login

OWN = "Sở Tư pháp"
NEW = {"code": "2.999001.H26", "name": "Đăng ký thử nghiệm dịch vụ mới", "agency": OWN,
       "field": "Hộ tịch", "issuing_agency": "Bộ Tư pháp", "levels": ["tinh"], "service_level": "4",
       "payment_channel": "none", "dvcqg_integrated": "1", "agencies": ""}


def other_agency_code(store, agency: str = "Sở Xây dựng") -> str:
    rows, _ = store.list_procedures(filters={"agency": agency}, limit=1)
    return rows[0]["code"]


def own_code(store) -> str:
    rows, _ = store.list_procedures(filters={"agency": OWN}, limit=5)
    return next(r["code"] for r in rows if r["agencies"] == [OWN])


def form_of(rec: dict, **changes) -> dict:
    """An edit form as the page would submit it for `rec`, with `changes`."""
    data = {"name": rec["name"], "agency": rec["agency"], "field": rec["field"],
            "issuing_agency": rec["issuing_agency"], "levels": rec["levels"],
            "service_level": str(rec["service_level"]), "payment_channel": rec["payment_channel"],
            "agencies": "\n".join(a for a in rec["agencies"] if a != rec["agency"]),
            "version": str(rec["version"])}
    for flag in ("has_fee", "dvcqg_integrated", "sso"):
        if rec[flag]:
            data[flag] = "1"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# -- signing in ---------------------------------------------------------------------------

def test_login_with_a_wrong_password_is_refused_in_vietnamese(dash_client):
    token = csrf_of(dash_client)
    resp = dash_client.post("/login", data={"username": EDITOR.username, "password": "sai-mat-khau",
                                            "csrf_token": token})
    assert resp.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in resp.get_data(as_text=True)
    assert "Đăng xuất" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("account", [EDITOR, ADMIN, VIEWER], ids=lambda a: a.role)
def test_login_then_logout(dash_client, account: Account):
    login(dash_client, account)
    html = dash_client.get("/").get_data(as_text=True)
    assert account.username in html and "Đăng xuất" in html
    resp = dash_client.post("/logout", data={"csrf_token": csrf_of(dash_client, "/")})
    assert resp.status_code == 302
    assert "Đăng xuất" not in dash_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target,expected", [
    ("/procedures?q=x", "/procedures?q=x"),
    ("//evil.example/steal", "/"),
    ("https://evil.example/", "/"),
])
def test_login_redirects_only_within_the_site(dash_client, target, expected):
    token = csrf_of(dash_client)
    resp = dash_client.post("/login", data={"username": EDITOR.username, "password": EDITOR.password,
                                            "csrf_token": token, "next": target})
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def test_session_ends_when_the_account_is_disabled(dash_client, dash_store):
    login(dash_client, EDITOR)
    with dash_store.db.conn:  # an administrator disables the account (no store method yet)
        dash_store.db.conn.execute("UPDATE users SET active = 0 WHERE username = ?", [EDITOR.username])
    assert "Đăng xuất" not in dash_client.get("/").get_data(as_text=True)
    assert dash_client.get("/procedures/new").status_code == 302


# -- CSRF ----------------------------------------------------------------------------------

POSTS = [("/login", {"username": EDITOR.username, "password": EDITOR.password}),
         ("/logout", {}), ("/procedures/new", NEW), ("/imports", {}), ("/probes", {"kind": "all"})]


@pytest.mark.parametrize("url,data", POSTS, ids=[p[0] for p in POSTS])
@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
def test_every_form_refuses_a_post_without_a_valid_csrf_token(dash_client, dash_store, url, data, token):
    login(dash_client, ADMIN)
    before = dash_store.count_audit()
    payload = dict(data)
    if token:
        payload["csrf_token"] = token
    resp = dash_client.post(url, data=payload)
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True) and "không có gì được lưu" in resp.get_data(as_text=True)
    assert dash_store.count_audit() == before
    assert "Đăng xuất" in dash_client.get("/").get_data(as_text=True)  # still signed in


def test_edit_and_retire_refuse_missing_csrf(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    assert dash_client.post(f"/procedures/{code}/edit", data=form_of(rec, name="X")).status_code == 400
    assert dash_client.post(f"/procedures/{code}/retire", data={"version": rec["version"]}).status_code == 400
    assert dash_store.get_procedure(code) == rec


# -- who sees and may use what ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["/procedures/new", "/imports"])
def test_anonymous_staff_pages_redirect_to_login(dash_client, url):
    resp = dash_client.get(url)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("url", ["/procedures/new", "/imports", "/procedures/1.001193/edit"])
def test_viewer_is_refused_staff_pages(dash_client, url):
    login(dash_client, VIEWER)
    resp = dash_client.get(url)
    assert resp.status_code == 403
    assert "không có quyền" in resp.get_data(as_text=True)


@pytest.mark.parametrize("account", [None, VIEWER], ids=["anonymous", "viewer"])
def test_no_editing_controls_for_readers(dash_client, dash_store, account):
    if account:
        login(dash_client, account)
    code = own_code(dash_store)
    for url in ("/", "/procedures", f"/procedures/{code}"):
        html = dash_client.get(url).get_data(as_text=True)
        for control in ("/procedures/new", "/imports", "/edit", "/retire", "start-sweep"):
            assert control not in html, (url, control)


def test_editor_sees_edit_controls_only_for_own_agency(dash_client, dash_store):
    login(dash_client, EDITOR)
    mine, theirs = own_code(dash_store), other_agency_code(dash_store)
    assert f"/procedures/{mine}/edit" in dash_client.get(f"/procedures/{mine}").get_data(as_text=True)
    other = dash_client.get(f"/procedures/{theirs}").get_data(as_text=True)
    assert "/edit" not in other and "/retire" not in other
    listing = dash_client.get("/procedures?q=" + mine).get_data(as_text=True)
    assert f"/procedures/{mine}/edit" in listing
    listing = dash_client.get("/procedures?agency=Sở Xây dựng").get_data(as_text=True)
    assert "/edit" not in listing
    assert "start-sweep" not in dash_client.get("/probes").get_data(as_text=True)  # admins only


# -- create -------------------------------------------------------------------------------------

def test_editor_registers_a_procedure_and_the_overview_changes(dash_client, dash_store):
    total = dash_store.coverage_rows()
    login(dash_client, EDITOR)
    data = dict(NEW, csrf_token=csrf_of(dash_client, "/procedures/new"))
    resp = dash_client.post("/procedures/new", data=data)
    assert resp.status_code == 302 and resp.headers["Location"] == "/procedures/2.999001.H26"
    rec = dash_store.get_procedure("2.999001.H26")
    assert (rec["name"], rec["agency"], rec["service_level"], rec["dvcqg_integrated"], rec["levels"]) == \
        (NEW["name"], OWN, 4, True, ["tinh"])
    assert [(e["actor"], e["source"], e["action"]) for e in dash_store.history("2.999001.H26")] == \
        [(EDITOR.username, "dashboard", "create")]
    page = dash_client.get("/procedures/2.999001.H26").get_data(as_text=True)
    assert "Đã đăng ký thủ tục 2.999001.H26" in page  # the flash message, once
    html = dash_client.get("/").get_data(as_text=True)
    assert f'id="total-procedures">{len(total) + 1:,}<'.replace(",", ".") in html


def test_editor_cannot_register_for_another_agency_even_by_forging_the_form(dash_client, dash_store):
    login(dash_client, EDITOR)
    before = dash_store.count_procedures()
    data = dict(NEW, agency="Sở Xây dựng", csrf_token=csrf_of(dash_client, "/procedures/new"))
    resp = dash_client.post("/procedures/new", data=data)
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "Bạn không có quyền thay đổi thủ tục của cơ quan: Sở Xây dựng" in html
    assert OWN in html  # names the editor's own scope
    assert dash_store.count_procedures() == before


def test_a_second_agency_outside_the_scope_is_refused(dash_client, dash_store):
    login(dash_client, EDITOR)
    data = dict(NEW, agencies="Sở Xây dựng", csrf_token=csrf_of(dash_client, "/procedures/new"))
    assert dash_client.post("/procedures/new", data=data).status_code == 403


@pytest.mark.parametrize("changes,field,message", [
    ({"code": "1.23"}, "code", "Mã thủ tục phải có dạng"),
    ({"name": "   "}, "name", "Hãy nhập tên thủ tục"),
    ({"service_level": "7"}, "service_level", "Mức độ phải là 1, 2, 3 hoặc 4"),
    ({"payment_channel": "paygov"}, "payment_channel", "không thu phí thì không thể có kênh thanh toán"),
    ({"agency": ""}, "agency", "Hãy chọn cơ quan thực hiện"),
])
def test_invalid_form_shows_vietnamese_field_errors_and_writes_nothing(dash_client, dash_store, changes,
                                                                       field, message):
    login(dash_client, ADMIN)
    before = dash_store.count_procedures()
    data = dict(NEW, **changes, csrf_token=csrf_of(dash_client, "/procedures/new"))
    resp = dash_client.post("/procedures/new", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f'id="err-{field}"' in html and message in html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html)
    assert dash_store.count_procedures() == before


def test_duplicate_code_is_a_clear_conflict(dash_client, dash_store):
    login(dash_client, EDITOR)
    code = own_code(dash_store)
    data = dict(NEW, code=code, csrf_token=csrf_of(dash_client, "/procedures/new"))
    resp = dash_client.post("/procedures/new", data=data)
    assert resp.status_code == 409
    assert f"Đã có thủ tục mã {code}" in resp.get_data(as_text=True)


# -- edit and retire ------------------------------------------------------------------------------

def test_editor_edits_own_procedure(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    data = form_of(rec, service_level="4", csrf_token=csrf_of(dash_client, f"/procedures/{code}/edit"))
    resp = dash_client.post(f"/procedures/{code}/edit", data=data)
    assert resp.status_code == 302
    after = dash_store.get_procedure(code)
    assert after["service_level"] == 4 and after["version"] == rec["version"] + 1
    kept = ("name", "agency", "field", "sso")
    assert {k: after[k] for k in kept} == {k: rec[k] for k in kept}
    entry = dash_store.history(code)[-1]
    assert (entry["actor"], entry["source"], entry["before"]["service_level"]) == \
        (EDITOR.username, "dashboard", rec["service_level"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_editing_another_agencys_procedure_is_refused_with_403(dash_client, dash_store, method):
    code = other_agency_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    if method == "GET":
        resp = dash_client.get(f"/procedures/{code}/edit")
    else:
        data = form_of(rec, agency=OWN, name="Chiếm quyền", csrf_token=csrf_of(dash_client, "/"))
        resp = dash_client.post(f"/procedures/{code}/edit", data=data)
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "Bạn không có quyền thay đổi thủ tục của cơ quan: Sở Xây dựng" in html
    assert dash_store.get_procedure(code) == rec


def test_editor_cannot_move_own_procedure_to_another_agency(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    data = form_of(rec, agency="Sở Xây dựng", csrf_token=csrf_of(dash_client, "/"))
    assert dash_client.post(f"/procedures/{code}/edit", data=data).status_code == 403
    assert dash_store.get_procedure(code) == rec


def test_admin_may_edit_any_agency(dash_client, dash_store):
    code = other_agency_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, ADMIN)
    data = form_of(rec, sso=None if rec["sso"] else "1", csrf_token=csrf_of(dash_client, "/"))
    assert dash_client.post(f"/procedures/{code}/edit", data=data).status_code == 302
    assert dash_store.get_procedure(code)["sso"] is (not rec["sso"])


def test_stale_version_is_refused_and_nothing_lost(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    token = csrf_of(dash_client, "/")
    # Someone else saves first.
    dash_store.update_procedure(code, {"field": "Khác"}, expected_version=rec["version"], actor=ADMIN.username,
                                source="api")
    resp = dash_client.post(f"/procedures/{code}/edit", data=form_of(rec, name="Tên mới", csrf_token=token))
    assert resp.status_code == 409
    assert "vừa được người khác sửa" in resp.get_data(as_text=True)
    after = dash_store.get_procedure(code)
    assert (after["name"], after["field"]) == (rec["name"], "Khác")


def test_editor_retires_own_procedure_and_the_overview_drops_it(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    total = len(dash_store.coverage_rows())
    login(dash_client, EDITOR)
    resp = dash_client.post(f"/procedures/{code}/retire",
                            data={"version": rec["version"], "csrf_token": csrf_of(dash_client, "/"),
                                  "reason": "Bãi bỏ theo quyết định mới", "confirm": "1"})
    assert resp.status_code == 302
    assert dash_store.get_procedure(code)["status"] == "retired"
    html = dash_client.get("/").get_data(as_text=True)
    assert f'id="total-procedures">{total - 1:,}<'.replace(",", ".") in html
    assert dash_store.history(code)[-1]["action"] == "retire"
    assert dash_store.history(code)[-1]["reason"] == "Bãi bỏ theo quyết định mới"


def test_retiring_another_agencys_procedure_is_refused(dash_client, dash_store):
    code = other_agency_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    resp = dash_client.post(f"/procedures/{code}/retire",
                            data={"version": rec["version"], "csrf_token": csrf_of(dash_client, "/")})
    assert resp.status_code == 403
    assert dash_store.get_procedure(code)["status"] == "active"


def test_scope_is_per_editor(dash_client, dash_store):
    mine, theirs = own_code(dash_store), other_agency_code(dash_store)
    login(dash_client, OTHER_EDITOR)
    assert dash_client.get(f"/procedures/{theirs}/edit").status_code == 200
    assert dash_client.get(f"/procedures/{mine}/edit").status_code == 403
