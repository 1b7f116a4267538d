"""Imports never lose or invent data (issue 10 item 4), and no import input gives a crash (item 5)."""
from __future__ import annotations

import io
import json
import re
import struct
import zipfile

import openpyxl
import pytest

from registry import auth, importer, xlsx
from registry.imports import run_import
from registry.store import open_store

from .conftest import DATA

BO_TU_PHAP = DATA / "national-catalog" / "danh-sach-tthc-BoTuPhap.xlsx"
JUSTICE = "Sở Tư pháp"


def _xlsx(rows: list[list], title: bool = True) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append(["DANH SÁCH THỦ TỤC HÀNH CHÍNH"])
    ws.append(["Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The same xlsx with some members' bytes replaced."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, replace.get(item.filename, src.read(item.filename)))
        assert set(replace) <= set(src.namelist())
    return out.getvalue()


# -- a blank cell never erases a stored value ----------------------------------------------------
def test_real_bo_tu_phap_file_over_the_fixture_keeps_every_agency(hanoi_store):
    data = BO_TU_PHAP.read_bytes()
    parsed = importer.parse(data, BO_TU_PHAP.name)
    blank = [r["code"] for r in parsed.rows if "agency" not in r]
    before = {r["code"]: r for r in hanoi_store.procedures_by_code(blank)}
    assert len(before) == 71 and all(r["agency"] for r in before.values())  # the defect's 71
    dry = run_import(hanoi_store, data, BO_TU_PHAP.name, actor="t", dry_run=True)
    assert dry.ok and dry.blanks_kept["agencies"] == 71
    report = run_import(hanoi_store, data, BO_TU_PHAP.name, actor="t")
    assert report.written and report.blanks_kept["agencies"] == 71
    after = {r["code"]: r for r in hanoi_store.procedures_by_code(blank)}
    assert {c: (r["agency"], r["agencies"]) for c, r in after.items()} == \
        {c: (r["agency"], r["agencies"]) for c, r in before.items()}
    # and the report says so in every interface: as JSON
    assert report.to_dict()["blanks_kept"]["agencies"] == 71


def test_blank_csv_cells_keep_stored_values_and_are_counted(store):
    store.create_procedure({"code": "1.000001", "name": "Một", "agency": "Sở A", "field": "Hộ tịch"},
                           actor="t", source="t")
    csv_text = "code,name,agency,field\n1.000001,,,Đất đai\n"
    report = run_import(store, csv_text.encode(), "x.csv", actor="t")
    assert report.ok, report.errors
    rec = store.get_procedure("1.000001")
    assert (rec["name"], rec["agency"], rec["field"]) == ("Một", "Sở A", "Đất đai")
    assert report.blanks_kept == {"agency": 1, "name": 1}


def test_new_procedure_without_agency_is_imported_unassigned(store):
    report = run_import(store, _xlsx([["1.000002", "Mới", "Bộ Tư pháp", None, "Hộ tịch"]]), "n.xlsx",
                        actor="t")
    assert report.written and report.unassigned == ["1.000002"]
    rec = store.get_procedure("1.000002")
    assert rec["agency"] == "" and rec["agencies"] == []
    rows, total = store.list_procedures(filters={"agency": ""})
    assert total == 1 and rows[0]["code"] == "1.000002"


# -- the scope rule on imports; "only my agencies" ---------------------------------------------------
def _editor(store, agencies=(JUSTICE,)) -> auth.Principal:
    auth.add_user(store, "tuphap", "mat-khau-tu-phap", "editor", agencies, actor="t")
    return auth.authenticate(store, "tuphap", "mat-khau-tu-phap")


def test_editor_cannot_strip_agencies_through_an_import_of_blank_cells(hanoi_store):
    """Blank cells keep the stored agency, so an editor's import cannot orphan a procedure."""
    editor = _editor(hanoi_store)
    code = next(r["code"] for r in hanoi_store.all_procedures() if r["agencies"] == [JUSTICE])
    report = run_import(hanoi_store, f"code,name,agency,agencies\n{code},,,\n".encode(), "x.csv",
                        principal=editor)
    assert report.ok
    assert hanoi_store.get_procedure(code)["agency"] == JUSTICE


def test_editor_import_of_an_explicitly_empty_agency_is_refused(hanoi_store):
    editor = _editor(hanoi_store)
    code = next(r["code"] for r in hanoi_store.all_procedures() if r["agencies"] == [JUSTICE])
    doc = json.dumps([{"code": code, "agency": "", "agencies": []}]).encode()
    report = run_import(hanoi_store, doc, "x.json", principal=editor)
    assert [e.field for e in report.errors] == ["agency"]
    assert "at least one agency" in report.errors[0].message
    assert hanoi_store.get_procedure(code)["agency"] == JUSTICE


def test_only_my_agencies_skips_and_counts_the_others(hanoi_store):
    editor = _editor(hanoi_store)
    data = BO_TU_PHAP.read_bytes()
    refused = run_import(hanoi_store, data, BO_TU_PHAP.name, principal=editor, dry_run=True)
    assert refused.errors and all(e.message.startswith("outside your agencies") for e in refused.errors)
    report = run_import(hanoi_store, data, BO_TU_PHAP.name, principal=editor, only_mine=True)
    assert report.ok and report.written
    written = len(report.inserted) + len(report.updated) + len(report.unchanged)
    assert report.skipped_rows > 0 and written + report.skipped_rows == report.rows
    # every procedure written is the editor's, before and after
    for code in report.inserted + report.updated:
        rec = hanoi_store.get_procedure(code)
        assert set(rec["agencies"]) <= {JUSTICE} and rec["agencies"]
    by_agency = report.to_dict()["skipped"]["by_agency"]
    assert sum(x["rows"] for x in by_agency) >= report.skipped_rows == report.to_dict()["skipped"]["total"]


# -- xlsx: dimension, bounds, malformed XML, formats ------------------------------------------------
def test_a_stale_dimension_tag_does_not_hide_rows(store):
    rows = [[f"1.{i:06d}", f"Thủ tục {i}", "Bộ", "Sở A", "X"] for i in range(1, 20)]
    data = _xlsx(rows)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    stale = re.sub(r'<dimension ref="[^"]+"', '<dimension ref="A1"', sheet)
    assert stale != sheet
    report = run_import(store, _rezip(data, {"xl/worksheets/sheet1.xml": stale.encode()}), "s.xlsx",
                        actor="t")
    assert report.ok and report.rows == 19 and len(report.inserted) == 19


def _count_inflated(monkeypatch) -> list[int]:
    """Count every byte zipfile inflates from now on (the work an upload costs)."""
    total = [0]
    original = zipfile.ZipExtFile._read1

    def counting(self, n):
        data = original(self, n)
        total[0] += len(data)
        return data
    monkeypatch.setattr(zipfile.ZipExtFile, "_read1", counting)
    return total


def test_a_zip_bomb_is_refused_before_inflating(store, monkeypatch):
    data = _xlsx([["1.000001", "Một", "Bộ", "Sở A", "X"]])
    bomb = b"<x>" + b" " * (150 * 2**20) + b"</x>"  # 150 MiB of blanks: ~150 KiB compressed
    packed = _rezip(data, {"xl/worksheets/sheet1.xml": bomb})
    assert len(packed) < 2 * 2**20
    inflated = _count_inflated(monkeypatch)
    with pytest.raises(importer.ImportFileError, match="zip bomb"):
        run_import(store, packed, "bomb.xlsx", actor="t")
    # bounded work (counted, not timed): refused from the archive's directory, nothing inflated
    assert inflated == [0]
    assert store.count_procedures() == 0


def test_a_sheet_over_the_cell_limit_is_refused(store, monkeypatch):
    monkeypatch.setattr(xlsx, "XLSX_MAX_CELLS", 50)
    data = _xlsx([[f"1.{i:06d}", f"T {i}", "Bộ", "Sở A", "X"] for i in range(1, 30)])
    with pytest.raises(importer.ImportFileError, match="more than 50 cells"):
        run_import(store, data, "big.xlsx", actor="t")


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                  b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
                  b'</sheetData></worksheet>')


