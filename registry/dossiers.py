"""The dossier service every shell calls: sync, ratings, file import, periods and the /2 report.

One-stop systems send the registry what they send DVCQG (contract v2 sections 2 and 6). A
request or a file is all or nothing. A dossier of a procedure the registry does not hold is
kept and reported as unregistered. See docs/dossiers.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from marshmallow import ValidationError

from .auth import Principal
from .coverage import select_targets
from .dossier_coverage import GROUP_KEYS, upgrade
from .dossier_schemas import (
    RatingsBodySchema,
    SyncBodySchema,
    check_row,
    flatten_errors,
    nfc,
    normalise_dossier,
    normalise_rating,
    read_rows,
)
from .reporting import coverage_report
from .store import VN_TZ, DossierExists, Store

# The adapter's answer codes (contract section 2; "04" is ours).
OK, NOT_FOUND, BAD_PARAMETERS, EXISTS = "00", "01", "02", "04"
DOSSIER_INDICATOR_IDS = ("dossier_online_services_rate", "dossier_fully_online_rate", "dossier_on_time_rate",
                         "satisfaction_rate")
IMPORT_CHUNK = 5000


@dataclass
class SyncAnswer:
    """An answer in the adapter's envelope, with the HTTP status the API gives it."""

    error_code: str
    message: str
    status: int = 200
    errors: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    unregistered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The envelope: `error_code`, `message`, `result` (empty), plus our details."""
        out: dict[str, Any] = {"error_code": self.error_code, "message": self.message, "result": []}
        if self.errors:
            out["errors"] = self.errors
        if self.counts:
            out["counts"] = self.counts
        if self.unregistered:
            out["unregistered"] = self.unregistered
        return out


def _bad(errors: Any, what: str) -> SyncAnswer:
    pairs = flatten_errors(errors)
    grouped: dict[str, list[str]] = {}
    for name, message in pairs:
        grouped.setdefault(name or "_body", []).append(message)
    first = ", ".join(sorted(grouped)[:5])
    return SyncAnswer(BAD_PARAMETERS, f"{what}: invalid fields: {first}", 422, grouped)


def _validate_many(items: Sequence[Any], normalise: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, errors = [], {}
    for i, raw in enumerate(items):
        try:
            rows.append(normalise(raw))
        except ValidationError as exc:
            errors[f"data.{i}"] = exc.messages
    return rows, errors


def _scope_error(store: Store, principal: Principal | None, codes: Iterable[str]) -> SyncAnswer | None:
    """403 unless a `system` caller's agencies cover every registered procedure named."""
    if principal is None or principal.role != "system":
        return None
    allowed = set(principal.agencies)
    outside = sorted(p["code"] for p in store.dossier_procedures(list(codes))
                     if not ({p["agency"], *p["agencies"]} - {""}) & allowed)
    if outside:
        return SyncAnswer(BAD_PARAMETERS, f"{principal.username} may not sync dossiers of procedures of "
                          f"other agencies: {', '.join(outside[:20])}", 403)
    return None


def _unregistered(store: Store, codes: Iterable[str]) -> list[str]:
    codes = set(codes)
    return sorted(codes - {p["code"] for p in store.dossier_procedures(list(codes))})


def sync_dossiers(store: Store, cfg: Mapping[str, Any], body: Any, *, principal: Principal | None = None,
                  source: str = "api") -> SyncAnswer:
    """`DongBoHoSoMC`: "False" creates (existing dossiers: "04", nothing written), "True" creates
    or replaces. With `TTHC_DOSSIER_RELAY` every written dossier is queued for DVCQG."""
    if not isinstance(body, dict):
        return SyncAnswer(BAD_PARAMETERS, "the body must be a JSON object {isUpdating, data}", 422,
                          {"_body": ["expected a JSON object"]})
    try:
        SyncBodySchema().load(body)
    except ValidationError as exc:
        return _bad(exc.messages, "DongBoHoSoMC")
    rows, errors = _validate_many(body["data"], normalise_dossier)
    if errors:
        return _bad(errors, "DongBoHoSoMC")
    codes = {r["code"] for r in rows}
    refused = _scope_error(store, principal, codes)
    if refused is not None:
        return refused
    updating = body["isUpdating"] == "True"
    try:
        counts = store.write_dossiers(rows, create_only=not updating, source=source,
                                      relay=bool(cfg.get("DOSSIER_RELAY")), is_updating=updating)
    except DossierExists as exc:
        return SyncAnswer(EXISTS, f"Hồ sơ đã tồn tại: {', '.join(exc.codes[:20])}", 409)
    if cfg.get("DOSSIER_RELAY") and cfg.get("PORTAL_URL") and cfg.get("DOSSIER_RELAY_AUTO"):
        from . import probing  # the relay delivers in the background; the outbox already holds them

        probing.relay_soon(cfg)
    return SyncAnswer(OK, "Thành công", counts=counts, unregistered=_unregistered(store, codes))


