"""A procedure's probe evidence as its body shows it: `linkage` and `payment` (design.md)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from .store import VN_TZ

DIMENSIONS = ("linkage", "payment")


def _stale(evidence: Mapping[str, Any], staleness: timedelta, now: datetime) -> bool:
    """Stale: the store says so (an `unknown` came after it), or older than the staleness window."""
    if evidence.get("stale"):
        return True
    try:
        checked = datetime.fromisoformat(str(evidence["checked_at"]))
    except (KeyError, TypeError, ValueError):
        return True  # a verdict without a readable time cannot count as fresh
    if checked.tzinfo is None:
        checked = checked.replace(tzinfo=VN_TZ)
    return now - checked >= staleness


def evidence_view(verdicts_for_code: Mapping[str, Mapping[str, Any]], cfg: Mapping[str, Any],
                  now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """{"linkage": {verdict, checked_at, stale}, "payment": {...}} from `store.verdicts_for(code)`.

    A dimension never probed is {"verdict": None, "checked_at": None, "stale": False}.
    `stale` = the stored stale flag (an `unknown` came after the verdict) OR older than
    `TTHC_STALENESS_DAYS`, the window the verified coverage counts.
    """
    now = now or datetime.now(VN_TZ)
    if now.tzinfo is None:
        now = now.replace(tzinfo=VN_TZ)
    staleness = timedelta(days=float(cfg["STALENESS_DAYS"]))
    out: dict[str, dict[str, Any]] = {}
    for dimension in DIMENSIONS:
        ev = verdicts_for_code.get(dimension)
        if not ev:
            out[dimension] = {"verdict": None, "checked_at": None, "stale": False}
            continue
        out[dimension] = {"verdict": ev.get("verdict"), "checked_at": ev.get("checked_at"),
                          "stale": _stale(ev, staleness, now)}
    return out
