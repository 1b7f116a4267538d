"""Method `tthc-coverage/2`: the four dossier indicators and the 766-style counters of a period.

Pure (rows in, report out): per-procedure period counts come from the store's rollups, the
procedures from the registry. `upgrade` turns a `tthc-coverage/1` report into a /2 one: every
/1 indicator keeps its id and figures; the four dossier indicators, unavailable in /1, are
filled. Definitions (docs/dossiers.md):

- `dossier_online_services_rate` = active online procedures (level 3/4) with >= 1 dossier
  received online (`KenhThucHien` "2") in the period / active online procedures;
- `dossier_fully_online_rate` = dossiers received in the period online, at a level-4 procedure,
  and either without fee or paid online / all dossiers received in the period;
- `dossier_on_time_rate` = dossiers resolved (status 9/10) in the period on or before the due
  day / dossiers resolved in the period with a due day;
- `satisfaction_rate` = ratings "1" or "2" in the period / ratings in the period.

On the `verified` basis numerator and denominator count only dossiers DVCQG confirmed.
Dossiers of procedures the registry does not hold count in the unit's figures (key `""` in
agency/field groups) and are listed as `unregistered`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .coverage import _number, _target_view, needed_for, percent_of

METHOD = "tthc-coverage/2"
GROUP_KEYS = ("agency", "field", "level", "procedure")
ONLINE_LEVELS = (3, 4)
COUNTER_NAMES = ("received", "recv_direct", "recv_online", "recv_post", "online_fee_ok", "paid_online",
                 "resolved", "resolved_early", "resolved_on_time", "resolved_late", "resolved_no_due",
                 "ratings", "ratings_ok")


def _sum(counts: Iterable[Mapping[str, int]], name: str) -> int:
    return sum(int(c.get(name) or 0) for c in counts)


def _item(indicator: str, numerator: int, denominator: int, target: Mapping[str, Any] | None, *,
          basis: str, declared_numerator: int | None, rounding: str, decimals: int) -> dict[str, Any]:
    percent = percent_of(numerator, denominator, decimals=decimals, rounding=rounding)
    needed = None
    if target is not None:
        needed = needed_for(numerator, denominator, target["percent"], decimals=decimals, rounding=rounding)
    item: dict[str, Any] = {"id": indicator, "available": True, "numerator": numerator,
                            "denominator": denominator, "percent": _number(percent),
                            "target": _target_view(dict(target)) if target is not None else None,
                            "met": None if needed is None else needed == 0, "needed": needed}
    if basis == "verified":
        item["claimed_unconfirmed"] = max(0, (declared_numerator or 0) - numerator)
    return item


def indicators(procs: Sequence[Mapping[str, Any]], counts: Mapping[str, Mapping[str, int]],
               declared: Mapping[str, Mapping[str, int]], targets: Mapping[str, Mapping[str, Any]], *,
               basis: str, rounding: str = "truncate", decimals: int = 2,
               candidates_limit: int | None = None) -> list[dict[str, Any]]:
    """The four dossier indicators over the procedures `procs` and the dossier codes in `counts`.

    `procs`: the registered procedures in scope (code, service_level, status); `counts`: period
    counters per code on the report's basis; `declared`: the same on the declared basis."""
    level = {p["code"]: int(p.get("service_level") or 0) for p in procs}
    online = [p["code"] for p in procs if (p.get("status") or "active") == "active"
              and int(p.get("service_level") or 0) in ONLINE_LEVELS]
    opts = {"basis": basis, "rounding": rounding, "decimals": decimals}
    out = []

    def generating(source: Mapping[str, Mapping[str, int]]) -> int:
        return sum(1 for code in online if (source.get(code) or {}).get("recv_online"))

    def fully(source: Mapping[str, Mapping[str, int]]) -> int:
        return sum(int(c.get("online_fee_ok") or 0) for code, c in source.items() if level.get(code) == 4)

    def on_time(source: Mapping[str, Mapping[str, int]]) -> int:
        return _sum(source.values(), "resolved_early") + _sum(source.values(), "resolved_on_time")

    item = _item("dossier_online_services_rate", generating(counts), len(online),
                 targets.get("dossier_online_services_rate"), declared_numerator=generating(declared), **opts)
    if candidates_limit is not None:
        pool = sorted(code for code in online if not (counts.get(code) or {}).get("recv_online"))
        item["candidates"] = pool[:candidates_limit] if item["needed"] else []
        item["candidates_total"] = len(pool) if item["needed"] else 0
    out.append(item)
    out.append(_item("dossier_fully_online_rate", fully(counts), _sum(counts.values(), "received"),
                     targets.get("dossier_fully_online_rate"), declared_numerator=fully(declared), **opts))
    resolved = on_time(counts) + _sum(counts.values(), "resolved_late")
    out.append(_item("dossier_on_time_rate", on_time(counts), resolved, targets.get("dossier_on_time_rate"),
                     declared_numerator=on_time(declared), **opts))
    out.append(_item("satisfaction_rate", _sum(counts.values(), "ratings_ok"), _sum(counts.values(), "ratings"),
                     targets.get("satisfaction_rate"), declared_numerator=_sum(declared.values(), "ratings_ok"),
                     **opts))
    if candidates_limit is not None:
        for entry in out[1:]:
            entry["candidates"], entry["candidates_total"] = [], 0
    return out


