"""Summing units' coverage reports: numerators and denominators add, percentages never average.

Pure: snapshots (dicts with their report) in, the federated report out; no I/O.
- A unit counts in the sums only with a snapshot whose last good pull is within the staleness
  window; a stale or missing unit is listed and flagged, never silently mixed in.
- An indicator sums over the included units that report it as available; `units` says how many.
- Percent, `met` and `needed` come from the summed counts with the coverage method's own maths
  and the federating unit's targets in force.
- `rank`, per indicator, orders the included units by percent, best first (equal percents share
  a rank: 1, 1, 3).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from ..clock import VN_TZ, format_time, to_datetime
from ..coverage import needed_for, percent_of, select_targets

METHOD = "tthc-federation/1"
CSV_COLUMNS = ("scope", "unit_code", "unit_name", "status", "as_of", "indicator", "numerator", "denominator",
               "percent", "rank", "target_percent", "met", "needed")


def _status(snapshot: Mapping[str, Any] | None, last_pull: Mapping[str, Any] | None, moment: datetime,
            window: timedelta, live: bool) -> tuple[str, float | None]:
    """(status, age in hours of the last good pull): ok, failing, stale or missing."""
    if snapshot is None:
        return "missing", None
    good = to_datetime(snapshot["confirmed_at"] if live else snapshot["pulled_at"])
    age = (moment - good).total_seconds() / 3600 if good else None
    if age is None or age > window.total_seconds() / 3600:
        return "stale", age
    if live and last_pull is not None and last_pull.get("outcome") == "failed":
        return "failing", age
    return "ok", age


def _ranks(values: Mapping[str, float]) -> dict[str, int]:
    ordered = sorted(values.values(), reverse=True)
    return {code: ordered.index(value) + 1 for code, value in values.items()}


def _totals(reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"procedures": 0, "online": 0, "by_level": {}}
    for report in reports:
        totals = report.get("totals") or {}
        out["procedures"] += int(totals.get("procedures") or 0)
        out["online"] += int(totals.get("online") or 0)
        for level, count in (totals.get("by_level") or {}).items():
            out["by_level"][level] = out["by_level"].get(level, 0) + int(count or 0)
    return out


def _counts(report: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{indicator: (numerator, denominator)} of the available indicators of one report."""
    out = {}
    for item in report.get("indicators") or []:
        num, den = item.get("numerator"), item.get("denominator")
        if item.get("available", True) and isinstance(num, int) and isinstance(den, int):
            out[str(item["id"])] = (num, den)
    return out


def _claimed(report: Mapping[str, Any], ind_id: str) -> Any:
    return next((i.get("claimed_unconfirmed") for i in report.get("indicators") or [] if i.get("id") == ind_id), None)


