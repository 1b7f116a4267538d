"""Writing procedures as CSV, JSON or XLSX in the canonical fields (import reads them back).

CSV and XLSX cells are neutralised against formula injection (`registry.spreadsheet`) and
XLSX text cells are typed as strings; the importer undoes the neutralisation.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Mapping

from .spreadsheet import check_xlsx_text, safe_row, xlsx_row

EXPORT_FIELDS = ("code", "name", "field", "agency", "agencies", "issuing_agency", "levels",
                 "service_level", "online_mode", "has_fee", "dvcqg_integrated", "payment_channel",
                 "sso", "status")
FORMATS = ("csv", "json", "jsonl", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json",
               "jsonl": "application/x-ndjson",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _flat(rec: Mapping[str, Any]) -> list[Any]:
    """One record as spreadsheet cells: lists one item per line, booleans as true/false."""
    out = []
    for k in EXPORT_FIELDS:
        v = rec[k]
        if isinstance(v, list):
            v = "\n".join(v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        out.append(v)
    return out


def export(records: Iterable[Mapping[str, Any]], fmt: str) -> bytes:
    """Serialise records in `fmt`; the result imports back unchanged."""
    records = list(records)
    if fmt == "json":
        return json.dumps([{k: r[k] for k in EXPORT_FIELDS} for r in records], ensure_ascii=False,
                          indent=1).encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps({k: r[k] for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n"
                       for r in records).encode("utf-8")
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(EXPORT_FIELDS)
        writer.writerows(safe_row(_flat(r)) for r in records)
        return buf.getvalue().encode("utf-8")
    if fmt == "xlsx":
        import openpyxl
        rows = [_flat(r) for r in records]
        for r, cells in zip(records, rows):
            check_xlsx_text(cells, f"procedure {r.get('code')}")
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("procedures")
        ws.append(list(EXPORT_FIELDS))
        for cells in rows:
            ws.append(xlsx_row(ws, cells))
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
