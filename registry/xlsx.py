"""Reading the first sheet of an untrusted .xlsx upload with bounded cost.

- The archive's directory is checked before anything is inflated: the members together may
  inflate to at most XLSX_MAX_INFLATED bytes, and no large member more than
  XLSX_MAX_MEMBER_RATIO times. zipfile never inflates a member past the size its header
  declares (a member that lies fails its CRC), so the declared sizes bound the work.
- The sheet's `<dimension>` tag is not trusted (a stale one hid rows or padded every row).
- At most XLSX_MAX_CELLS cells are read.
- XML goes through defusedxml (openpyxl uses it when it is installed): entity declarations and
  malformed XML are errors that name the problem.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any, Iterator

from . import errors

XLSX_MAX_INFLATED = 128 * 2**20  # bytes of all the archive's members, once decompressed
XLSX_MAX_MEMBER_RATIO = 200      # a member inflating more than 200x is a zip bomb, not a sheet
XLSX_MAX_CELLS = 2_000_000       # cells read from the first sheet


class XlsxError(errors.InvalidInput):
    """The workbook cannot be read within the bounds (or at all); the message says why."""


def rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(line, cells) of the first sheet's rows, checked and bounded as the module says."""
    _check_archive(data)  # before anything is inflated (or openpyxl even imported)
    import openpyxl
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise _xml_problem(exc) from exc
    try:
        ws = wb.worksheets[0]
        if hasattr(ws, "reset_dimensions"):
            # Never trust the sheet's <dimension>: a stale one hides rows (or pads every
            # row to thousands of empty columns). Read the rows that are really there.
            ws.reset_dimensions()
        yield from _bounded_rows(ws)
    except XlsxError:
        raise
    except Exception as exc:  # malformed sheet XML found while streaming it
        raise _xml_problem(exc) from exc
    finally:
        wb.close()


def _check_archive(data: bytes) -> None:
    """Refuse an xlsx whose members would inflate past the limits, before reading any of them.

    zipfile stops every member at the size its header declares (a member that inflates
    further fails its CRC), so the declared sizes bound what reading can cost.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise XlsxError(f"not a readable .xlsx file (not a ZIP archive: {exc})") from exc
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_INFLATED:
        raise XlsxError(f"the .xlsx file would inflate to {total:,} bytes, more than the "
                              f"{XLSX_MAX_INFLATED:,} allowed (a zip bomb?); nothing was read")
    for m in members:
        if m.file_size > 1_000_000 and m.file_size > XLSX_MAX_MEMBER_RATIO * max(m.compress_size, 1):
            raise XlsxError(f"the .xlsx member {m.filename} inflates {m.file_size // max(m.compress_size, 1):,}"
                                  f" times ({m.file_size:,} bytes), more than a real sheet does "
                                  "(a zip bomb?); nothing was read")


def _xml_problem(exc: BaseException) -> XlsxError:
    # openpyxl wraps the parser's error in a ValueError of its own: name the root cause.
    seen = 0
    while (exc.__cause__ or exc.__context__) is not None and seen < 10:
        exc, seen = exc.__cause__ or exc.__context__, seen + 1  # type: ignore[assignment]
    kind = type(exc).__name__
    if kind in ("EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden", "NotSupportedError"):
        what = "declares XML entities or a DTD (refused: entity expansion)"
    elif kind in ("ParseError", "XMLSyntaxError", "ExpatError"):
        what = "holds malformed XML"
    elif isinstance(exc, zipfile.BadZipFile):
        what = "is a damaged ZIP archive"
    else:
        what = "cannot be read"
    return XlsxError(f"not a readable .xlsx file: the workbook {what} ({kind}: {exc})")


def _bounded_rows(ws: Any) -> Iterator[tuple[int, list[Any]]]:
    cells = 0
    for i, row in enumerate(ws.iter_rows(values_only=True), 1):
        cells += len(row)
        if cells > XLSX_MAX_CELLS:
            raise XlsxError(f"the .xlsx sheet has more than {XLSX_MAX_CELLS:,} cells; "
                                  "split the file")
        yield i, list(row)
