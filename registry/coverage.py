"""Coverage method `tthc-coverage/1`: procedures and targets in, a report dict out.

Pure: no I/O, no Flask, no SQL, no imports from the rest of `registry` (design.md).

Choices a reader of the report must know:
- Only `status == "active"` procedures count (a missing status counts as active).
- Percentages use exact integer maths and carry `decimals` places, truncated toward zero by
  default (the seeds' own figures: 444 / 1,431 -> 31.02) or half-up; JSON numbers.
- Target in force: per indicator, the nearest one due on or after the `as_of` date (Hà Nội
  time), else the latest one (an overdue target stays the yardstick until a new one exists).
- `met` is "reported percent >= target"; `needed` is the fewest additional procedures that
  make the reported percent reach the target (so `met` iff `needed == 0`, under either
  rounding). No target, or an empty denominator: `met` and `needed` are null.
- `candidates`: procedures in the denominator but not the numerator, only while `needed > 0`,
  ranked: claimed-but-unconfirmed first (verified basis), then those closest to qualifying
  (missing one of SSO/payment, online before offline, level 4 before 3), then code; at most
  `candidates_limit`, with `candidates_total` for the whole pool.
- `verified` basis: DVCQG integration counts only with a fresh `linkage.verdict ==
  "integrated"`, online payment only with a fresh `payment.verdict == "payment_ready"`
  (fresh: `now - checked_at < staleness`). Service levels, fees and SSO stay declared (no
  probe checks them). Each indicator adds `claimed_unconfirmed`: declared yet not confirmed.
- `freshness` (either basis): `oldest_evidence` is the oldest `checked_at` among the linkage
  and payment verdicts of active procedures, fresh or stale (`unknown` is no verdict);
  `unverified` counts online procedures without a fresh linkage verdict.
- Groups: `agency` is the primary agency; `level` is the administrative level in `levels`
  (bo/tinh/huyen/xa/khac; a procedure offered at several counts in each); keys sorted.
"""
from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .clock import VN_TZ, format_time, to_datetime

METHOD = "tthc-coverage/1"
BASES = ("declared", "verified")
ROUNDINGS = {"truncate": "truncate", "half_up": "half_up", "half-up": "half_up"}
GROUP_KEYS = ("agency", "level", "field")
ONLINE_LEVELS = (3, 4)
PAYMENT_CHANNELS = ("dvcqg_payment", "paygov")
LINKAGE_CONFIRMED = "integrated"
PAYMENT_CONFIRMED = "payment_ready"
# Need per-period dossier statistics the registry does not hold yet: reported unavailable.
DOSSIER_INDICATORS = ("dossier_online_services_rate", "dossier_fully_online_rate",
                      "dossier_on_time_rate", "satisfaction_rate")
CSV_COLUMNS = ("scope", "group", "key", "indicator", "numerator", "denominator", "percent",
               "target_percent", "due", "source", "met", "needed")


@dataclass(slots=True)
class _Row:
    """What the method needs of one active procedure, evaluated once per report."""

    code: str
    level: int
    online: bool
    fee: bool
    sso: bool
    integrated: bool            # counted on the report's basis
    integrated_declared: bool
    payment: bool               # counted on the report's basis
    payment_declared: bool
    linkage_fresh: bool
    agency: str
    field: str
    levels: tuple[str, ...]
    weight: int = 1             # a cohort of identical procedures counts `weight` times
    codes: Any = None           # a cohort's codes, sorted (list or comma-separated text)


@dataclass(frozen=True, slots=True)
class _Spec:
    """One procedure indicator: who is counted, who qualifies, how candidates rank."""

    id: str
    denominator: Callable[[_Row], bool]
    numerator: Callable[[_Row], bool]
    declared: Callable[[_Row], bool]
    rank: Callable[[_Row], tuple[Any, ...]]