def sync_ratings(store: Store, cfg: Mapping[str, Any], body: Any, *, principal: Principal | None = None,
                 source: str = "api") -> SyncAnswer:
    """`DongBoDanhGia`: ratings, one per dossier (a later one replaces the earlier)."""
    if not isinstance(body, dict):
        return SyncAnswer(BAD_PARAMETERS, "the body must be a JSON object {data}", 422,
                          {"_body": ["expected a JSON object"]})
    try:
        RatingsBodySchema().load(body)
    except ValidationError as exc:
        return _bad(exc.messages, "DongBoDanhGia")
    rows, errors = _validate_many(body["data"], normalise_rating)
    if errors:
        return _bad(errors, "DongBoDanhGia")
    refused = _scope_error(store, principal, {r["code"] for r in rows})
    if refused is not None:
        return refused
    counts = store.write_ratings(rows, source=source)
    return SyncAnswer(OK, "Thành công", counts=counts)


# -- files -------------------------------------------------------------------------------------
@dataclass
class FileReport:
    """The outcome of a dossier/rating file: rows read, every bad row, what was written."""

    kind: str
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    written: dict[str, int] | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "ok": self.ok, "dry_run": self.dry_run,
                "errors": self.errors, "written": self.written}


def _chunked(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while True:
        chunk = list(islice(items, size))
        if not chunk:
            return
        yield chunk


def import_file(store: Store, cfg: Mapping[str, Any], path: str | Path, *, kind: str = "dossiers",
                dry_run: bool = False, source: str = "file", max_errors: int = 1000) -> FileReport:
    """Import dossiers or ratings from JSONL/CSV/XLSX: every bad row reported with line and field;
    nothing written when any row is bad. Streams: the file is read twice, never held whole."""
    if kind not in ("dossiers", "ratings"):
        raise ValueError("kind must be dossiers or ratings")
    report = FileReport(kind, dry_run=dry_run)
    seen: set[str] = set()
    for line, raw in read_rows(path):
        report.rows += 1
        try:
            row = check_row(kind, raw)
        except ValidationError as exc:
            for name, message in flatten_errors(exc.messages):
                if len(report.errors) < max_errors:
                    report.errors.append({"line": line, "field": name or "_row", "message": message})
            continue
        if row["mahoso"] in seen:
            report.errors.append({"line": line, "field": "MaHoSo",
                                  "message": f"{row['mahoso']} appears twice in the file"})
        seen.add(row["mahoso"])
    if report.errors or dry_run:
        return report

    def rows() -> Iterator[dict[str, Any]]:
        for _line, raw in read_rows(path):
            yield check_row(kind, raw)

    if kind == "dossiers":
        report.written = store.bulk_write_dossiers(_chunked(rows(), IMPORT_CHUNK), source=source,
                                                   relay=bool(cfg.get("DOSSIER_RELAY")))
    else:
        report.written = store.bulk_write_ratings(_chunked(rows(), IMPORT_CHUNK), source=source)
    return report


def load_rows(store: Store, dossiers: Iterable[Mapping[str, Any]], ratings: Iterable[Mapping[str, Any]], *,
              source: str) -> dict[str, Any]:
    """Validated bulk load of already-parsed dossiers and ratings (the fixture); ValueError on a bad row."""
    def checked(items: Iterable[Mapping[str, Any]], normalise: Any) -> Iterator[dict[str, Any]]:
        for i, raw in enumerate(items):
            try:
                yield normalise(dict(raw))
            except ValidationError as exc:
                raise ValueError(f"row {i + 1}: {exc.messages}") from exc

    written = store.bulk_write_dossiers(_chunked(checked(dossiers, normalise_dossier), IMPORT_CHUNK), source=source)
    rated = store.bulk_write_ratings(_chunked(checked(ratings, normalise_rating), IMPORT_CHUNK), source=source)
    return {"dossiers": written, "ratings": rated}


# -- periods and the report ---------------------------------------------------------------------
class PeriodError(ValueError):
    """A period that is not `2021`, `2021-Q3`, `2021-07` or a from/to pair of days."""


_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(0[1-9]|1[0-2])))?$")


