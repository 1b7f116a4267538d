"""Validation of dossiers and ratings as one-stop systems send them (contract v2 sections 2 and 6).

The same schemas guard the API (`DongBoHoSoMC`, `DongBoDanhGia` bodies), file imports (JSONL,
CSV, XLSX with the contract's keys) and the fixture. Keys stay exactly as the contract spells
them; a dossier's other keys are kept as sent (NFC) and forwarded unchanged by the relay.
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from .store.dossiers import payload_text
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

STATUSES = tuple(str(n) for n in range(1, 11))
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]{0,63}$")
STAMP_RE = re.compile(r"^\d{14}$")
DATE_KEYS = ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra")


def nfc(value: Any) -> Any:
    """Every string inside `value` in NFC and trimmed (dicts and lists walked)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def stamp_to_iso(stamp: str | None) -> str | None:
    """`yyyyMMddHHmmss` (Hà Nội time) to `YYYY-MM-DDTHH:MM:SS`; None for empty."""
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").isoformat()


class _Code(fields.String):
    """A code the real systems send as a string or a number; kept as a string."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class _Stamp(fields.String):
    """A portal timestamp `yyyyMMddHHmmss`; empty means absent."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            return None
        if not STAMP_RE.match(text):
            raise ValidationError("expected a date as yyyyMMddHHmmss (e.g. 20210705083000)")
        try:
            stamp_to_iso(text)
        except ValueError as exc:
            raise ValidationError(f"not a real date: {text}") from exc
        return text


def _code_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(CODE_RE, error="not a procedure code such as 1.001193"),
                         **kwargs)


class DossierSchema(Schema):
    """One dossier of `DongBoHoSoMC` (`data[]`); unknown keys are kept as sent."""

    class Meta:
        unknown = INCLUDE

    MaHoSo = fields.String(required=True, validate=validate.Length(min=1, max=100))
    MaTTHC = _code_field(required=True)
    TenTTHC = fields.String(allow_none=True)
    TrangThaiHoSo = _Code(required=True, validate=validate.OneOf(STATUSES, error="must be one of 1..10"))
    KenhThucHien = _Code(allow_none=True, validate=validate.OneOf(["1", "2", "3"], error="must be 1, 2 or 3"))
    NgayTiepNhan = _Stamp(allow_none=True)
    NgayHenTra = _Stamp(allow_none=True)
    NgayKetThucXuLy = _Stamp(allow_none=True)
    NgayTra = _Stamp(allow_none=True)
    DuocThanhToanTrucTuyen = _Code(allow_none=True, validate=validate.OneOf(
        ["", "0", "1", "2", "3"], error="must be 1 (paid online) or 3 (not)"))
    DanhSachLePhi = fields.Raw(allow_none=True)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("TrangThaiHoSo") in ("9", "10") and not (data.get("NgayKetThucXuLy") or data.get("NgayTra")):
            raise ValidationError("a resolved dossier (status 9 or 10) needs NgayKetThucXuLy or NgayTra",
                                  "NgayKetThucXuLy")
        fees = data.get("DanhSachLePhi")
        if fees not in (None, "") and not isinstance(fees, list):
            raise ValidationError("must be a list of fees (empty: no fee)", "DanhSachLePhi")
        if data.get("TrangThaiHoSo") not in ("1",) and not data.get("NgayTiepNhan"):
            raise ValidationError("required once a dossier is received (status 2 and later)", "NgayTiepNhan")


class SyncBodySchema(Schema):
    """The `DongBoHoSoMC` body; `session`, `madonvi` and `service` may be present and are ignored."""

    class Meta:
        unknown = INCLUDE

    isUpdating = fields.String(required=True, validate=validate.OneOf(["True", "False"]))  # noqa: N815
    data = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=1000))


class RatingSchema(Schema):
    """One rating of `DongBoDanhGia`."""

    class Meta:
        unknown = INCLUDE

    MaHoSo = fields.String(required=True, validate=validate.Length(min=1, max=100))
    MaTTHC = _code_field(required=True)
    MucDoHaiLong = _Code(required=True, validate=validate.OneOf(
        ["1", "2", "3"], error="must be 1 (very satisfied), 2 (satisfied) or 3 (not satisfied)"))
    NgayDanhGia = _Stamp(required=True, allow_none=False)

    @validates_schema
    def _dated(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("NgayDanhGia"):
            raise ValidationError("required", "NgayDanhGia")


class RatingsBodySchema(Schema):
    """The `DongBoDanhGia` body."""

    class Meta:
        unknown = INCLUDE

    data = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=1000))


