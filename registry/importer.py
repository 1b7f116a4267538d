"""Reading import files (national Excel export, CSV, JSON, JSONL) and validating every row."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from marshmallow import ValidationError

from . import errors
from .schemas import ImportRowSchema
from .text import clean, clean_multiline, fold

FORMATS = ("xlsx", "csv", "json", "jsonl")

# Header labels of the national database's Excel export (folded) and our own column names.
_LABELS = {
    "ma so": "code", "ma thu tuc": "code", "ma tthc": "code", "code": "code",
    "ten": "name", "ten thu tuc": "name", "ten tthc": "name", "name": "name",
    "co quan ban hanh": "issuing_agency", "issuing_agency": "issuing_agency",
    "co quan thuc hien": "agencies", "agencies": "agencies", "agency": "agency",
    "linh vuc": "field", "field": "field",
}
_CANONICAL = {"code", "name", "field", "agency", "agencies", "issuing_agency", "levels",
              "service_level", "online_mode", "has_fee", "dvcqg_integrated", "payment_channel",
              "sso", "status"}
_TEXT = {"code", "name", "field", "agency", "issuing_agency", "levels"}


class ImportFileError(errors.InvalidInput):
    """The file as a whole cannot be read (wrong format, no header, not JSON...)."""


@dataclass
class RowError:
    """One problem with one row: its line in the file, the field and the message."""

    line: int
    field: str
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "field": self.field, "message": self.message}


@dataclass
class ParsedFile:
    """Validated rows ready for the store, or the list of every bad row."""

    format: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def detect_format(filename: str, head: bytes) -> str:
    """The import format from the file name, falling back to the first bytes."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if head.startswith(b"PK"):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    return "csv"


def _map_header(cells: list[Any]) -> dict[int, str]:
    mapping = {}
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        label = fold(str(cell))
        key = _LABELS.get(label) or (str(cell).strip() if str(cell).strip() in _CANONICAL else None)
        if key:
            mapping[i] = key
    return mapping


def _tabular(records: Iterator[tuple[int, list[Any]]], fmt: str) -> tuple[list[tuple[int, dict]], list[str]]:
    """Find the header row by its labels, then turn the rows below it into dicts."""
    header: dict[int, str] | None = None
    ignored: list[str] = []
    out: list[tuple[int, dict]] = []
    for line, cells in records:
        if header is None:
            mapping = _map_header(cells)
            if "code" in mapping.values() and "name" in mapping.values():
                header = mapping
                ignored = [str(c) for i, c in enumerate(cells) if i not in mapping and c not in (None, "")]
            elif line > 50:
                break
            continue
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        row: dict[str, Any] = {}
        for i, key in header.items():
            value = cells[i] if i < len(cells) else None
            if value is None:
                value = ""
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if key == "agencies":
                items = clean_multiline(str(value))
                row["agencies"] = items
                row.setdefault("agency", items[0] if items else "")
            elif key == "agency":
                row["agency"] = value
            elif str(value).strip() == "" and key not in _TEXT:
                continue  # an empty cell in a typed column means "not given"
            else:
                row[key] = value
        out.append((line, row))
    if header is None:
        raise ImportFileError(f"no header row found in the {fmt} file: expected columns "
                              "'Mã số' and 'Tên' (or 'code' and 'name')")
    return out, ignored


def _read_xlsx(data: bytes) -> tuple[list[tuple[int, dict]], list[str]]:
    import openpyxl
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ImportFileError(f"not a readable .xlsx file: {exc}") from exc
    try:
        ws = wb.worksheets[0]
        return _tabular(((i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), 1)), "xlsx")
    finally:
        wb.close()


def _read_csv(data: bytes) -> tuple[list[tuple[int, dict]], list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the CSV file is not UTF-8: {exc}") from exc
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, list[Any]]]:
        for cells in reader:
            yield reader.line_num, cells
    try:
        return _tabular(numbered(), "csv")
    except csv.Error as exc:
        raise ImportFileError(f"malformed CSV at line {reader.line_num}: {exc}") from exc


def _read_json(data: bytes) -> tuple[list[tuple[int, dict]], list[str]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("procedures"), list):
        doc = doc["procedures"]
    if not isinstance(doc, list):
        raise ImportFileError("a JSON import must be an array of procedures "
                              "(or an object with a 'procedures' array)")
    return [(i, item) for i, item in enumerate(doc, 1)], []


def _read_jsonl(data: bytes) -> tuple[list[tuple[int, dict]], list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the JSONL file is not UTF-8: {exc}") from exc
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((i, json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append((i, _Unparseable(str(exc))))
    return out, []


class _Unparseable(str):
    """Marks a JSONL line that is not JSON, so it is reported like any other bad row."""


_READERS = {"xlsx": _read_xlsx, "csv": _read_csv, "json": _read_json, "jsonl": _read_jsonl}


def parse(data: bytes, filename: str = "", fmt: str | None = None) -> ParsedFile:
    """Read and validate every row of an import file; never touches the database."""
    fmt = fmt or detect_format(filename, data[:64])
    if fmt not in _READERS:
        raise ImportFileError(f"unsupported format {fmt!r}; use one of {', '.join(FORMATS)}")
    records, ignored = _READERS[fmt](data)
    parsed = ParsedFile(format=fmt, ignored_columns=ignored)
    schema = ImportRowSchema()
    seen: dict[str, int] = {}
    loaded = _load_all(schema, records)
    for k, (line, raw) in enumerate(records):
        if loaded is not None:
            row = loaded[k]
        else:
            row = _load_row(schema, line, raw, parsed.errors)
            if row is None:
                continue
        if row["code"] in seen:
            parsed.errors.append(RowError(line, "code", f"duplicate code {row['code']}: "
                                          f"already on line {seen[row['code']]}", row["code"]))
            continue
        seen[row["code"]] = line
        parsed.rows.append(row)
        parsed.lines.append(line)
    return parsed


def _load_all(schema: ImportRowSchema,
              records: list[tuple[int, Any]]) -> list[dict[str, Any]] | None:
    """Every row loaded by one `schema.load(many=True)`, or None if any row is bad.

    One call per file instead of one per row saves marshmallow's per-call set-up (~10%);
    a file with a bad row is then loaded row by row so that each error gets its line.
    """
    raws = [raw for _, raw in records]
    if not all(raw.__class__ is dict for raw in raws):
        return None
    try:
        return schema.load(raws, many=True)
    except ValidationError:
        return None


def _load_row(schema: ImportRowSchema, line: int, raw: Any,
              errors: list[RowError]) -> dict[str, Any] | None:
    """One row loaded by the schema, or None with its problems appended to `errors`."""
    if isinstance(raw, _Unparseable):
        errors.append(RowError(line, "_row", f"not valid JSON: {raw}"))
        return None
    if not isinstance(raw, dict):
        errors.append(RowError(line, "_row", "each row must be a JSON object"))
        return None
    try:
        return schema.load(raw)
    except ValidationError as exc:
        code = clean(str(raw.get("code", ""))).encode("utf-8", "replace").decode("utf-8") or None
        for fname, messages in sorted(_flatten(exc.messages)):
            errors.append(RowError(line, fname, messages, code))
        return None


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict as (field, message) pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_row"
            out.extend(_flatten(value, name))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out.append((prefix or "_row", " ".join(messages)))
        else:
            for m in messages:
                out.extend(_flatten(m, prefix))
    else:
        out.append((prefix or "_row", str(messages)))
    return out
