"""Cells safe to open in a spreadsheet: formula injection neutralised, and undone on import.

OWASP's advice for CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return may be run as a formula by Excel or LibreOffice, so such a cell is written
with a leading apostrophe (`'=1+1`), which spreadsheets show as text. To keep round trips
exact, a cell that already starts with an apostrophe followed by one of those characters
(or by another apostrophe) is prefixed too, and `restore` strips exactly one apostrophe
from such cells when a file is imported. Only text is touched; numbers stay numbers.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from . import errors

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"
_AFTER_QUOTE = (*TRIGGERS, _QUOTE)


def neutralise(value: Any) -> Any:
    """`value` with a leading apostrophe if a spreadsheet could take it for a formula."""
    if isinstance(value, str) and value and (
            value.startswith(TRIGGERS) or (value[0] == _QUOTE and value[1:].startswith(_AFTER_QUOTE))):
        return _QUOTE + value
    return value


def restore(value: Any) -> Any:
    """Undo `neutralise` (for cells read from a CSV or XLSX file)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == _QUOTE and value[1:].startswith(_AFTER_QUOTE):
        return value[1:]
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row neutralised."""
    return [neutralise(v) for v in values]


def safe_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every value of a csv.DictWriter row neutralised."""
    return {k: neutralise(v) for k, v in row.items()}


class UnstorableText(errors.InvalidInput):
    """Text an XLSX cell cannot hold (a control character stored before input refused them)."""


# What XML 1.0, hence XLSX, cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def check_xlsx_text(values: Iterable[Any], label: str) -> None:
    """Refuse, naming `label`, text an XLSX cell cannot hold (never dropped or altered silently).
    Call it on every row before the workbook is started."""
    for v in values:
        bad = _ILLEGAL.search(v) if isinstance(v, str) else None
        if bad:
            raise UnstorableText(f"{label} holds the control character U+{ord(bad.group()):04X}, "
                                 "which an .xlsx cell cannot hold: export it as csv or json")


def xlsx_row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """Cells for openpyxl's write-only `ws.append`: text neutralised and typed as a string, so
    that no cell is ever stored as a formula (openpyxl would make `=...` one)."""
    from openpyxl.cell import WriteOnlyCell

    out: list[Any] = []
    for v in values:
        if isinstance(v, str):
            cell = WriteOnlyCell(ws, value=neutralise(v))
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(v)
    return out