_DOSSIER = DossierSchema()
_RATING = RatingSchema()


def normalise_dossier(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate one dossier (ValidationError names the fields) and return the store's row."""
    raw = nfc(raw)
    d = _DOSSIER.load(raw)
    fees = d.get("DanhSachLePhi") or []
    return {
        "mahoso": d["MaHoSo"], "code": d["MaTTHC"], "status": int(d["TrangThaiHoSo"]),
        "channel": d.get("KenhThucHien") or None, "paid_online": d.get("DuocThanhToanTrucTuyen") == "1",
        "has_fee": bool(fees), "received_at": stamp_to_iso(d.get("NgayTiepNhan")),
        "due_at": stamp_to_iso(d.get("NgayHenTra")), "finished_at": stamp_to_iso(d.get("NgayKetThucXuLy")),
        "returned_at": stamp_to_iso(d.get("NgayTra")), "payload": raw, "payload_text": payload_text(raw),
    }


def normalise_rating(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate one rating and return the store's row."""
    raw = nfc(raw)
    r = _RATING.load(raw)
    return {"mahoso": r["MaHoSo"], "code": r["MaTTHC"], "score": r["MucDoHaiLong"],
            "rated_at": stamp_to_iso(r["NgayDanhGia"]), "payload": raw, "payload_text": payload_text(raw)}


def flatten_errors(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (dotted field, message) pairs."""
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            out.extend(flatten_errors(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, m) for m in messages]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten_errors(m, prefix)]
    return [(prefix, str(messages))]


# -- files -----------------------------------------------------------------------------------
FILE_FORMATS = ("jsonl", "csv", "xlsx")


class DossierFileError(ValueError):
    """The file as a whole cannot be read."""


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M%S")
    return value if not isinstance(value, (int, float)) else str(value)


def _tabular_row(header: list[str], cells: list[Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in zip(header, cells):
        if not key:
            continue
        value = _cell(value)
        if key == "DanhSachLePhi" and isinstance(value, str):
            text = value.strip()
            value = [] if not text else (json.loads(text) if text.startswith("[") else [text])
        if value is not None and value != "":
            row[key] = value
        elif key == "DanhSachLePhi":
            row[key] = []
    return row


def read_rows(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, raw row) of a JSONL, CSV or XLSX file, streamed (the header is line 1)."""
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt == "json":
        fmt = "jsonl"
    if fmt not in FILE_FORMATS:
        raise DossierFileError(f"{path.name}: unknown format {fmt!r}; use .jsonl, .csv or .xlsx")
    if fmt == "jsonl":
        with path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield number, _Unreadable(f"not a JSON object: {exc}")
        return
    if fmt == "csv":
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            if "MaHoSo" not in header:
                raise DossierFileError(f"{path.name}: the header row has no MaHoSo column")
            for number, cells in enumerate(reader, start=2):
                if any(c.strip() for c in cells):
                    yield number, _tabular_row(header, cells)
        return
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise DossierFileError(f"{path.name}: not an Excel workbook ({exc})") from exc
    rows = book.active.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    if "MaHoSo" not in header:
        raise DossierFileError(f"{path.name}: the header row has no MaHoSo column")
    for number, cells in enumerate(rows, start=2):
        if any(c not in (None, "") for c in cells):
            yield number, _tabular_row(header, list(cells))
    book.close()


class _Unreadable(str):
    """A line that is not JSON: reported as a row error."""


def check_row(kind: str, raw: Any) -> dict[str, Any]:
    """Validate one file row of `kind` ("dossiers" or "ratings")."""
    if isinstance(raw, _Unreadable) or not isinstance(raw, dict):
        raise ValidationError({"_row": [str(raw) if isinstance(raw, _Unreadable) else "not a JSON object"]})
    return normalise_dossier(raw) if kind == "dossiers" else normalise_rating(raw)


def text_buffer(data: bytes) -> io.StringIO:
    """Bytes as a text buffer (UTF-8, BOM tolerated)."""
    return io.StringIO(data.decode("utf-8-sig"))