# Candidates: in verified basis the claimed-but-unconfirmed come first (a probe may be all
# they need), then the ones closest to qualifying, then code for a stable order.
SPECS = (
    _Spec("online_rate", lambda r: True, lambda r: r.online, lambda r: r.online,
          lambda r: (-r.level, r.code)),
    _Spec("level4_rate", lambda r: True, lambda r: r.level == 4, lambda r: r.level == 4,
          lambda r: (-r.level, r.code)),
    _Spec("dvcqg_integration_rate", lambda r: r.online, lambda r: r.integrated,
          lambda r: r.integrated_declared,
          lambda r: (not r.integrated_declared, -r.level, r.code)),
    _Spec("sso_payment_rate", lambda r: r.online, lambda r: r.sso and r.payment,
          lambda r: r.sso and r.payment_declared,
          lambda r: (not (r.sso and r.payment_declared), 2 - r.sso - r.payment_declared,
                     -r.level, r.code)),
    _Spec("online_payment_rate", lambda r: r.fee, lambda r: r.payment,
          lambda r: r.payment_declared,
          lambda r: (not r.payment_declared, not r.online, -r.level, r.code)),
)


INDICATORS = tuple(spec.id for spec in SPECS) + DOSSIER_INDICATORS


_iso = format_time


def percent_of(numerator: int, denominator: int, *, decimals: int = 2,
               rounding: str = "truncate") -> Decimal | None:
    """numerator/denominator as a percentage with `decimals` places, exact integer maths."""
    if denominator <= 0:
        return None
    quotient, remainder = divmod(numerator * 100 * 10 ** decimals, denominator)
    if ROUNDINGS[rounding] == "half_up" and 2 * remainder >= denominator:
        quotient += 1
    return Decimal(quotient).scaleb(-decimals)


def needed_for(numerator: int, denominator: int, target: Decimal | float | int | str, *,
               decimals: int = 2, rounding: str = "truncate") -> int | None:
    """Fewest extra procedures whose reported percent reaches `target` (0 if already there)."""
    if denominator <= 0:
        return None
    scale = 10 ** decimals
    # The reported percent reaches the target exactly when the ratio reaches this threshold.
    steps = math.ceil(Fraction(Decimal(str(target))) * scale)
    threshold = Fraction(steps, scale)
    if ROUNDINGS[rounding] == "half_up":
        threshold -= Fraction(1, 2 * scale)
    return max(0, math.ceil(threshold * denominator / 100) - numerator)


def _number(value: Decimal | None) -> float | None:
    # float() of a short decimal prints back the same digits (shortest repr), and JSON needs it.
    return None if value is None else float(value)


def select_targets(targets: Iterable[Mapping[str, Any]], as_of: date) -> dict[str, dict[str, Any]]:
    """The target in force per indicator: nearest due on/after `as_of`, else the latest one."""
    by_indicator: dict[str, list[tuple[date, Mapping[str, Any]]]] = {}
    for target in targets:
        due = target.get("due")
        if isinstance(due, datetime):
            due_date = due.date()
        elif isinstance(due, date):
            due_date = due
        else:
            due_date = date.fromisoformat(str(due)[:10])
        by_indicator.setdefault(str(target["indicator"]), []).append((due_date, target))
    chosen: dict[str, dict[str, Any]] = {}
    for indicator, items in by_indicator.items():
        items.sort(key=lambda item: item[0])
        upcoming = [item for item in items if item[0] >= as_of]
        due_date, target = upcoming[0] if upcoming else items[-1]
        chosen[indicator] = {"percent": Decimal(str(target["percent"])),
                             "due": due_date.isoformat(), "source": target.get("source"),
                             "note": target.get("note")}
    return chosen


def _evidence(evidence: Any, now: datetime,
              staleness: timedelta) -> tuple[str | None, bool, datetime | None]:
    """(verdict, fresh, checked_at) of one evidence dict; `unknown` is no verdict at all."""
    # Most procedures carry no evidence: the cheap test first (the ABC check is slow).
    if not evidence or not isinstance(evidence, Mapping):
        return None, False, None
    verdict = evidence.get("verdict")
    checked_at = to_datetime(evidence.get("checked_at"))
    if verdict in (None, "", "unknown") or checked_at is None:
        return None, False, None
    return verdict, now - checked_at < staleness, checked_at


def _levels(value: Any) -> tuple[str, ...]:
    """Administrative levels as a tuple, also from a JSON or comma-separated text column."""
    if not value:
        return ()
    if isinstance(value, str):
        text = value.strip()
        items = json.loads(text) if text.startswith("[") else text.split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return tuple(value)


