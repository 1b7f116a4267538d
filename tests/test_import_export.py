"""Import of the national Excel export, CSV, JSON and JSONL; all-or-nothing; export round-trip."""
from __future__ import annotations

import json

import pytest

from registry import exporter, importer
from registry.schemas import DEFAULTS

from .conftest import DATA

# Data rows in each real export, counted by hand in a spreadsheet viewer (title + header excluded).
NATIONAL = {
    "danh-sach-tthc-BoCongAn.xlsx": 339,
    "danh-sach-tthc-BoTaiChinh.xlsx": 706,
    "danh-sach-tthc-BoTuPhap.xlsx": 271,
    "danh-sach-tthc-BoXayDung.xlsx": 525,
    "danh-sach-tthc-NganhangNhanuocVietNam.xlsx": 261,
    "danh-sach-tthc-NongNghiepvaMoiTruong.xlsx": 537,
    "toa-an-nhan-dan.xlsx": 3,
}


@pytest.mark.parametrize("name, count", sorted(NATIONAL.items()))
def test_national_excel_exports_import_whole(runner, store, name, count):
    result = runner.invoke(args=["import", str(DATA / "national-catalog" / name)])
    assert result.exit_code == 0, result.output
    assert f"{count} inserted" in result.output
    assert store.count_procedures() == count


def test_excel_cell_with_several_agencies(store):
    parsed = importer.parse((DATA / "national-catalog" / "toa-an-nhan-dan.xlsx").read_bytes(), "x.xlsx")
    row = next(r for r in parsed.rows if r["code"] == "3.000163")
    assert row["agencies"] == [
        "Tòa án nhân dân cấp cao", "Tòa án nhân dân tỉnh, thành phố trực thuộc trung ương",
        "Tòa án nhân dân cấp huyện, quận, thị xã, thành phố thuộc tỉnh và tương đương",
        "Tòa án nhân dân khu vực"]
    assert row["agency"] == "Tòa án nhân dân cấp cao"


def test_header_is_found_by_label_not_position(tmp_path, runner, store):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Danh sách"])
    ws.append([])
    ws.append(["Lĩnh vực", "Ghi chú", "Tên", "Mã số"])
    ws.append(["Hộ tịch", "bỏ qua", "  Đăng  ký khai sinh ", "1.001193 "])
    wb.save(tmp_path / "moved.xlsx")
    result = runner.invoke(args=["import", str(tmp_path / "moved.xlsx")])
    assert result.exit_code == 0, result.output
    assert store.get_procedure("1.001193")["name"] == "Đăng ký khai sinh"
    assert store.get_procedure("1.001193")["field"] == "Hộ tịch"


GOOD_CSV = ("code,name,field,service_level,has_fee,payment_channel\n"
            "1.000001,Thủ tục một,Hộ tịch,3,true,paygov\n"
            "1.000002,Thủ tục hai,Đất đai,4,false,none\n")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("sep", [",", ";"])
def test_csv_with_or_without_bom_comma_or_semicolon(tmp_path, runner, store, bom, sep):
    path = tmp_path / "p.csv"
    path.write_bytes(bom + GOOD_CSV.replace(",", sep).encode("utf-8"))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    rec = store.get_procedure("1.000001")
    assert (rec["name"], rec["service_level"], rec["payment_channel"]) == ("Thủ tục một", 3, "paygov")


def test_one_bad_row_writes_nothing_and_every_bad_row_is_named(tmp_path, runner, store):
    path = tmp_path / "bad.csv"
    path.write_text(GOOD_CSV + "1.00003,Mã sai,Hộ tịch,3,false,none\n"
                    "1.000004,Mức sai,Hộ tịch,7,false,none\n"
                    "1.000001,Trùng mã,Hộ tịch,3,false,none\n", "utf-8")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "line 4" in result.output and "code" in result.output
    assert "line 5 (1.000004): service_level" in result.output
    assert "line 6 (1.000001): code: duplicate code" in result.output
    assert store.count_procedures() == 0 and store.count_audit() == 0


def test_bad_import_keeps_what_was_stored(tmp_path, runner, store):
    (tmp_path / "good.csv").write_text(GOOD_CSV, "utf-8")
    assert runner.invoke(args=["import", str(tmp_path / "good.csv")]).exit_code == 0
    (tmp_path / "bad.csv").write_text(GOOD_CSV.replace("Thủ tục hai", "Đổi tên").replace(",4,", ",x,"),
                                      "utf-8")
    assert runner.invoke(args=["import", str(tmp_path / "bad.csv")]).exit_code != 0
    assert store.get_procedure("1.000002")["name"] == "Thủ tục hai"


def test_dry_run_validates_only(tmp_path, runner, store):
    (tmp_path / "good.csv").write_text(GOOD_CSV, "utf-8")
    result = runner.invoke(args=["import", "--dry-run", str(tmp_path / "good.csv")])
    assert result.exit_code == 0 and "2 inserted" in result.output
    assert store.count_procedures() == 0


