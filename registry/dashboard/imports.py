"""Bulk import from a file (the national Excel export, CSV, JSON): all rows or none, errors shown."""
from __future__ import annotations

from typing import Any

from flask import flash, render_template, request

from ..context import get_store
from ..importer import FORMATS
from ..imports import ImportFileError, run_import
from . import tables
from .blueprint import bp
from .labels import FIELDS
from .security import current_principal, is_editor, role_required

ERROR_COLUMNS = (("line", "Dòng"), ("code", "Mã thủ tục"), ("field", "Cột"), ("message", "Lỗi"))


@bp.route("/imports", methods=["GET", "POST"])
@role_required(is_editor)
def import_form() -> Any:
    """Upload a file; a bad row writes nothing and the page lists every bad row."""
    principal = current_principal()
    scope = None if principal.role == "admin" else list(principal.agencies)
    if request.method == "GET":
        return render_template("dashboard/import.html", report=None, scope=scope, formats=FORMATS)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Hãy chọn một tệp để nhập.", "error")
        return render_template("dashboard/import.html", report=None, scope=scope, formats=FORMATS), 400
    dry_run = request.form.get("dry_run") == "1"
    only_mine = request.form.get("only_mine") == "1"
    try:
        report = run_import(get_store(), upload.read(), upload.filename, actor=principal.username,
                            source="dashboard", dry_run=dry_run, principal=principal, only_mine=only_mine)
    except ImportFileError as exc:
        flash(f"Không đọc được tệp {upload.filename}: {exc}. Không có gì được ghi.", "error")
        return render_template("dashboard/import.html", report=None, scope=scope, formats=FORMATS), 400
    errors = [{**e.to_dict(), "field_label": FIELDS.get(e.field, e.field)} for e in report.errors]
    status = 200 if report.ok else 422
    table = tables.Table("import-errors", ERROR_COLUMNS, errors, filename="tthc-loi-nhap")
    return render_template("dashboard/import.html", report=report, errors=errors, scope=scope, field_labels=FIELDS,
                           formats=FORMATS, downloads=tables.data_urls(table)), status

