"""Building coverage reports from the store: picks the rows (now or as of a date) and the targets.

`coverage_document` and `cached_coverage_report` serve them from the per-process cache keyed on
the store's change counter (`registry/cache.py`); `coverage_not_modified` answers a
conditional request without computing anything.
"""
from __future__ import annotations

import csv
import io
import json
import time as clock
from datetime import date, datetime, time, timedelta
from importlib import metadata
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from .cache import NEVER, Cached, any_current, cache_for, fingerprint, make_etag
from .clock import format_time, to_datetime
from .coverage import CSV_COLUMNS, METHOD, build_report, report_to_csv_rows
from .spreadsheet import safe_dict
from .report_schema import schema_path
from .store import VN_TZ, Store, current_state

# A store, or a function that opens one only when needed (a cache hit or a 304 opens nothing).
StoreSource = Union[Store, Callable[[], Store]]

# What else a cached document depends on: the code that computes it and the settings it reads.
try:
    _CODE = metadata.version("tthc")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    _CODE = "0"
REPORT_SETTINGS = ("ROUNDING", "STALENESS_DAYS", "UNIT_CODE", "UNIT_NAME")


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Vietnam time."""
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=VN_TZ)


def coverage_report(store: Store, cfg: Mapping[str, Any], *, basis: str = "declared",
                    group_by: Sequence[str] = (), as_of: date | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """The `tthc-coverage/1` report of the registry, as it stands or as it stood at `as_of`."""
    now = now or datetime.now(VN_TZ)
    if as_of is not None:
        cutoff = end_of_day(as_of)
        rows = [r for r in store.procedures_as_of(cutoff.isoformat()) if r["status"] == "active"]
        when = cutoff
    elif basis == "verified":
        when = now
        # The current verdicts, with their stale flags (a sweep that could not re-check a
        # procedure marks its verdict stale even without an `unknown` attempt of its own).
        rows = attach_evidence(store, store.coverage_rows(), as_of=None)
    else:
        when = now
        rows = store.coverage_cohorts(group_by)  # aggregated in SQL: see coverage.py
    if as_of is not None and basis == "verified":
        rows = attach_evidence(store, rows, as_of=when)
    report = build_report(
        rows, store.list_targets(), basis=basis, rounding=cfg["ROUNDING"],
        unit={"code": cfg["UNIT_CODE"], "name": cfg["UNIT_NAME"]}, as_of=when, group_by=tuple(group_by),
        now=when, staleness=timedelta(days=cfg["STALENESS_DAYS"]))
    if as_of is None and basis == "declared":
        # Cohorts carry no evidence: freshness comes from one aggregate over the verdicts.
        summary = store.evidence_summary((when - timedelta(days=cfg["STALENESS_DAYS"])).isoformat())
        oldest = to_datetime(summary["oldest_evidence"])
        report["freshness"] = {"oldest_evidence": format_time(oldest) if oldest else None,
                               "unverified": report["totals"]["online"] - summary["fresh_online"]}
    return {"$schema": schema_path(report["method"]), **report}


def attach_evidence(store: Store, rows: list[dict[str, Any]], *,
                    as_of: datetime | None) -> list[dict[str, Any]]:
    """Add each procedure's latest linkage/payment verdicts (None until probes exist), as they
    stand (`as_of` None) or rebuilt from the attempts made up to `as_of`."""
    latest = getattr(store, "latest_verdicts", None)
    if latest is None:
        return rows
    verdicts = latest(as_of=None if as_of is None else as_of.isoformat())
    return [{**r, **verdicts.get(r["code"], {})} for r in rows]


def coverage_csv(report: Mapping[str, Any]) -> str:
    """The report as CSV text, one row per indicator (and group)."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(safe_dict(row) for row in report_to_csv_rows(report))  # spreadsheet-safe cells
    return buf.getvalue()


def next_midnight(moment: datetime) -> datetime:
    """The next start of a day in Hà Nội (a new target may come into force then)."""
    day = moment.astimezone(VN_TZ).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=VN_TZ)


def report_expiry(store: Store, cfg: Mapping[str, Any], now: datetime, as_of: date | None) -> float:
    """When a report computed `now` stops being true with no write (epoch seconds).

    A report as of a day is computed at that day's end whatever the clock says: never. A live
    one changes at midnight (the target in force) or when its first fresh verdict goes stale.
    """
    if as_of is not None:
        return NEVER
    staleness = timedelta(days=cfg["STALENESS_DAYS"])
    until = next_midnight(now)
    first = to_datetime(store.evidence_expiry((now - staleness).isoformat()))
    if first is not None:
        until = min(until, first + staleness)
    return until.timestamp()


