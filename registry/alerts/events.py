"""The alert rules, pure (no I/O): which verdicts are good, when a transition is confirmed, who hears it.

- A dimension's verdicts are either good (`integrated`, `payment_ready`, `sso_ready`, ...) or
  broken (every other definite verdict). `unknown` is no verdict: it never fires, never
  confirms and never interrupts a streak (the portal did not answer; it says nothing).
- The first definite verdict of a (procedure, dimension) is its baseline: no event (a service
  that never worked did not "break"; `tthc up` on a fresh database sends nothing).
- A change of class (good <-> broken) fires only once `confirmations` consecutive definite
  verdicts of the new class have been seen (`TTHC_ALERT_CONFIRMATIONS`, default 2):
  broken, fine, broken, fine sends nothing.
- Agencies: events carry the owning agencies' keys (`agency_keys`); today those are the names on
  the procedure, tomorrow the agency codes (one line to change, see docs/alerts.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any, Iterable, Mapping

UNKNOWN = "unknown"
TARGET = "target"

# The good verdicts of each dimension; any other definite verdict is a breakage.
GOOD: dict[str, frozenset[str]] = {
    "linkage": frozenset({"integrated"}),
    "payment": frozenset({"payment_ready"}),
    "sso": frozenset({"sso_ready"}),
    "dossier_sync": frozenset({"synced", "in_sync", "ok", "confirmed", "dossier_synced"}),
    "journey": frozenset({"journey_ok"}),
    TARGET: frozenset({"met"}),
}
# A dimension not in GOOD (added later) counts these, and any `*_ready` / `*_ok`, as good.
GENERIC_GOOD = frozenset({"ok", "ready", "integrated", "synced", "confirmed", "met"})
# `evidence.stale` watches the dimensions the verified coverage counts (not the rotating journey sample).
STALE_DIMENSIONS = ("linkage", "payment", "sso", "dossier_sync")
# Event names: `{dimension}.{broken|restored}` unless renamed here.
BROKEN_NAME = {"dossier_sync": "failing", TARGET: "missed"}
RESTORED_NAME = {TARGET: "met"}

EVENT_TYPES = ("linkage.broken", "linkage.restored", "payment.broken", "payment.restored", "sso.broken",
               "sso.restored", "dossier_sync.failing", "dossier_sync.restored", "sweep.portal_unavailable",
               "target.missed", "target.met", "evidence.stale", "journey.broken", "journey.restored")
# Events about the whole unit (not one procedure) reach every subscription, or only `all` ones.
EVERYONE = frozenset({"sweep.portal_unavailable"})


def agency_keys(procedure: Mapping[str, Any]) -> list[str]:
    """The keys subscriptions name an agency by. Today: the agency names on the procedure.

    When agencies get codes, this is the one line to change (e.g. `procedure["agency_codes"]`).
    """
    return list(dict.fromkeys(a for a in (procedure.get("agency"), *(procedure.get("agencies") or [])) if a))


def is_good(dimension: str, verdict: str) -> bool:
    """True when `verdict` says the service works (see GOOD)."""
    good = GOOD.get(dimension)
    if good is not None:
        return verdict in good
    return verdict in GENERIC_GOOD or verdict.endswith(("_ready", "_ok"))


def event_type(dimension: str, good: bool) -> str:
    """`linkage.broken`, `payment.restored`, `dossier_sync.failing`, `target.met`, ..."""
    name = RESTORED_NAME.get(dimension, "restored") if good else BROKEN_NAME.get(dimension, "broken")
    return f"{dimension}.{name}"


@dataclass(frozen=True)
class State:
    """Where one (subject, dimension) stands: its confirmed verdict, and the streak against it."""

    confirmed: str | None = None
    pending: str | None = None
    streak: int = 0
    stale_attempt: int | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> "State":
        if not row:
            return cls()
        return cls(row.get("confirmed"), row.get("pending"), int(row.get("streak") or 0), row.get("stale_attempt"))

    def as_row(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "pending": self.pending, "streak": self.streak,
                "stale_attempt": self.stale_attempt}


@dataclass(frozen=True)
class Transition:
    """A confirmed change of class: the event type, the verdict before and the verdict now."""

    type: str
    previous: str
    verdict: str


def is_unknown(verdict: str) -> bool:
    """`unknown`, or a dimension's own flavour of it (`sync_unknown`): no answer, no verdict."""
    return verdict == UNKNOWN or verdict.endswith("_" + UNKNOWN)


def step(state: State, dimension: str, verdict: str, confirmations: int) -> tuple[State, Transition | None]:
    """Fold one verdict into the state; the transition it confirms, if any."""
    if is_unknown(verdict):
        return state, None
    if state.confirmed is None:
        return replace(state, confirmed=verdict, pending=None, streak=0), None
    good = is_good(dimension, verdict)
    if good == is_good(dimension, state.confirmed):
        return replace(state, confirmed=verdict, pending=None, streak=0), None
    streak = state.streak + 1 if state.pending is not None and is_good(dimension, state.pending) == good else 1
    if streak < max(1, confirmations):
        return replace(state, pending=verdict, streak=streak), None
    transition = Transition(event_type(dimension, good), state.confirmed, verdict)
    return replace(state, confirmed=verdict, pending=None, streak=0), transition


def matches(subscription: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Does this subscription receive this event? Scope `all`: everything; `agency`: events of
    procedures of that agency (and unit-wide outages); `procedure`: that procedure's events
    (and unit-wide outages). `event_types` (if any) filter by type or by prefix (`linkage`)."""
    types = subscription.get("event_types") or []
    kind = event["type"]
    if types and not any(kind == t or kind.startswith(t + ".") for t in types):
        return False
    scope = subscription["scope"]
    if scope == "all" or kind in EVERYONE:
        return True
    if scope == "agency":
        return subscription.get("agency_key") in (event.get("agencies") or [])
    if scope == "procedure":
        return bool(event.get("code")) and event.get("code") == subscription.get("procedure_code")
    return False


def next_digest(now: datetime, hour: int) -> datetime:
    """The next digest time (`hour`:00 in now's time zone) at or after `now`."""
    at = datetime.combine(now.date(), time(hour), tzinfo=now.tzinfo)
    return at if at >= now else at + timedelta(days=1)


def retry_delay(attempts: int, base_seconds: float, cap_seconds: float = 6 * 3600) -> timedelta:
    """Delay before the next try after `attempts` failed ones: base, 2*base, 4*base, ... at most the cap."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def route(events: Iterable[dict[str, Any]], subscriptions: Iterable[Mapping[str, Any]], *, now: datetime,
          digest_hour: int) -> None:
    """Attach to each event its `deliveries` (one per matching subscription) with their due time."""
    subs = list(subscriptions)
    digest_at = next_digest(now, digest_hour)
    for event in events:
        event["deliveries"] = [
            {"subscription_id": s["id"], "channel": s["channel"],
             "next_attempt_at": (digest_at if s["channel"] == "email" and s.get("mode") == "digest" else now)}
            for s in subs if matches(s, event)]