def parse_period(period: str | None = None, day_from: date | str | None = None,
                 day_to: date | str | None = None, *, default_year: int | None = None) -> dict[str, str]:
    """`{"label", "from", "to"}` (days, inclusive) of a period text or a from/to pair."""
    if period and (day_from or day_to):
        raise PeriodError("give either period or from/to, not both")
    if day_from or day_to:
        if not (day_from and day_to):
            raise PeriodError("from and to go together")
        start, end = date.fromisoformat(str(day_from)), date.fromisoformat(str(day_to))
        if end < start:
            raise PeriodError("to is before from")
        return {"label": f"{start}/{end}", "from": start.isoformat(), "to": end.isoformat()}
    text = (period or str(default_year or datetime.now(VN_TZ).year)).strip()
    match = _PERIOD_RE.match(text)
    if not match:
        raise PeriodError(f"period must look like 2021, 2021-Q3 or 2021-07, not {text!r}")
    year, quarter, month = int(match[1]), match[2], match[3]
    if quarter:
        first = 3 * (int(quarter) - 1) + 1
        start, end = date(year, first, 1), _month_end(year, first + 2)
    elif month:
        start, end = date(year, int(month), 1), _month_end(year, int(month))
    else:
        start, end = date(year, 1, 1), date(year, 12, 31)
    return {"label": text, "from": start.isoformat(), "to": end.isoformat()}


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))


def default_year(store: Store) -> int:
    """The year of the latest dossier activity (the current year when there is none)."""
    _first, last = store.dossier_days()
    return int(last[:4]) if last else datetime.now(VN_TZ).year


def dossier_report(store: Store, cfg: Mapping[str, Any], *, basis: str = "declared",
                   period: Mapping[str, str] | None = None, group_by: Sequence[str] = (),
                   as_of: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The `tthc-coverage/2` report: /1's figures unchanged plus the dossier indicators of `period`.

    `as_of` clips the period at that day (dossiers as the registry holds them now)."""
    unknown = [g for g in group_by if g not in GROUP_KEYS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; use {', '.join(GROUP_KEYS)}")
    period = dict(period or parse_period(default_year=default_year(store)))
    if as_of is not None and as_of.isoformat() < period["to"]:
        period["to"] = max(period["from"], as_of.isoformat())
    base = coverage_report(store, cfg, basis=basis, group_by=[g for g in group_by if g != "procedure"],
                           as_of=as_of, now=now)
    today = (as_of or (now or datetime.now(VN_TZ)).date()).isoformat()
    declared = store.dossier_period_counts(period["from"], period["to"])
    verified = store.dossier_period_counts(period["from"], period["to"], verified=True)
    pending = store.dossier_pending_counts(today, verified=basis == "verified")
    targets = select_targets(store.list_targets(), date.fromisoformat(period["to"]))
    return upgrade(base, store.dossier_procedures(), period=period, declared=declared, verified=verified,
                   pending=pending, targets=targets,
                   unregistered=store.unregistered_dossier_codes(period["from"], period["to"]),
                   group_by=list(group_by))


def dossier_page(store: Store, cfg: Mapping[str, Any], *, basis: str = "declared",
                 period: Mapping[str, str] | None = None, late_limit: int = 20) -> dict[str, Any]:
    """What the dashboard's "Hồ sơ" page shows: the /2 report by agency and procedure, the
    procedures with most late dossiers, month by month, unsynced and unregistered dossiers."""
    report = dossier_report(store, cfg, basis=basis, period=period, group_by=("agency", "procedure"))
    names = {p["code"]: p for p in store.dossier_procedures()}
    per_procedure = []
    for entry in report["groups"]["procedure"]:
        counts = entry["dossiers"]
        if not counts["received"]["total"] and not counts["resolved"]["total"]:
            continue
        proc = names.get(entry["key"]) or {}
        per_procedure.append({"code": entry["key"], "name": proc.get("name") or "", "agency": proc.get("agency") or "",
                              "registered": bool(proc), "received": counts["received"]["total"],
                              "resolved": counts["resolved"]["total"], "late": counts["resolved"]["late"],
                              "past_due": counts["in_progress"]["past_due"]})
    most_late = sorted((r for r in per_procedure if r["late"]), key=lambda r: (-r["late"], r["code"]))[:late_limit]
    p = report["period"]
    return {"report": report, "most_late": most_late, "months": store.dossier_monthly(p["from"], p["to"]),
            "unsynced": store.unsynced_dossiers(50), "relay": relay_status(store, cfg)}


def relay_status(store: Store, cfg: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The relay queue as an operator sees it (with the oldest entry's age in seconds)."""
    summary = store.outbox_summary()
    now = now or datetime.now(VN_TZ)
    oldest = summary["oldest_created_at"]
    age = (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else None
    return {"enabled": bool(cfg.get("DOSSIER_RELAY")), **summary,
            "oldest_age_seconds": round(age, 1) if age is not None else None,
            "verification_queue": store.dossier_queue_size()}


def unsynced(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """Dossiers DVCQG does not hold as the registry does (the 766 index's lost points)."""
    return store.unsynced_dossiers(limit)


def clean_key(value: str) -> str:
    """A dossier code from a URL, NFC and trimmed."""
    return nfc(value)
