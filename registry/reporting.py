"""Building coverage reports from the store: picks the rows (now or as of a date) and the targets."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Mapping, Sequence

from .clock import format_time, to_datetime
from .coverage import build_report
from .store import VN_TZ, Store


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
        rows = attach_evidence(store, store.coverage_rows(), as_of=when)
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
    return report


def attach_evidence(store: Store, rows: list[dict[str, Any]], *, as_of: datetime) -> list[dict[str, Any]]:
    """Add each procedure's latest linkage/payment verdicts (None until probes exist)."""
    latest = getattr(store, "latest_verdicts", None)
    if latest is None:
        return rows
    verdicts = latest(as_of=as_of.isoformat())
    return [{**r, **verdicts.get(r["code"], {})} for r in rows]
