"""/api/v1/imports: multipart upload of an import file; all rows or none, every bad row reported."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from werkzeug.datastructures import FileStorage

from ..context import get_store
from ..importer import FORMATS
from ..imports import SCOPE_MESSAGE, ImportFileError, run_import
from .blueprint import ApiBlueprint, consumes
from .errors import ApiProblem
from .schemas import ImportForm, ImportReportSchema
from .security import current_principal, require

blp = ApiBlueprint(
    "imports",
    __name__,
    url_prefix="/imports",
    description="Bulk import of procedures (the national Excel export, CSV, JSON, JSONL).",
)

# run_import reports an editor's out-of-scope rows with this message; they make the import a 403.
_SCOPE_MESSAGE = SCOPE_MESSAGE


def _format(upload: FileStorage, given: str | None) -> str | None:
    """The format to read: the one given, else the file's suffix; None lets the reader sniff."""
    if given:
        return given
    suffix = PurePath(upload.filename or "").suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix:
        raise ApiProblem(
            415,
            f"Cannot import .{suffix} files: use one of {', '.join(FORMATS)} "
            "(or say which with the `format` field).",
            slug="unsupported-format",
        )
    return None


@blp.route("", methods=["POST"])
@blp.response(201, ImportReportSchema, description="Written, with at least one new procedure")
@blp.alt_response(
    200,
    schema=ImportReportSchema,
    success=True,
    description="A dry run, or written with no new procedure (updates only)",
)
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@require("editor", "admin")
@consumes("multipart/form-data")
@blp.arguments(ImportForm, location="files")
def import_file(form: dict[str, Any]) -> Any:
    """Import procedures from a file: all rows are written, or none (422/403 list every bad row)."""
    upload = form["file"]
    if not isinstance(upload, FileStorage):
        raise ApiProblem(
            422,
            "`file` must be a file part of the multipart form.",
            slug="validation-failed",
            errors={"file": ["must be a file upload"]},
        )
    fmt = _format(upload, form.get("format"))
    principal = current_principal()
    filename = PurePath(upload.filename or "upload").name
    try:
        report = run_import(
            get_store(),
            upload.read(),
            filename,
            actor=principal.username,
            source="api",
            fmt=fmt,
            dry_run=form["dry_run"],
            principal=principal,
            only_mine=form["only_mine"],
        )
    except (ImportFileError, UnicodeEncodeError) as exc:
        # UnicodeEncodeError: a JSON file escaping half a surrogate pair; SQLite refused it and
        # the import's transaction was rolled back.
        detail = (
            str(exc)
            if isinstance(exc, ImportFileError)
            else "the file holds text that is not valid Unicode"
        )
        raise ApiProblem(
            422,
            detail,
            slug="unreadable-file",
            title="Unreadable import file",
            errors=[{"line": 0, "code": None, "field": "file", "message": detail}],
        ) from None
    doc = report.to_dict()
    if report.errors:
        outside = any(e.message.startswith(_SCOPE_MESSAGE) for e in report.errors)
        status, slug = (403, "outside-scope") if outside else (422, "import-rejected")
        raise ApiProblem(
            status,
            f"{len(report.errors)} problem(s) in {filename}: nothing was written.",
            slug=slug,
            title="Import rejected",
            errors=doc["errors"],
            file=doc["file"],
            format=doc["format"],
            rows=doc["rows"],
        )
    return doc, 201 if report.written and report.inserted else 200