def _rows(procedures: Iterable[Mapping[str, Any]], basis: str, now: datetime,
          staleness: timedelta) -> tuple[list[_Row], datetime | None]:
    """Active procedures as rows, plus the oldest evidence timestamp seen."""
    rows: list[_Row] = []
    oldest: datetime | None = None
    verified = basis == "verified"
    no_evidence: tuple[None, bool, None] = (None, False, None)
    for p in procedures:
        get = p.get
        if (get("status") or "active") != "active":
            continue
        level = int(get("service_level") or 0)
        integrated_declared = bool(get("dvcqg_integrated"))
        payment_declared = get("payment_channel") in PAYMENT_CHANNELS
        linkage_doc, payment_doc = get("linkage"), get("payment")
        linkage, linkage_fresh, linkage_at = (
            _evidence(linkage_doc, now, staleness) if linkage_doc else no_evidence)
        payment, payment_fresh, payment_at = (
            _evidence(payment_doc, now, staleness) if payment_doc else no_evidence)
        for moment in (linkage_at, payment_at):
            if moment is not None and (oldest is None or moment < oldest):
                oldest = moment
        # Positional: keyword arguments cost a third of the loop at 100,000 procedures.
        rows.append(_Row(
            get("code") or "", level, level in ONLINE_LEVELS, bool(get("has_fee")),
            bool(get("sso")),
            (linkage_fresh and linkage == LINKAGE_CONFIRMED) if verified else integrated_declared,
            integrated_declared,
            (payment_fresh and payment == PAYMENT_CONFIRMED) if verified else payment_declared,
            payment_declared, linkage_fresh, get("agency") or "", get("field") or "",
            _levels(get("levels")), int(get("count") or 1), get("codes")))
    return rows, oldest


def _totals(rows: Sequence[_Row]) -> dict[str, Any]:
    by_level = {str(level): 0 for level in (1, 2, 3, 4)}
    for row in rows:
        if str(row.level) in by_level:
            by_level[str(row.level)] += row.weight
    return {"procedures": sum(row.weight for row in rows), "online": by_level["3"] + by_level["4"],
            "by_level": by_level}


