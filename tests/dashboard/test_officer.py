"""The IT officer's journey on the dashboard (issue 13 item 2) and the procedure service's rules
as the dashboard applies them (issue 10 items 1 and 5)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from .helpers import ADMIN, EDITOR, VIEWER, csrf_of, login
from .test_staff import OWN, form_of, other_agency_code, own_code

BO_TU_PHAP = Path(__file__).resolve().parents[1] / "data" / "national-catalog" / "danh-sach-tthc-BoTuPhap.xlsx"


def test_my_procedures_lists_only_the_officers_agencies(dash_client, dash_store):
    login(dash_client, EDITOR)
    resp = dash_client.get("/procedures/mine")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Thủ tục của tôi" in html and OWN in html
    codes = re.findall(r'href="/procedures/([0-9.A-Z]+)"', html)
    assert codes
    for code in set(codes):
        assert OWN in dash_store.get_procedure(code)["agencies"]
    _, total = dash_store.list_procedures(filters={"agency": OWN})
    assert f'id="result-count">{total:,}'.replace(",", ".") in html
    assert 'href="/procedures/mine"' in html  # in the navigation after login


def test_my_procedures_needs_a_login(dash_client):
    resp = dash_client.get("/procedures/mine")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_each_row_says_why_it_cannot_be_edited(dash_client, dash_store):
    login(dash_client, EDITOR)
    other = other_agency_code(dash_store)
    html = dash_client.get(f"/procedures?q={other}").get_data(as_text=True)
    assert "Thuộc cơ quan khác (Sở Xây dựng), ngoài phạm vi tài khoản của bạn." in html
    page = dash_client.get(f"/procedures/{other}").get_data(as_text=True)
    assert 'id="not-editable"' in page and "Sở Xây dựng" in page


def test_unassigned_procedure_says_only_an_admin_may_change_it(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    dash_store.update_procedure(code, {"agency": "", "agencies": []}, expected_version=rec["version"],
                                actor="t", source="t")
    login(dash_client, EDITOR)
    html = dash_client.get(f"/procedures?q={code}").get_data(as_text=True)
    assert "chỉ quản trị viên sửa hoặc giao được" in html
    resp = dash_client.get(f"/procedures/{code}/edit")
    assert resp.status_code == 403


def test_403_page_names_the_officers_agencies_and_the_foreign_ones(dash_client, dash_store):
    login(dash_client, EDITOR)
    resp = dash_client.get(f"/procedures/{other_agency_code(dash_store)}/edit")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403
    assert "Bạn không có quyền thay đổi thủ tục của cơ quan: Sở Xây dựng." in html
    assert f"Tài khoản của bạn chỉ được cập nhật thủ tục của: {OWN}." in html


def test_editing_cannot_move_a_procedure_to_another_agency(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    data = form_of(rec, agencies="Sở Xây dựng", csrf_token=csrf_of(dash_client, f"/procedures/{code}/edit"))
    assert dash_client.post(f"/procedures/{code}/edit", data=data).status_code == 403
    assert dash_store.get_procedure(code)["agencies"] == rec["agencies"]


def test_an_edit_form_without_its_version_is_refused_not_applied(dash_client, dash_store):
    """The API needs If-Match; the dashboard now agrees: no version, no write."""
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    data = form_of(rec, name="Tên đổi không có phiên bản", version=None,
                   csrf_token=csrf_of(dash_client, f"/procedures/{code}/edit"))
    resp = dash_client.post(f"/procedures/{code}/edit", data=data)
    assert resp.status_code == 409
    assert "không cho biết bạn đã sửa phiên bản nào" in resp.get_data(as_text=True)
    assert dash_store.get_procedure(code) == rec


def test_retire_asks_for_confirmation_and_a_reason_then_restore(dash_client, dash_store):
    code = own_code(dash_store)
    rec = dash_store.get_procedure(code)
    login(dash_client, EDITOR)
    page = dash_client.get(f"/procedures/{code}").get_data(as_text=True)
    assert f'href="/procedures/{code}/retire"' in page  # a link to the confirmation, not a one-click form
    confirm = dash_client.get(f"/procedures/{code}/retire").get_data(as_text=True)
    assert "Lý do bãi bỏ" in confirm and 'name="confirm"' in confirm
    token = csrf_of(dash_client, f"/procedures/{code}/retire")
    for data in ({"version": rec["version"], "confirm": "1"},
                 {"version": rec["version"], "reason": "Lý do", "confirm": ""},
                 {"version": rec["version"], "reason": "   ", "confirm": "1"}):
        resp = dash_client.post(f"/procedures/{code}/retire", data={**data, "csrf_token": token})
        assert resp.status_code == 422
        assert dash_store.get_procedure(code)["status"] == "active"
    resp = dash_client.post(f"/procedures/{code}/retire", data={
        "version": rec["version"], "reason": "Bãi bỏ theo Quyết định 1/QĐ", "confirm": "1", "csrf_token": token})
    assert resp.status_code == 302
    assert dash_store.get_procedure(code)["status"] == "retired"
    page = dash_client.get(f"/procedures/{code}").get_data(as_text=True)
    assert "Lý do: Bãi bỏ theo Quyết định 1/QĐ" in page and 'id="restore-button"' in page
    version = dash_store.get_procedure(code)["version"]
    resp = dash_client.post(f"/procedures/{code}/restore", data={"version": version, "csrf_token": token})
    assert resp.status_code == 302
    assert dash_store.get_procedure(code)["status"] == "active"
    assert [e["action"] for e in dash_store.history(code)][-2:] == ["retire", "restore"]
    assert "Khôi phục" in dash_client.get(f"/procedures/{code}").get_data(as_text=True)


def test_retire_without_a_version_is_refused(dash_client, dash_store):
    code = own_code(dash_store)
    login(dash_client, EDITOR)
    token = csrf_of(dash_client, f"/procedures/{code}/retire")
    resp = dash_client.post(f"/procedures/{code}/retire", data={"reason": "x", "confirm": "1", "csrf_token": token})
    assert resp.status_code == 302
    assert dash_store.get_procedure(code)["status"] == "active"


def test_viewer_cannot_reach_retire_or_restore(dash_client, dash_store):
    code = own_code(dash_store)
    login(dash_client, VIEWER)
    token = csrf_of(dash_client, "/")
    assert dash_client.get(f"/procedures/{code}/retire").status_code == 403
    assert dash_client.post(f"/procedures/{code}/restore", data={"csrf_token": token}).status_code == 403


def test_import_only_my_agencies_skips_and_counts(dash_client, dash_store):
    login(dash_client, EDITOR)
    token = csrf_of(dash_client, "/imports")
    form = dash_client.get("/imports").get_data(as_text=True)
    assert 'name="only_mine"' in form
    resp = dash_client.post("/imports", data={"csrf_token": token, "only_mine": "1",
                                              "file": (io.BytesIO(BO_TU_PHAP.read_bytes()), BO_TU_PHAP.name)},
                            content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    skipped = int(re.search(r'id="skipped-count">([0-9.]+)<', html).group(1).replace(".", ""))
    assert skipped > 100 and 'id="import-skipped"' in html
    for row in dash_store.all_procedures():
        if dash_store.history(row["code"])[-1]["source"] == "dashboard":
            assert row["agencies"] and set(row["agencies"]) <= {OWN}


def test_admin_sees_unassigned_procedures_to_assign(dash_client, dash_store):
    dash_store.create_procedure({"code": "1.999001", "name": "Chưa giao"}, actor="t", source="t")
    login(dash_client, ADMIN)
    html = dash_client.get("/procedures?unassigned=1").get_data(as_text=True)
    assert "Thủ tục chưa giao cơ quan" in html and "1.999001" in html
    assert re.search(r'id="result-count">1 thủ tục', html)


def test_a_page_number_too_large_is_a_vietnamese_400(dash_client):
    resp = dash_client.get("/procedures?page=99999999999999999999999")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Số trang (page)" in html


def test_hostile_import_files_get_a_page_not_a_500(dash_client):
    login(dash_client, EDITOR)
    token = csrf_of(dash_client, "/imports")
    files = [(b'[{"code": "1.999001", "name": "A", "\\ud800": 1}]', "x.json", 422, "\\ud800"),
             (b"[" * 100_000 + b"]" * 100_000, "deep.json", 400, "nested too deeply"),
             (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "cu.xls", 400, "Excel 97-2003"),
             (b"%PDF-1.7\n", "ds.pdf", 400, "PDF")]
    for data, name, status, words in files:
        resp = dash_client.post("/imports", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                                content_type="multipart/form-data")
        assert resp.status_code == status, name
        assert words in resp.get_data(as_text=True), name
