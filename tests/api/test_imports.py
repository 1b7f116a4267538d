"""/api/v1/imports: multipart uploads of every format, all or nothing, 413, 415, scope."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from registry import create_app

from .conftest import BUILDING, DATA_DIR, JUSTICE, single_agency

PROBLEM = "application/problem+json"
ROWS = [
    {
        "code": "1.001193.H26",
        "name": "Đăng ký khai sinh (thí điểm)",
        "agency": JUSTICE,
        "service_level": 4,
    },
    {
        "code": "1.001194.H26",
        "name": "Đăng ký kết hôn (thí điểm)",
        "agency": JUSTICE,
        "service_level": 3,
    },
]


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _xlsx(rows: list[dict]) -> bytes:
    # The national export's layout: a title row, then the Vietnamese headers.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH THỦ TỤC HÀNH CHÍNH"])
    ws.append(["Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực"])
    for r in rows:
        ws.append([r["code"], r["name"], "Bộ Tư pháp", r["agency"], "Hộ tịch"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


ENCODERS = {
    "csv": _csv,
    "json": lambda rows: json.dumps(rows, ensure_ascii=False).encode("utf-8"),
    "jsonl": lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode(
        "utf-8"
    ),
    "xlsx": _xlsx,
}


def upload(client, headers, content: bytes, filename: str, **fields):
    data = {
        "file": (io.BytesIO(content), filename),
        **{k: str(v).lower() for k, v in fields.items()},
    }
    return client.post(
        "/api/v1/imports", data=data, content_type="multipart/form-data", headers=headers
    )


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_every_format_imports(api, bearer, db, fmt):
    resp = upload(api, bearer("editor"), ENCODERS[fmt](ROWS), f"procedures.{fmt}")
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body == {
        "file": f"procedures.{fmt}",
        "format": fmt,
        "rows": 2,
        "dry_run": False,
        "written": True,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "blanks_kept": {},
        "unassigned": [],
        "only_mine": False,
        "skipped": {"total": 0, "by_agency": []},
    }
    stored = {p["code"]: p for p in db.procedures_by_code([r["code"] for r in ROWS])}
    assert (
        stored["1.001193.H26"]["name"] == ROWS[0]["name"]
        and stored["1.001193.H26"]["agency"] == JUSTICE
    )
    assert {e["actor"] for e in db.list_audit(entity="procedure", key="1.001194.H26")} == {"tuphap"}


def test_dry_run_writes_nothing(api, bearer, db):
    resp = upload(api, bearer("editor"), _csv(ROWS), "p.csv", dry_run=True)
    assert resp.status_code == 200
    assert (resp.json["dry_run"], resp.json["written"], resp.json["inserted"]) == (True, False, 2)
    assert db.procedures_by_code([r["code"] for r in ROWS]) == []


def test_reimport_reports_updates_and_unchanged_with_200(api, bearer, db):
    assert upload(api, bearer("admin"), _csv(ROWS), "p.csv").status_code == 201
    changed = [dict(ROWS[0], service_level=2), ROWS[1]]
    resp = upload(api, bearer("admin"), _csv(changed), "p.csv")
    assert resp.status_code == 200
    assert (resp.json["inserted"], resp.json["updated"], resp.json["unchanged"]) == (0, 1, 1)
    assert db.get_procedure("1.001193.H26")["service_level"] == 2


def test_the_real_national_export_imports(api, bearer):
    # The real export of the Ministry of Justice's procedures, as it is (title rows, stray spaces).
    path = DATA_DIR / "national-catalog" / "danh-sach-tthc-BoTuPhap.xlsx"
    resp = upload(api, bearer("admin"), path.read_bytes(), path.name, dry_run=True)
    assert resp.status_code == 200, resp.json
    assert resp.json["format"] == "xlsx" and resp.json["rows"] > 100 and resp.json["errors"] == []


def test_bad_rows_are_all_reported_and_nothing_is_written(api, bearer, db):
    rows = [
        ROWS[0],
        {"code": "bad-code", "name": "x", "agency": JUSTICE, "service_level": 4},
        {"code": "1.001195.H26", "name": "y", "agency": JUSTICE, "service_level": 9},
    ]
    audit_before = db.count_audit()
    resp = upload(api, bearer("editor"), _csv(rows), "p.csv")
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    errors = resp.json["errors"]
    # CSV line numbers: header on line 1, rows from line 2.
    assert [(e["line"], e["field"]) for e in errors] == [(3, "code"), (4, "service_level")]
    assert resp.json["rows"] == 3
    assert db.procedures_by_code(["1.001193.H26", "1.001195.H26"]) == []
    assert db.count_audit() == audit_before


def test_editor_cannot_import_another_agencys_rows(api, bearer, db, fixture_records):
    other = single_agency(fixture_records, BUILDING)
    rows = [
        ROWS[0],
        {"code": other["code"], "name": other["name"], "agency": JUSTICE, "service_level": 4},
        {"code": "1.001196.H26", "name": "z", "agency": BUILDING, "service_level": 2},
    ]
    resp = upload(api, bearer("editor"), _csv(rows), "p.csv")
    assert resp.status_code == 403 and resp.mimetype == PROBLEM
    assert [(e["line"], e["field"]) for e in resp.json["errors"]] == [(3, "agency"), (4, "agency")]
    assert db.procedures_by_code(["1.001193.H26", "1.001196.H26"]) == []
    assert db.get_procedure(other["code"])["version"] == 1


def test_admin_imports_any_agency(api, bearer):
    rows = [dict(ROWS[0], agency=BUILDING)]
    assert upload(api, bearer("admin"), _csv(rows), "p.csv").status_code == 201


@pytest.mark.parametrize(
    "filename, fields", [("notes.pdf", {}), ("procedures.txt", {}), ("archive.zip", {})]
)
def test_unsupported_file_types_are_415(api, bearer, filename, fields):
    resp = upload(api, bearer("admin"), b"%PDF-1.4", filename, **fields)
    assert resp.status_code == 415 and resp.mimetype == PROBLEM


def test_the_format_field_overrides_the_suffix(api, bearer):
    resp = upload(api, bearer("admin"), _csv(ROWS), "export.txt", format="csv", dry_run=True)
    assert resp.status_code == 200 and resp.json["format"] == "csv"


@pytest.mark.parametrize(
    "content_type, data",
    [
        ("application/json", json.dumps(ROWS)),
        ("text/csv", _csv(ROWS).decode()),
    ],
)
def test_a_body_that_is_not_multipart_is_415(api, bearer, content_type, data):
    resp = api.post(
        "/api/v1/imports", data=data, content_type=content_type, headers=bearer("admin")
    )
    assert resp.status_code == 415 and resp.mimetype == PROBLEM


@pytest.mark.parametrize(
    "content, filename, field",
    [
        (b"not really a workbook", "p.xlsx", "file"),
        (b"[{broken json", "p.json", "file"),
        (b"a,b\n1,2\n", "p.csv", "file"),  # no code/name header
    ],
)
def test_unreadable_files_are_422(api, bearer, content, filename, field):
    resp = upload(api, bearer("admin"), content, filename)
    assert resp.status_code == 422 and resp.mimetype == PROBLEM
    assert resp.json["errors"][0]["field"] == field


def test_missing_file_part_is_422(api, bearer):
    resp = api.post(
        "/api/v1/imports",
        data={"dry_run": "true"},
        content_type="multipart/form-data",
        headers=bearer("admin"),
    )
    assert resp.status_code == 422 and "file" in resp.json["errors"]


def test_bad_options_are_422(api, bearer):
    resp = upload(api, bearer("admin"), _csv(ROWS), "p.csv", dry_run="perhaps", format="pdf")
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"dry_run", "format"}


def test_upload_over_the_limit_is_413(api_db, tokens):
    app = create_app({"DATABASE": str(api_db), "TESTING": True, "MAX_UPLOAD_MB": 0.05})
    big = _csv(ROWS) + b"".join(b"1.%06d.T,name %d\n" % (i, i) for i in range(5000))  # > 51 KiB
    assert len(big) > 0.05 * 1024 * 1024
    resp = upload(app.test_client(), {"Authorization": f"Bearer {tokens['admin']}"}, big, "p.csv")
    assert resp.status_code == 413 and resp.mimetype == PROBLEM
    assert app.test_client().get("/api/v1/procedures/1.000001.T").status_code == 404