def _target_view(target: dict[str, Any] | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {**target, "percent": _number(target["percent"])}


def _indicators(rows: Sequence[_Row], targets: dict[str, dict[str, Any]], *, basis: str,
                rounding: str, decimals: int, candidates_limit: int | None) -> list[dict[str, Any]]:
    """All indicators over `rows`; candidates only when `candidates_limit` is not None."""
    out: list[dict[str, Any]] = []
    for spec in SPECS:
        counted = [row for row in rows if spec.denominator(row)]
        numerator = sum(row.weight for row in counted if spec.numerator(row))
        denominator = sum(row.weight for row in counted)
        target = targets.get(spec.id)
        percent = percent_of(numerator, denominator, decimals=decimals, rounding=rounding)
        needed = None
        if target is not None:
            needed = needed_for(numerator, denominator, target["percent"], decimals=decimals,
                                rounding=rounding)
        item: dict[str, Any] = {
            "id": spec.id, "available": True, "numerator": numerator,
            "denominator": denominator, "percent": _number(percent),
            "target": _target_view(target),
            "met": None if needed is None else needed == 0, "needed": needed}
        if basis == "verified":
            item["claimed_unconfirmed"] = sum(
                row.weight for row in counted if spec.declared(row) and not spec.numerator(row))
        if candidates_limit is not None:
            pool = [row for row in counted if not spec.numerator(row)] if needed else []
            item["candidates"] = _best_codes(pool, spec.rank, candidates_limit)
            item["candidates_total"] = sum(row.weight for row in pool)
        out.append(item)
    for indicator in DOSSIER_INDICATORS:
        item = {"id": indicator, "available": False, "numerator": None, "denominator": None,
                "percent": None, "target": _target_view(targets.get(indicator)),
                "met": None, "needed": None}
        if basis == "verified":
            item["claimed_unconfirmed"] = None
        if candidates_limit is not None:
            item["candidates"] = []
            item["candidates_total"] = 0
        out.append(item)
    return out


def _codes(row: _Row) -> list[str]:
    if row.codes is None:
        return [row.code]
    return row.codes.split(",") if isinstance(row.codes, str) else list(row.codes)


def _best_codes(pool: Sequence[_Row], rank: Callable[[_Row], tuple[Any, ...]], limit: int) -> list[str]:
    """The `limit` best codes by (rank, code), expanding cohorts only as far as needed."""
    if all(row.codes is None for row in pool):
        return [row.code for row in heapq.nsmallest(limit, pool, key=rank)]
    # Every rank ends with the code: order cohorts by the rest, merge codes inside a tie.
    by_prefix: dict[tuple[Any, ...], list[_Row]] = {}
    for row in pool:
        by_prefix.setdefault(rank(row)[:-1], []).append(row)
    out: list[str] = []
    for prefix in sorted(by_prefix):
        if len(out) >= limit:
            break
        merged = heapq.merge(*(sorted(_codes(row)) for row in by_prefix[prefix]))
        for code in merged:
            out.append(code)
            if len(out) >= limit:
                break
    return out


def _group_keys(row: _Row, key: str) -> tuple[str, ...]:
    if key == "agency":
        return (row.agency,)
    if key == "field":
        return (row.field,)
    return row.levels or ("",)  # a procedure offered at several levels counts in each


def build_report(procedures: Iterable[Mapping[str, Any]],
                 targets: Iterable[Mapping[str, Any]] = (), *,
                 basis: str = "declared", rounding: str = "truncate", decimals: int = 2,
                 unit: Mapping[str, Any] | None = None,
                 as_of: str | datetime | date | None = None,
                 group_by: Iterable[str] = (), now: str | datetime | None = None,
                 staleness: timedelta = timedelta(days=7),
                 candidates_limit: int = 50) -> dict[str, Any]:
    """Build a `tthc-coverage/1` report (design.md, "A coverage report")."""
    if basis not in BASES:
        raise ValueError(f"basis must be one of {', '.join(BASES)}, not {basis!r}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be truncate or half_up, not {rounding!r}")
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise ValueError(f"decimals must be an integer from 0 to 6, not {decimals!r}")
    if candidates_limit < 0:
        raise ValueError("candidates_limit must not be negative")
    groups_wanted = list(dict.fromkeys(group_by))
    unknown = [key for key in groups_wanted if key not in GROUP_KEYS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; use {', '.join(GROUP_KEYS)}")
    rounding = ROUNDINGS[rounding]
    wall_clock = datetime.now(VN_TZ)
    report_time = to_datetime(as_of) or wall_clock
    evidence_time = to_datetime(now) or wall_clock
    rows, oldest = _rows(procedures, basis, evidence_time, staleness)
    in_force = select_targets(targets, report_time.astimezone(VN_TZ).date())
    options = {"basis": basis, "rounding": rounding, "decimals": decimals}

    groups: dict[str, list[dict[str, Any]]] = {}
    for key in groups_wanted:
        members: dict[str, list[_Row]] = {}
        for row in rows:
            for value in _group_keys(row, key):
                members.setdefault(value, []).append(row)
        groups[key] = [{"key": value, "totals": _totals(members[value]),
                        "indicators": _indicators(members[value], in_force,
                                                  candidates_limit=None, **options)}
                       for value in sorted(members)]
    return {
        "method": METHOD,
        "as_of": _iso(report_time),
        "basis": basis,
        "unit": dict(unit) if unit is not None else None,
        "rounding": rounding,
        "totals": _totals(rows),
        "indicators": _indicators(rows, in_force, candidates_limit=candidates_limit, **options),
        "groups": groups,
        "freshness": {
            "oldest_evidence": _iso(oldest) if oldest is not None else None,
            "unverified": sum(row.weight for row in rows if row.online and not row.linkage_fresh)},
    }


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv_row(scope: str, group: str, key: str, item: Mapping[str, Any]) -> dict[str, Any]:
    target = item.get("target") or {}
    row = {"scope": scope, "group": group, "key": key, "indicator": item["id"],
           "numerator": item.get("numerator"), "denominator": item.get("denominator"),
           "percent": item.get("percent"), "target_percent": target.get("percent"),
           "due": target.get("due"), "source": target.get("source"),
           "met": item.get("met"), "needed": item.get("needed")}
    return {column: _csv_value(row[column]) for column in CSV_COLUMNS}


def report_to_csv_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flatten a report into rows for csv.DictWriter(fieldnames=CSV_COLUMNS)."""
    rows = [_csv_row("total", "", "", item) for item in report["indicators"]]
    for group, entries in (report.get("groups") or {}).items():
        for entry in entries:
            rows.extend(_csv_row("group", group, entry["key"], item)
                        for item in entry["indicators"])
    return rows
