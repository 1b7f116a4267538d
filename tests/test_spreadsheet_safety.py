"""Issue 10 item 6: exports safe for spreadsheets, and imports that undo it exactly."""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from registry import exporter, importer, spreadsheet
from registry.imports import run_import

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "'=already", "''x", "'plain",
           "Sở -gạch", "=", "'"]


@pytest.mark.parametrize("value", HOSTILE + ["\t=1", "\r=1", "bình thường", ""])
def test_neutralise_then_restore_is_exact(value):
    out = spreadsheet.neutralise(value)
    assert not out.startswith(spreadsheet.TRIGGERS)
    assert spreadsheet.restore(out) == value


def test_numbers_are_not_touched():
    assert spreadsheet.neutralise(-5) == -5 and spreadsheet.neutralise(3.5) == 3.5


def _records(store) -> list[dict]:
    for i, name in enumerate(HOSTILE[:8], 1):
        store.create_procedure({"code": f"1.00000{i}", "name": name, "agency": "@Sở A", "field": "-Hộ tịch",
                                "issuing_agency": "+Bộ"}, actor="t", source="t")
    return store.all_procedures()


def test_csv_export_neutralises_formulas_and_round_trips(store):
    records = _records(store)
    data = exporter.export(records, "csv")
    cells = [c for row in csv.reader(io.StringIO(data.decode("utf-8"))) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'@Sở A" in cells
    report = run_import(store, data, "back.csv", actor="t")
    assert report.ok and len(report.unchanged) == len(records) and not report.updated
    parsed = {r["code"]: r for r in importer.parse(data, "back.csv").rows}
    assert {c: r["name"] for c, r in parsed.items()} == {r["code"]: r["name"] for r in records}


def test_xlsx_export_writes_strings_never_formulas_and_round_trips(store):
    records = _records(store)
    data = exporter.export(records, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(data)).active  # not data_only: formulas would show
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.value
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@"))
    report = run_import(store, data, "back.xlsx", actor="t")
    assert report.ok and len(report.unchanged) == len(records) and not report.updated


def test_json_export_is_left_as_it_is(store):
    records = _records(store)
    doc = json.loads(exporter.export(records, "json"))
    assert doc[0]["name"] == records[0]["name"]


def test_coverage_csv_over_the_api_neutralises_group_keys(client, store):
    store.create_procedure({"code": "1.000001", "name": "A", "agency": "=cmd|'/c calc'!A0",
                            "service_level": 4}, actor="t", source="t")
    resp = client.get("/api/v1/coverage?format=csv&group_by=agency")
    assert resp.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(resp.get_data(as_text=True))) for c in row]
    assert "'=cmd|'/c calc'!A0" in cells
    assert not any(c.startswith("=") for c in cells)


def test_cli_coverage_csv_neutralises(runner, store):
    store.create_procedure({"code": "1.000001", "name": "A", "agency": "+Sở", "service_level": 4},
                           actor="t", source="t")
    result = runner.invoke(args=["coverage", "--csv", "--group-by", "agency"])
    assert result.exit_code == 0, result.output
    assert "'+Sở" in result.output and ",+Sở" not in result.output


def test_dashboard_table_download_neutralises(client, store):
    store.create_procedure({"code": "1.000001", "name": "@tên", "agency": "-Sở"}, actor="t", source="t")
    resp = client.get("/procedures/1.000001?format=csv&table=audit")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "\n=" not in text and ",=" not in text
    resp = client.get("/procedures?format=csv")
    cells = [c for row in csv.reader(io.StringIO(resp.get_data(as_text=True))) for c in row]
    assert "'@tên" in cells and "'-Sở" in cells


def test_discrepancies_csv_neutralises():
    from registry.probing.discrepancies import COLUMNS, to_csv
    row = {k: "=1+1" for k in COLUMNS}
    cells = next(iter(csv.reader(io.StringIO(to_csv([row]).split("\r\n", 1)[1]))))
    assert cells and all(c == "'=1+1" for c in cells)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x1b"])
def test_control_characters_xlsx_cannot_hold_are_refused(client, store, char):
    report = run_import(store, json.dumps([{"code": "1.000001", "name": f"A{char}B"}]).encode(), "x.json",
                        actor="t")
    assert [e.field for e in report.errors] == ["name"]
    assert store.count_procedures() == 0


def test_legacy_control_characters_make_an_xlsx_export_refuse_not_crash(runner, store, tmp_path, db_path):
    """Stored before input refused them: the export names the procedure instead of a traceback."""
    store.create_procedure({"code": "1.000001", "name": "A"}, actor="t", source="t")
    store.db.execute("UPDATE procedures SET name = 'A' || char(0) || 'B' WHERE code = '1.000001'")
    with pytest.raises(spreadsheet.UnstorableText, match="procedure 1.000001"):
        exporter.export(store.all_procedures(), "xlsx")
    from registry.cli import main
    result = runner.invoke(main, ["export", "--format", "xlsx", "-o", str(tmp_path / "x.xlsx")],
                           env={"TTHC_DATABASE": str(db_path)})
    assert result.exit_code == 1 and "procedure 1.000001" in result.output
    assert "Traceback" not in result.output