@pytest.mark.parametrize("member, body, words", [
    ("xl/worksheets/sheet1.xml", BILLION_LAUGHS, "entit"),
    ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row><c", "malformed XML"),
])
def test_malformed_or_hostile_xml_is_a_named_file_error(store, member, body, words):
    data = _xlsx([["1.000001", "Một", "Bộ", "Sở A", "X"]])
    with pytest.raises(importer.ImportFileError, match=words):
        run_import(store, _rezip(data, {member: body}), "bad.xlsx", actor="t")


@pytest.mark.parametrize("name, head, words", [
    ("cu.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "Excel 97-2003"),
    ("ds.pdf", b"%PDF-1.7\n%\xe2\xe3", "PDF"),
    ("ds.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "Excel 97-2003"),  # renamed .xls
    ("ds.csv", b"%PDF-1.4\n", "PDF"),
    ("ds.ods", b"PK\x03\x04rest", "OpenDocument"),
    ("ds.docx", b"PK\x03\x04rest", "Word"),
    ("notes.abc", b"hello", ".abc"),
])
def test_other_formats_are_named(store, name, head, words):
    with pytest.raises(importer.ImportFileError, match=words) as info:
        run_import(store, head, name, actor="t")
    assert "UTF-8" not in str(info.value)


# -- codes, levels -------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["١.٠٠٠٣٩٠", "１.000390", "1.00039٠", "𝟏.000390"])
def test_codes_with_non_ascii_digits_are_refused(store, code):
    report = run_import(store, json.dumps([{"code": code, "name": "X"}]).encode(), "x.json", actor="t")
    assert [e.field for e in report.errors] == ["code"]
    assert store.count_procedures() == 0


@pytest.mark.parametrize("level", [3.5, "3.5", 4.000001])
def test_a_fractional_service_level_is_an_error(store, level):
    report = run_import(store, json.dumps([{"code": "1.000001", "name": "X", "service_level": level}]).encode(),
                        "x.json", actor="t")
    assert [e.field for e in report.errors] == ["service_level"]


# -- no input crashes an import (each is a named error) --------------------------------------------------
def test_deeply_nested_json_import_is_a_file_error(store):
    with pytest.raises(importer.ImportFileError, match="nested too deeply"):
        run_import(store, b"[" * 100_000 + b"]" * 100_000, "deep.json", actor="t")


def test_deeply_nested_jsonl_line_is_a_row_error(store):
    data = b'{"code": "1.000001", "name": "A"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    report = run_import(store, data, "deep.jsonl", actor="t")
    assert [(e.line, e.field) for e in report.errors] == [(2, "_row")]
    assert "nested too deeply" in report.errors[0].message


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_5001_digit_integer_names_its_field(store, fmt):
    row = '{"code": "1.000001", "name": "A", "service_level": ' + "9" * 5001 + "}"
    data = ("[" + row + "]" if fmt == "json" else row + "\n").encode()
    report = run_import(store, data, f"x.{fmt}", actor="t")
    assert [e.field for e in report.errors] == ["service_level"]


def test_a_lone_surrogate_key_is_reported_in_encodable_text(store):
    data = b'[{"code": "1.000001", "name": "A", "\\ud800x": 1}]'
    report = run_import(store, data, "x.json", actor="t")
    assert len(report.errors) == 1
    body = json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")  # must not raise
    assert b"\\\\ud800x" in body


def test_nul_in_a_cell_is_refused_at_input(store):
    report = run_import(store, json.dumps([{"code": "1.000001", "name": "A\u0000B"}]).encode(), "x.json",
                        actor="t")
    assert [e.field for e in report.errors] == ["name"] and "U+0000" in report.errors[0].message


def test_report_of_a_real_file_survives_a_reopened_store(tmp_path, hanoi_rows):
    """The store really holds what the report said (a new connection reads it back)."""
    path = tmp_path / "r.db"
    with open_store(path) as s:
        run_import(s, _xlsx([["1.000009", "Chín", "Bộ", "Sở A", "X"]]), "n.xlsx", actor="t")
    with open_store(path) as s:
        assert s.get_procedure("1.000009")["agency"] == "Sở A"


def test_cli_import_says_what_blank_cells_kept(runner, hanoi_store):
    result = runner.invoke(args=["import", str(BO_TU_PHAP)])
    assert result.exit_code == 0, result.output
    assert "blank cells kept the stored values: agencies 71" in result.output


def _patch_size(raw: bytearray, name: str, size: int) -> None:
    """Make the archive lie: declare `size` as the member's inflated size in both headers."""
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo(name)
    struct.pack_into("<I", raw, info.header_offset + 22, size)  # local file header
    pos = 0
    while True:  # its central directory entry
        pos = raw.find(b"PK\x01\x02", pos)
        length = struct.unpack_from("<H", raw, pos + 28)[0]
        if raw[pos + 46:pos + 46 + length] == name.encode():
            break
        pos += 4
    struct.pack_into("<I", raw, pos + 24, size)


def test_a_bomb_that_lies_about_its_size_stops_at_the_declared_size(store, monkeypatch):
    big = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
           + b" " * (16 * 2**20) + b"</sheetData></worksheet>")
    raw = bytearray(_rezip(_xlsx([["1.000001", "Một", "Bộ", "Sở A", "X"]]), {"xl/worksheets/sheet1.xml": big}))
    _patch_size(raw, "xl/worksheets/sheet1.xml", 4096)
    inflated = _count_inflated(monkeypatch)
    with pytest.raises(importer.ImportFileError, match="damaged ZIP"):
        run_import(store, bytes(raw), "lie.xlsx", actor="t")
    assert 0 < inflated[0] < 2**20  # it stopped near the declared 4 KiB, not at 16 MiB