def federate(units: Sequence[Mapping[str, Any]], snapshots: Mapping[str, Mapping[str, Any] | None],
             last_pulls: Mapping[str, Mapping[str, Any] | None], targets: Iterable[Mapping[str, Any]], *,
             basis: str, moment: datetime, live: bool, stale_hours: float, rounding: str = "truncate",
             unit: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The federated report of `units` from each one's snapshot (None: never pulled)."""
    window = timedelta(hours=stale_hours)
    rows: list[dict[str, Any]] = []
    included: dict[str, Mapping[str, Any]] = {}
    for u in units:
        code = u["code"]
        snap, pull = snapshots.get(code), last_pulls.get(code)
        status, age = _status(snap, pull, moment, window, live)
        report = snap["report"] if snap else None
        row: dict[str, Any] = {
            "code": code, "name": u.get("name") or (report or {}).get("unit", {}).get("name") or "",
            "url": u.get("url"), "status": status, "included": status in ("ok", "failing"),
            "method": snap["method"] if snap else None, "as_of": snap["as_of"] if snap else None,
            "pulled_at": snap["pulled_at"] if snap else None,
            "confirmed_at": snap["confirmed_at"] if snap else None,
            "age_hours": None if age is None else round(age, 2),
            "last_pull": None if pull is None else {k: pull.get(k) for k in ("at", "outcome", "reason")},
            "totals": report.get("totals") if report else None, "indicators": []}
        if report is not None:
            for ind_id, (num, den) in _counts(report).items():
                pct = percent_of(num, den, rounding=rounding)
                row["indicators"].append({"id": ind_id, "numerator": num, "denominator": den,
                                          "percent": None if pct is None else float(pct), "rank": None})
        if row["included"] and report is not None:
            included[code] = report
        rows.append(row)

    ids: list[str] = []
    for report in included.values():
        ids.extend(i for i in _counts(report) if i not in ids)
    in_force = select_targets(targets, moment.date())
    indicators = []
    for ind_id in ids:
        parts = {code: _counts(r)[ind_id] for code, r in included.items() if ind_id in _counts(r)}
        num = sum(n for n, _ in parts.values())
        den = sum(d for _, d in parts.values())
        pct = percent_of(num, den, rounding=rounding)
        target = in_force.get(ind_id)
        needed = needed_for(num, den, target["percent"], rounding=rounding) if target else None
        item: dict[str, Any] = {
            "id": ind_id, "numerator": num, "denominator": den, "percent": None if pct is None else float(pct),
            "target": None if target is None else {**target, "percent": float(target["percent"])},
            "met": None if needed is None else needed == 0, "needed": needed, "units": len(parts)}
        claimed = [_claimed(included[code], ind_id) for code in parts]
        if basis == "verified" and claimed and all(isinstance(c, int) for c in claimed):
            item["claimed_unconfirmed"] = sum(claimed)  # type: ignore[arg-type]
        indicators.append(item)
        ranks = _ranks({code: float(percent_of(n, d, rounding=rounding) or 0) for code, (n, d) in parts.items()
                        if d > 0})
        for row in rows:
            for item in row["indicators"]:
                if item["id"] == ind_id and row["code"] in ranks:
                    item["rank"] = ranks[row["code"]]
    return {
        "method": METHOD, "basis": basis, "as_of": format_time(moment),
        "unit": dict(unit) if unit is not None else None, "rounding": rounding, "stale_after_hours": stale_hours,
        "totals": _totals(included.values()), "indicators": indicators, "units": rows,
        "missing": [r["code"] for r in rows if r["status"] == "missing"],
        "stale": [r["code"] for r in rows if r["status"] == "stale"],
        "failing": [r["code"] for r in rows if r["status"] == "failing"],
    }


def trend(snapshots: Sequence[Mapping[str, Any]], *, rounding: str = "truncate", stale_hours: float | None = None,
          now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """{indicator: [{day, numerator, denominator, percent, units}]}: the national sums at the end
    of each day a snapshot arrived (today: now), from each unit's latest snapshot by then, leaving
    out, as the federated report does, a snapshot older than `stale_hours` at that moment."""
    days = sorted({to_datetime(s["pulled_at"]).date() for s in snapshots})  # type: ignore[union-attr]
    window = None if stale_hours is None else timedelta(hours=stale_hours)
    out: dict[str, list[dict[str, Any]]] = {}
    for day in days:
        moment = datetime.combine(day, time(23, 59, 59), tzinfo=VN_TZ)
        if now is not None and now < moment:
            moment = now
        latest: dict[str, Mapping[str, Any]] = {}
        for snap in snapshots:  # oldest first: later ones replace earlier ones
            if to_datetime(snap["pulled_at"]) <= moment:  # type: ignore[operator]
                latest[snap["unit_code"]] = snap
        sums: dict[str, list[int]] = {}
        for snap in latest.values():
            confirmed = to_datetime(snap.get("confirmed_at") or snap["pulled_at"])
            good = confirmed if confirmed is not None and confirmed <= moment else to_datetime(snap["pulled_at"])
            if window is not None and good is not None and moment - good > window:
                continue
            for ind_id, (num, den) in _counts(snap["report"]).items():
                acc = sums.setdefault(ind_id, [0, 0, 0])
                acc[0] += num
                acc[1] += den
                acc[2] += 1
        for ind_id, (num, den, n) in sums.items():
            pct = percent_of(num, den, rounding=rounding)
            out.setdefault(ind_id, []).append({"day": day.isoformat(), "numerator": num, "denominator": den,
                                               "percent": None if pct is None else float(pct), "units": n})
    return out


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def to_csv_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The federated report flattened: national rows first, then one row per unit and indicator."""
    rows = []
    for item in report["indicators"]:
        target = item.get("target") or {}
        rows.append({"scope": "national", "unit_code": "", "unit_name": "", "status": "", "as_of": report["as_of"],
                     "indicator": item["id"], "numerator": item["numerator"], "denominator": item["denominator"],
                     "percent": item["percent"], "rank": None, "target_percent": target.get("percent"),
                     "met": item["met"], "needed": item["needed"]})
    for unit in report["units"]:
        items = unit["indicators"] or [{"id": "", "numerator": None, "denominator": None, "percent": None,
                                        "rank": None}]
        for item in items:
            rows.append({"scope": "unit", "unit_code": unit["code"], "unit_name": unit["name"],
                         "status": unit["status"], "as_of": unit["as_of"], "indicator": item["id"],
                         "numerator": item["numerator"], "denominator": item["denominator"],
                         "percent": item["percent"], "rank": item["rank"], "target_percent": None,
                         "met": None, "needed": None})
    return [{c: _csv_value(r[c]) for c in CSV_COLUMNS} for r in rows]

