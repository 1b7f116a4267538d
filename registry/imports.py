"""The import service every interface uses: parse, check against the registry, apply all or nothing."""
from __future__ import annotations

import contextlib
import gc
import threading
from dataclasses import dataclass, field
from typing import Any, Collection, Iterator

from .importer import ImportFileError, RowError, parse
from .store import Store

__all__ = ["ImportFileError", "ImportReport", "run_import"]


@dataclass
class ImportReport:
    """What an import did (or would do): counts by outcome, or every bad row."""

    filename: str
    format: str
    rows: int
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.filename, "format": self.format, "rows": self.rows, "dry_run": self.dry_run,
                "written": self.written, "inserted": len(self.inserted), "updated": len(self.updated),
                "unchanged": len(self.unchanged), "errors": [e.to_dict() for e in self.errors]}


class _CyclicGcPause:
    """Pauses Python's cyclic garbage collector while any import runs (reference counting goes on).

    An import keeps several new containers per row alive until it ends, so the collector
    would rescan an ever larger heap each time its thresholds trip: ~12% of a 100,000-row
    import, for no garbage (rows form no cycles). A count makes concurrent imports nest; the
    collector resumes when the last one ends, and only if it was running before the first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = True

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._was_enabled:
                    gc.enable()


_cyclic_gc_paused = _CyclicGcPause()


def run_import(store: Store, data: bytes, filename: str, *, actor: str, source: str = "import",
               fmt: str | None = None, dry_run: bool = False,
               allowed_agencies: Collection[str] | None = None) -> ImportReport:
    """Validate every row and, if all are good, apply them in one transaction.

    `allowed_agencies` (an editor's scope) refuses rows whose procedure - as stored or as
    imported - belongs to an agency outside it. Raises ImportFileError for an unreadable file.
    """
    with _cyclic_gc_paused():
        return _run_import(store, data, filename, actor=actor, source=source, fmt=fmt,
                           dry_run=dry_run, allowed_agencies=allowed_agencies)


def _run_import(store: Store, data: bytes, filename: str, *, actor: str, source: str,
                fmt: str | None, dry_run: bool,
                allowed_agencies: Collection[str] | None) -> ImportReport:
    """run_import's work, with the garbage collector paused around it."""
    parsed = parse(data, filename, fmt)
    report = ImportReport(filename, parsed.format, len(parsed.rows) + len(parsed.errors), dry_run,
                          errors=list(parsed.errors))
    existing = {r["code"]: r for r in store.procedures_by_code([r["code"] for r in parsed.rows])}
    for line, row in zip(parsed.lines, parsed.rows):
        stored = existing.get(row["code"])
        if stored is None and not row.get("name"):
            report.errors.append(RowError(line, "name", "name is required for a new procedure",
                                          row["code"]))
        if allowed_agencies is not None:
            agencies = {a for a in (row.get("agency"), *(row.get("agencies") or [])) if a}
            if stored is not None:
                agencies |= {stored["agency"], *stored["agencies"]} - {""}
            outside = agencies - set(allowed_agencies)
            if outside or not agencies:
                report.errors.append(RowError(
                    line, "agency", "outside your agencies: " + (", ".join(sorted(outside)) or "(none)"),
                    row["code"]))
    report.errors.sort(key=lambda e: e.line)
    if report.errors:
        return report
    outcome = store.apply_import(parsed.rows, actor=actor, source=source, dry_run=dry_run)
    report.inserted, report.updated, report.unchanged = (outcome["inserted"], outcome["updated"],
                                                         outcome["unchanged"])
    return report
