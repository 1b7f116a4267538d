"""Bulk import from the dashboard: all or nothing, every bad row named, the editor's scope enforced."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from registry.store import NotFound

from .helpers import ADMIN, EDITOR, csrf_of, login

DATA = Path(__file__).resolve().parents[1] / "data" / "national-catalog"
HEADER = "code,name,agency,service_level,has_fee,payment_channel\n"


def upload(client, body: bytes, filename: str, dry_run: bool = False):
    data = {"csrf_token": csrf_of(client, "/imports"), "file": (io.BytesIO(body), filename)}
    if dry_run:
        data["dry_run"] = "1"
    return client.post("/imports", data=data, content_type="multipart/form-data")


def test_a_bad_row_is_named_and_nothing_is_written(dash_client, dash_store):
    login(dash_client, EDITOR)
    before = (dash_store.count_procedures(), dash_store.count_audit())
    body = (HEADER + "2.999101,Thủ tục tốt,Sở Tư pháp,3,false,none\n"
            "2.999102,Thủ tục sai mức,Sở Tư pháp,9,false,none\n"
            "bad-code,Mã sai,Sở Tư pháp,2,false,none\n").encode()
    resp = upload(dash_client, body, "tuphap.csv")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Không có dòng nào được ghi" in html
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*) <span', html)
    assert [(int(line), code) for line, code, _ in rows] == [(3, "2.999102"), (4, "bad-code")]
    assert [label for _, _, label in rows] == ["Mức độ DVC trực tuyến", "Mã thủ tục"]
    assert (dash_store.count_procedures(), dash_store.count_audit()) == before
    with pytest.raises(NotFound):
        dash_store.get_procedure("2.999101")


def test_error_report_downloads_as_csv_and_json(dash_client):
    login(dash_client, EDITOR)
    body = (HEADER + "2.999102,Sai,Sở Tư pháp,9,false,none\n").encode()
    html = upload(dash_client, body, "x.csv").get_data(as_text=True)
    links = dict(re.findall(r'href="data:([a-z/]+);charset=utf-8,([^"]+)"', html))
    report = json.loads(unquote(links["application/json"]))
    assert [(e["line"], e["code"], e["field"]) for e in report] == [(2, "2.999102", "service_level")]
    assert unquote(links["text/csv"]).lstrip("\ufeff").splitlines()[0] == "line,code,field,message"


def test_a_good_file_is_imported_and_audited(dash_client, dash_store):
    login(dash_client, EDITOR)
    body = (HEADER + "2.999101,Thủ tục mới một,Sở Tư pháp,4,true,paygov\n"
            "2.999102,Thủ tục mới hai,Sở Tư pháp,2,false,none\n").encode()
    resp = upload(dash_client, body, "tuphap.csv")
    assert resp.status_code == 200
    assert "2 thêm mới" in resp.get_data(as_text=True)
    rec = dash_store.get_procedure("2.999101")
    assert (rec["service_level"], rec["payment_channel"], rec["agency"]) == (4, "paygov", "Sở Tư pháp")
    assert dash_store.history("2.999102")[0]["actor"] == EDITOR.username


def test_dry_run_validates_without_writing(dash_client, dash_store):
    login(dash_client, EDITOR)
    before = dash_store.count_procedures()
    resp = upload(dash_client, (HEADER + "2.999101,Một,Sở Tư pháp,4,false,none\n").encode(), "a.csv",
                  dry_run=True)
    assert resp.status_code == 200 and "chưa ghi" in resp.get_data(as_text=True)
    assert dash_store.count_procedures() == before


def test_rows_of_another_agency_are_refused_for_an_editor(dash_client, dash_store):
    login(dash_client, EDITOR)
    before = dash_store.count_procedures()
    body = (HEADER + "2.999101,Của mình,Sở Tư pháp,4,false,none\n"
            "2.999102,Của người khác,Sở Xây dựng,4,false,none\n").encode()
    resp = upload(dash_client, body, "mixed.csv")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "outside your agencies: Sở Xây dựng" in html and ">3</td>" in html
    assert dash_store.count_procedures() == before


def test_admin_imports_the_national_excel_export_as_it_is(dash_client, dash_store):
    login(dash_client, ADMIN)
    path = DATA / "danh-sach-tthc-BoTuPhap.xlsx"
    resp = upload(dash_client, path.read_bytes(), path.name, dry_run=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)[-2000:]
    assert "Kiểm tra xong" in resp.get_data(as_text=True)


@pytest.mark.parametrize("body,filename", [(b"\x00\x01not a workbook", "x.xlsx"), (b"{broken", "x.json")])
def test_an_unreadable_file_is_a_clear_error(dash_client, dash_store, body, filename):
    login(dash_client, EDITOR)
    before = dash_store.count_procedures()
    resp = upload(dash_client, body, filename)
    assert resp.status_code == 400
    assert "Không đọc được tệp" in resp.get_data(as_text=True)
    assert dash_store.count_procedures() == before


def test_missing_file_is_asked_for(dash_client):
    login(dash_client, EDITOR)
    resp = dash_client.post("/imports", data={"csrf_token": csrf_of(dash_client, "/imports")})
    assert resp.status_code == 400 and "Hãy chọn một tệp" in resp.get_data(as_text=True)


def test_a_file_over_the_limit_is_refused_in_vietnamese(dash_db):
    from registry import create_app
    app = create_app({"DATABASE": str(dash_db), "SECRET_KEY": "t", "TESTING": True, "MAX_UPLOAD_MB": 0.01})
    client = app.test_client()
    login(client, EDITOR)
    resp = upload(client, b"code,name\n" + b"x" * 20000, "big.csv")
    assert resp.status_code == 413
    assert "Tệp vượt quá giới hạn" in resp.get_data(as_text=True)
