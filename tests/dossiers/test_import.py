"""`tthc dossiers import FILE`: JSONL, CSV, XLSX with the contract's keys; --dry-run; every bad
row with its line and field; nothing written on error; `tthc dossiers report`."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from .conftest import month_of_dossiers, resolve

KEYS = ["MaHoSo", "MaTTHC", "TenTTHC", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra",
        "TrangThaiHoSo", "KenhThucHien", "DuocThanhToanTrucTuyen", "DanhSachLePhi"]


def rows(n: int = 12) -> list[dict]:
    return [resolve(d, 3) if i % 2 else d for i, d in enumerate(month_of_dossiers(n))]


def write(path: Path, items: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), "utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=KEYS)
            writer.writeheader()
            for r in items:
                writer.writerow({k: json.dumps(r[k], ensure_ascii=False) if k == "DanhSachLePhi" else r.get(k, "")
                                 for k in KEYS})
    else:
        book = Workbook()
        sheet = book.active
        sheet.append(KEYS)
        for r in items:
            sheet.append([json.dumps(r[k], ensure_ascii=False) if k == "DanhSachLePhi" else r.get(k) for k in KEYS])
        book.save(path)
    return path


def count(store) -> int:
    return store.db.execute("SELECT count(*) FROM dossiers").fetchone()[0]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".xlsx"])
def test_each_format_imports_every_row(runner, registry_store, tmp_path, suffix):
    items = rows()
    path = write(tmp_path / f"d{suffix}", items)
    dry = runner.invoke(args=["dossiers", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert count(registry_store) == 0
    result = runner.invoke(args=["dossiers", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "12 dossiers: 12 new" in result.output
    assert count(registry_store) == 12
    stored = registry_store.get_dossier(items[1]["MaHoSo"])
    assert stored["status"] == 10 and stored["has_fee"] == bool(items[1]["DanhSachLePhi"])
    # Importing the same file again changes nothing.
    again = runner.invoke(args=["dossiers", "import", str(path)])
    assert "12 unchanged" in again.output


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".xlsx"])
def test_every_bad_row_is_reported_and_nothing_is_written(runner, registry_store, tmp_path, suffix):
    items = rows(6)
    items[1] = {**items[1], "TrangThaiHoSo": "12"}
    items[4] = {**items[4], "NgayTiepNhan": "2021-07-01"}
    path = write(tmp_path / f"bad{suffix}", items)
    result = runner.invoke(args=["dossiers", "import", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    header = 0 if suffix == ".jsonl" else 1  # CSV and XLSX lines count their header row
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(2 + header, "TrangThaiHoSo"),
                                                                    (5 + header, "NgayTiepNhan")]
    assert count(registry_store) == 0


def test_a_dossier_twice_in_one_file_is_an_error(runner, registry_store, tmp_path):
    items = rows(3)
    path = write(tmp_path / "twice.jsonl", items + [items[0]])
    result = runner.invoke(args=["dossiers", "import", str(path)])
    assert result.exit_code == 1 and "twice.jsonl:4: MaHoSo" in result.output
    assert count(registry_store) == 0


def test_unreadable_lines_and_files(runner, tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"MaHoSo": "A"\nnot json\n', "utf-8")
    result = runner.invoke(args=["dossiers", "import", str(path)])
    assert result.exit_code == 1 and "x.jsonl:1:" in result.output and "x.jsonl:2:" in result.output
    other = tmp_path / "x.txt"
    other.write_text("hello", "utf-8")
    result = runner.invoke(args=["dossiers", "import", str(other)])
    assert result.exit_code == 1 and "unknown format" in result.output
    csv_path = tmp_path / "noheader.csv"
    csv_path.write_text("a,b\n1,2\n", "utf-8")
    assert "no MaHoSo column" in runner.invoke(args=["dossiers", "import", str(csv_path)]).output


def test_ratings_file_and_the_cli_report(runner, registry_store, tmp_path):
    items = rows(8)
    write(tmp_path / "d.jsonl", items)
    assert runner.invoke(args=["dossiers", "import", str(tmp_path / "d.jsonl")]).exit_code == 0
    ratings = [{"MaHoSo": d["MaHoSo"], "MaTTHC": d["MaTTHC"], "MucDoHaiLong": "1" if i else "3",
                "NgayDanhGia": d["NgayHenTra"]} for i, d in enumerate(items[:4])]
    write(tmp_path / "r.jsonl", ratings)
    result = runner.invoke(args=["dossiers", "import", str(tmp_path / "r.jsonl"), "--kind", "ratings"])
    assert result.exit_code == 0, result.output
    out = runner.invoke(args=["dossiers", "report", "--period", "2021-07", "--json"])
    report = json.loads(out.output)
    sat = next(i for i in report["indicators"] if i["id"] == "satisfaction_rate")
    assert (sat["numerator"], sat["denominator"]) == (3, 4)
    text = runner.invoke(args=["dossiers", "report", "--period", "2021-07"]).output
    assert "satisfaction_rate" in text and "3/4" in text
    bad = runner.invoke(args=["dossiers", "report", "--period", "2021-13"])
    assert bad.exit_code == 2