def coverage_print(cfg: Mapping[str, Any], *, basis: str, group_by: Sequence[str], as_of: date | None,
                   fmt: str) -> str:
    """The fingerprint of one report request: everything but the data it depends on."""
    return fingerprint("coverage", METHOD, _CODE, basis, list(group_by),
                       as_of.isoformat() if as_of else None, fmt, {k: cfg[k] for k in REPORT_SETTINGS})


def _state(cfg: Mapping[str, Any]) -> str | None:
    return current_state(cfg["DATABASE"], cfg.get("BUSY_TIMEOUT_MS", 10000))


def _cached(cfg: Mapping[str, Any], print_: str, fill: Callable[[], Cached]) -> Cached:
    state = _state(cfg)
    if state is None:  # no counter to key on: compute every time
        return fill()
    return cache_for(cfg["DATABASE"]).get_or_compute((state, print_), clock.time(), fill)


def _store(source: StoreSource) -> Store:
    return source if isinstance(source, Store) else source()


def coverage_not_modified(cfg: Mapping[str, Any], tags: Iterable[str], *, basis: str,
                          group_by: Sequence[str] = (), as_of: date | None = None, fmt: str = "json") -> str | None:
    """The tag among `tags` (If-None-Match) that is still current, else None: one tiny query on
    a connection the thread keeps, no report and no store opened."""
    tags = list(tags)
    if not tags:
        return None
    print_ = coverage_print(cfg, basis=basis, group_by=group_by, as_of=as_of, fmt=fmt)
    state = _state(cfg)
    return None if state is None else any_current(tags, state, print_, clock.time())


def coverage_document(source: StoreSource, cfg: Mapping[str, Any], *, basis: str = "declared",
                      group_by: Sequence[str] = (), as_of: date | None = None, fmt: str = "json") -> Cached:
    """The report rendered as `json` text, `csv` text, or (`dict`) the report itself, from the
    cache while the data and the clock leave it true; computed (once per state) otherwise."""
    print_ = coverage_print(cfg, basis=basis, group_by=group_by, as_of=as_of, fmt=fmt)

    def compute() -> Cached:
        store = _store(source)
        with store.read_snapshot() as state:  # the figures and their tag from one state
            now = datetime.now(VN_TZ)
            report = coverage_report(store, cfg, basis=basis, group_by=group_by, as_of=as_of, now=now)
            expires = report_expiry(store, cfg, now, as_of)
        if fmt == "csv":
            value: Any = coverage_csv(report)
        elif fmt == "json":
            value = json.dumps(report, ensure_ascii=False)
        else:
            value = report
        return Cached(value, make_etag(state, print_, expires), expires)

    return _cached(cfg, print_, compute)


def cached_coverage_report(source: StoreSource, cfg: Mapping[str, Any], *, basis: str = "declared",
                           group_by: Sequence[str] = (), as_of: date | None = None) -> dict[str, Any]:
    """The report as a dict, from the cache (treat it as read-only: it is shared)."""
    return coverage_document(source, cfg, basis=basis, group_by=group_by, as_of=as_of, fmt="dict").value


def cached_value(source: StoreSource, cfg: Mapping[str, Any], name: str, params: Any,
                 compute: Callable[[Store], Any], *, clock_sensitive: bool = True) -> Cached:
    """Any document computed from the store (a procedure page, a count), cached like the report:
    keyed on the change counter, `name`, `params` and the report settings; a clock-sensitive one
    (freshness of evidence, targets in force) also ends when the report would."""
    print_ = fingerprint(name, _CODE, params, {k: cfg[k] for k in REPORT_SETTINGS})

    def fill() -> Cached:
        store = _store(source)
        with store.read_snapshot() as state:
            now = datetime.now(VN_TZ)
            value = compute(store)
            expires = report_expiry(store, cfg, now, None) if clock_sensitive else NEVER
        return Cached(value, make_etag(state, print_, expires), expires)

    return _cached(cfg, print_, fill)


def value_not_modified(cfg: Mapping[str, Any], tags: Iterable[str], name: str, params: Any) -> str | None:
    """The tag among `tags` still current for `cached_value(..., name, params, ...)`, else None."""
    tags = list(tags)
    if not tags:
        return None
    print_ = fingerprint(name, _CODE, params, {k: cfg[k] for k in REPORT_SETTINGS})
    state = _state(cfg)
    return None if state is None else any_current(tags, state, print_, clock.time())