def test_reimport_reports_inserted_updated_unchanged_and_audits(tmp_path, runner, store):
    (tmp_path / "a.csv").write_text(GOOD_CSV, "utf-8")
    runner.invoke(args=["import", str(tmp_path / "a.csv")])
    (tmp_path / "b.csv").write_text(GOOD_CSV.replace("Thủ tục hai", "Thủ tục hai (sửa)")
                                    + "1.000003,Thủ tục ba,Hộ tịch,2,false,none\n", "utf-8")
    result = runner.invoke(args=["import", "--json", str(tmp_path / "b.csv")])
    report = json.loads(result.output)
    assert (report["inserted"], report["updated"], report["unchanged"]) == (1, 1, 1)
    last = store.list_audit(key="1.000002")[0]
    assert last["action"] == "update" and last["after"]["name"] == "Thủ tục hai (sửa)"
    assert store.get_procedure("1.000002")["version"] == 2


def test_absent_columns_keep_stored_values(tmp_path, runner, store):
    (tmp_path / "a.csv").write_text(GOOD_CSV, "utf-8")
    runner.invoke(args=["import", str(tmp_path / "a.csv")])
    (tmp_path / "names.csv").write_text("code,name\n1.000001,Thủ tục một\n", "utf-8")
    result = runner.invoke(args=["import", str(tmp_path / "names.csv")])
    assert "1 unchanged" in result.output
    assert store.get_procedure("1.000001")["service_level"] == 3


@pytest.mark.parametrize("body, fmt", [
    (b'[{"code": "1.000001", "name": "A", "sso": true}]', "json"),
    (b'{"procedures": [{"code": "1.000001", "name": "A", "sso": true}]}', "json"),
    (b'{"code": "1.000001", "name": "A", "sso": true}\n\n', "jsonl"),
])
def test_json_and_jsonl(tmp_path, runner, store, body, fmt):
    path = tmp_path / f"p.{fmt}"
    path.write_bytes(body)
    assert runner.invoke(args=["import", str(path)]).exit_code == 0
    assert store.get_procedure("1.000001")["sso"] is True


@pytest.mark.parametrize("body, field", [
    (b'{"code": "1.000001", "name": "A"}\nnot json\n', "_row"),
    (b'{"code": "1.000001", "name": "A", "colour": "red"}\n', "colour"),
    (b'{"code": "1.000001"}\n', "name"),
    (b'{"code": "1.000001", "name": "A\\ud800"}\n', "name"),
    (b'{"code": "1.00000\\ud800", "name": "A"}\n', "code"),
])
def test_bad_jsonl_rows_are_reported(tmp_path, runner, store, body, field):
    path = tmp_path / "p.jsonl"
    path.write_bytes(body)
    result = runner.invoke(args=["import", "--json", str(path)])
    assert result.exit_code == 1
    assert field in [e["field"] for e in json.loads(result.output)["errors"]]
    assert store.count_procedures() == 0


@pytest.mark.parametrize("fmt", exporter.FORMATS)
def test_export_round_trips_unchanged(tmp_path, runner, store, fmt):
    src = DATA / "national-catalog" / "toa-an-nhan-dan.xlsx"
    runner.invoke(args=["import", str(src)])
    runner.invoke(args=["import", str(tmp_path / "x")])  # nothing: path missing, exit 2
    store.update_procedure("3.000164", {"service_level": 4, "has_fee": True, "payment_channel": "paygov",
                                        "levels": ["tinh", "huyen"]}, expected_version=1, actor="t",
                           source="cli")
    before = store.all_procedures()
    out = tmp_path / f"all.{fmt}"
    assert runner.invoke(args=["export", "--format", fmt, "-o", str(out)]).exit_code == 0
    result = runner.invoke(args=["import", "--json", str(out)])
    report = json.loads(result.output)
    assert (report["inserted"], report["updated"], report["unchanged"]) == (0, 0, 3)
    parsed = importer.parse(out.read_bytes(), out.name)
    fresh = {r["code"]: r for r in parsed.rows}
    for rec in before:
        for key in ("name", "agencies", "levels", "service_level", "has_fee", "payment_channel"):
            # an empty cell is left out of the row (it keeps the stored value; a new row's default)
            assert fresh[rec["code"]].get(key, DEFAULTS.get(key)) == rec[key]


def test_unreadable_file_is_a_clear_error(tmp_path, runner):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a spreadsheet")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "not a readable .xlsx" in result.output


def test_large_reimport_updates_in_batches(store):
    """Over 1,000 rows (the statement batch size): every update lands, audited, searchable."""
    rows = [{"code": f"1.{i:06d}", "name": f"Thủ tục số {i}", "agency": "Sở A", "service_level": 3}
            for i in range(2500)]
    assert len(store.apply_import(rows, actor="t", source="import")["inserted"]) == 2500
    changed = [{**r, "name": f"Đăng ký mới {i}"} if i % 2 else r for i, r in enumerate(rows)]
    outcome = store.apply_import(changed, actor="t", source="import")
    assert (len(outcome["updated"]), len(outcome["unchanged"])) == (1250, 1250)
    assert store.get_procedure("1.001999")["name"] == "Đăng ký mới 1999"
    assert store.get_procedure("1.001999")["version"] == 2
    assert store.get_procedure("1.002000")["version"] == 1
    [entry] = [e for e in store.history("1.002499") if e["action"] == "update"]
    assert entry["before"]["name"] == "Thủ tục số 2499" and entry["after"]["name"] == "Đăng ký mới 2499"
    assert entry["after"]["version"] == 2
    assert store.list_procedures(q="dang ky moi 2499")[1] == 1
    assert store.list_procedures(q="thu tuc so 2499")[1] == 0  # the old name left the index
    assert store.db.execute("INSERT INTO procedures_fts(procedures_fts) VALUES ('integrity-check')")
