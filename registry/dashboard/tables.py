"""Tables shown on pages and offered as CSV/JSON downloads (`?format=csv|json[&table=ID]`)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from flask import Response, request, url_for

from ..spreadsheet import neutralise

DOWNLOAD_FORMATS = ("csv", "json")


@dataclass
class Table:
    """A table's data: id (for `?table=`), columns as (key, label) and rows of plain values."""

    id: str
    columns: Sequence[tuple[str, str]]
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    filename: str = ""

    def keys(self) -> list[str]:
        return [k for k, _ in self.columns]


def requested_format() -> str | None:
    """The download format asked for in the query string, if any."""
    fmt = request.args.get("format", "").lower()
    return fmt if fmt in DOWNLOAD_FORMATS else None


def download_urls(table_id: str | None = None) -> dict[str, str]:
    """URLs of this page as CSV and JSON (same filters), for one table of the page."""
    args = {k: v for k, v in request.args.items() if k not in ("format", "table", "page")}
    if table_id:
        args["table"] = table_id
    endpoint = request.endpoint or "dashboard.overview"
    view_args = dict(request.view_args or {})
    return {fmt: url_for(endpoint, **view_args, **args, format=fmt) for fmt in DOWNLOAD_FORMATS}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def serialize(table: Table, fmt: str) -> str:
    """The table as CSV (with a BOM, so Excel reads the diacritics) or JSON text."""
    if fmt == "json":
        return json.dumps([{k: row.get(k) for k in table.keys()} for row in table.rows],
                          ensure_ascii=False, indent=1)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(table.keys())
    writer.writerows([neutralise(_cell(row.get(k))) for k in table.keys()] for row in table.rows)
    return "\ufeff" + buf.getvalue()


def render_download(table: Table, fmt: str) -> Response:
    """The table as a CSV or JSON attachment."""
    resp = Response(serialize(table, fmt), mimetype="application/json" if fmt == "json" else "text/csv")
    resp.charset = "utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{table.filename or table.id}.{fmt}"'
    return resp


def data_urls(table: Table) -> dict[str, str]:
    """`data:` URLs of a table that exists only in this response (e.g. an upload's error report)."""
    media = {"csv": "text/csv", "json": "application/json"}
    return {fmt: f"data:{media[fmt]};charset=utf-8," + quote(serialize(table, fmt))
            for fmt in DOWNLOAD_FORMATS}


def pick(tables: Iterable[Table]) -> Response | None:
    """If a download was asked for, the response for the chosen table (first one by default)."""
    fmt = requested_format()
    if fmt is None:
        return None
    tables = list(tables)
    wanted = request.args.get("table")
    chosen = next((t for t in tables if t.id == wanted), None) if wanted else tables[0]
    if chosen is None:
        from flask import abort
        abort(404, description=f"Không có bảng '{wanted}' trên trang này.")
    return render_download(chosen, fmt)