def counters(codes: Iterable[str], declared: Mapping[str, Mapping[str, int]],
             verified: Mapping[str, Mapping[str, int]], pending: Mapping[str, Mapping[str, int]],
             basis: str) -> dict[str, Any]:
    """The 766-style counters of a set of codes, and their DVCQG sync figures."""
    codes = list(codes)
    src = verified if basis == "verified" else declared
    rows = [src.get(c) or {} for c in codes]
    dec = [declared.get(c) or {} for c in codes]
    received = _sum(dec, "received")
    confirmed = sum(int((verified.get(c) or {}).get("received") or 0) for c in codes)
    return {
        "received": {"total": _sum(rows, "received"), "direct": _sum(rows, "recv_direct"),
                     "online": _sum(rows, "recv_online"), "postal": _sum(rows, "recv_post")},
        "resolved": {"total": _sum(rows, "resolved"), "early": _sum(rows, "resolved_early"),
                     "on_time": _sum(rows, "resolved_on_time"), "late": _sum(rows, "resolved_late"),
                     "no_due_date": _sum(rows, "resolved_no_due")},
        "in_progress": {"within_due": sum(int((pending.get(c) or {}).get("within") or 0) for c in codes),
                        "past_due": sum(int((pending.get(c) or {}).get("past_due") or 0) for c in codes)},
        "paid_online": _sum(rows, "paid_online"),
        "ratings": {"total": _sum(rows, "ratings"), "satisfied": _sum(rows, "ratings_ok")},
        "dvcqg_sync": {"received": received, "confirmed": confirmed,
                       "missing": _sum(dec, "sync_missing"), "status_behind": _sum(dec, "sync_behind"),
                       "unknown": _sum(dec, "sync_unknown"),
                       "rate": _number(percent_of(confirmed, received))},
    }


def _group_members(procs: Sequence[Mapping[str, Any]], codes: Iterable[str], key: str) -> dict[str, list[str]]:
    by_code = {p["code"]: p for p in procs}
    members: dict[str, list[str]] = {}
    for code in sorted(set(codes) | set(by_code)):
        p = by_code.get(code)
        if key == "procedure":
            values: Sequence[str] = (code,)
        elif key == "level":
            levels = p.get("levels") if p else None
            values = tuple(levels) if levels else ("",)
        else:
            values = ((p.get(key) or "") if p else "",)
        for value in values:
            members.setdefault(value, []).append(code)
    return members


def upgrade(report: dict[str, Any], procs: Sequence[Mapping[str, Any]], *, period: Mapping[str, str],
            declared: Mapping[str, Mapping[str, int]], verified: Mapping[str, Mapping[str, int]],
            pending: Mapping[str, Mapping[str, int]], targets: Mapping[str, Mapping[str, Any]],
            unregistered: Sequence[Mapping[str, Any]], group_by: Sequence[str] = (),
            candidates_limit: int = 50) -> dict[str, Any]:
    """A `tthc-coverage/1` report made `tthc-coverage/2`: dossier indicators and counters filled."""
    basis = report["basis"]
    counts = verified if basis == "verified" else declared
    opts = {"basis": basis, "rounding": report["rounding"]}
    mine = indicators(procs, counts, declared, targets, candidates_limit=candidates_limit, **opts)
    by_id = {item["id"]: item for item in mine}
    report = {**report, "method": METHOD, "period": dict(period)}
    report["indicators"] = [by_id.get(item["id"], item) for item in report["indicators"]]
    all_codes = set(declared) | set(verified) | set(pending)
    report["dossiers"] = {**counters(all_codes, declared, verified, pending, basis),
                          "unregistered": list(unregistered)}
    groups = dict(report.get("groups") or {})
    by_code = {p["code"]: p for p in procs}
    for key in group_by:
        members = _group_members(procs, all_codes, key)
        entries = {e["key"]: e for e in groups.get(key, [])}
        out = []
        for value in sorted(set(members) | set(entries)):
            codes = members.get(value, [])
            in_scope = [by_code[c] for c in codes if c in by_code]
            sub = {c: counts[c] for c in codes if c in counts}
            sub_declared = {c: declared[c] for c in codes if c in declared}
            items = {i["id"]: i for i in indicators(in_scope, sub, sub_declared, targets, **opts)}
            entry = dict(entries.get(value) or {"key": value})
            entry["indicators"] = ([items.get(i["id"], i) for i in entry["indicators"]]
                                   if "indicators" in entry else list(items.values()))
            entry["dossiers"] = counters(codes, declared, verified, pending, basis)
            out.append(entry)
        groups[key] = out
    report["groups"] = groups
    return report
