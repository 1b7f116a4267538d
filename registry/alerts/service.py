"""Alerts, the use cases every shell calls: detect events, manage subscriptions, read the feed.

Detection reads the verdicts in the order they were stored (`probe_attempts`, by id, after a
cursor) and the finished probe runs, folds them through the rules of `events.py`, and writes
the state, the events and their outbox rows in one transaction with the advanced cursor: every
writer of verdicts (sweeps in any process, payment callbacks, future SSO or dossier probes) is
covered, nothing is evented twice, and a crash loses nothing (the cursor did not move).
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Mapping

from .. import errors
from ..auth import Principal
from ..reporting import coverage_report
from ..store import VN_TZ, CursorMoved, NotFound, Store
from ..text import clean
from . import events as rules

log = logging.getLogger("tthc.alerts")

BATCH = 5000
SCOPES = ("all", "agency", "procedure")
CHANNELS = ("email", "webhook")
MODES = ("event", "digest")


class AlertError(errors.RegistryError):
    """A subscription request that cannot be honoured; `field` names the culprit."""

    def __init__(self, message: str, field: str = "_schema") -> None:
        super().__init__(message)
        self.field = field


class SubscriptionInvalid(AlertError, errors.InvalidInput):
    """422: the subscription names what does not exist or does not fit."""


class SubscriptionForbidden(AlertError, errors.Forbidden):
    """403: outside the caller's role or agencies."""

    message_vi = "Bạn chỉ được đăng ký cảnh báo của các cơ quan mình phụ trách."


class SubscriptionNotFound(AlertError, errors.NotFound):
    """404: no such active subscription visible to the caller."""


def iso(moment: datetime) -> str:
    """A time as the store keeps it: ISO 8601 in Vietnam time, microseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VN_TZ)
    return moment.astimezone(VN_TZ).isoformat(timespec="microseconds")


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(VN_TZ)).astimezone(VN_TZ)


# -- detection -----------------------------------------------------------------------------
def detect(store: Store, cfg: Mapping[str, Any], *, now: datetime | None = None) -> list[int]:
    """Turn the verdicts and runs stored since the last call into events and outbox rows.

    Safe to call from several processes at once (the loser of a race reads again). Returns the
    ids of the new events.
    """
    created: list[int] = []
    for _ in range(50):
        try:
            ids, more = _detect_once(store, cfg, _now(now))
        except CursorMoved:
            continue
        created.extend(ids)
        if not more:
            break
    return created


def _detect_once(store: Store, cfg: Mapping[str, Any], now: datetime) -> tuple[list[int], bool]:
    confirmations = int(cfg["ALERT_CONFIRMATIONS"])
    cursors = store.alert_cursors()
    attempts = store.attempts_after(cursors["attempt"], BATCH)
    runs = store.runs_after(cursors["run"])
    stale = store.stale_verdict_candidates(iso(now - timedelta(days=float(cfg["STALENESS_DAYS"]))),
                                           rules.STALE_DIMENSIONS, BATCH)
    if not attempts and not runs and not stale:
        return [], False
    keys = [(a["code"], a["dimension"]) for a in attempts] + [(s["code"], s["dimension"]) for s in stale]
    states = {k: rules.State.of(v) for k, v in store.alert_states(keys).items()}
    changed: dict[tuple[str, str], rules.State] = {}
    found: list[dict[str, Any]] = []

    for a in attempts:
        key = (a["code"], a["dimension"])
        state, transition = rules.step(states.get(key, rules.State()), a["dimension"], a["verdict"], confirmations)
        states[key] = changed[key] = state
        if transition is not None:
            found.append({"type": transition.type, "dedupe_key": f"{transition.type}:{a['code']}:{a['id']}",
                          "code": a["code"], "dimension": a["dimension"], "verdict": transition.verdict,
                          "previous": transition.previous, "occurred_at": a["checked_at"],
                          "details": {"attempt_id": a["id"], "confirmations": confirmations}})

    run_cursor, completed = cursors["run"], None
    previous = None
    for run in runs:
        if run["status"] == "running":
            break
        if previous is None:
            previous = store.last_finished_run_before(run["id"])
        if run["status"] == "portal_unavailable" and (previous or {}).get("status") != "portal_unavailable":
            found.append({"type": "sweep.portal_unavailable", "dedupe_key": f"sweep.portal_unavailable:{run['id']}",
                          "occurred_at": run["finished_at"] or iso(now), "verdict": run["status"],
                          "details": {"run_id": run["id"], "message": run["message"]}})
        if run["status"] == "completed":
            completed = run
        previous, run_cursor = run, run["id"]
    if completed is not None:
        found.extend(_target_events(store, cfg, now, completed, states, changed, confirmations))

    for s in stale:
        key = (s["code"], s["dimension"])
        states[key] = changed[key] = dataclasses.replace(states.get(key, rules.State(confirmed=s["verdict"])),
                                                         stale_attempt=s["attempt_id"])
        found.append({"type": "evidence.stale", "dedupe_key": f"evidence.stale:{s['code']}:{s['dimension']}:"
                      f"{s['attempt_id']}", "code": s["code"], "dimension": s["dimension"], "verdict": s["verdict"],
                      "occurred_at": iso(now), "details": {"checked_at": s["checked_at"],
                                                           "staleness_days": float(cfg["STALENESS_DAYS"])}})

    procedures = {p["code"]: p for p in store.procedures_by_code({e["code"] for e in found if e.get("code")})}
    for e in found:
        proc = procedures.get(e.get("code") or "")
        if proc is not None:
            e["agencies"] = rules.agency_keys(proc)
            e["details"] = {"name": proc["name"], "agency": proc["agency"], **e["details"]}
    rules.route(found, store.list_subscriptions(active=True, live_owners=True), now=now,
                digest_hour=int(cfg["ALERT_DIGEST_HOUR"]))
    for e in found:
        for d in e["deliveries"]:
            d["next_attempt_at"] = iso(d["next_attempt_at"])
    after = {"attempt": attempts[-1]["id"] if attempts else cursors["attempt"], "run": run_cursor}
    ids = store.commit_alerts(cursors_before=cursors, cursors_after=after,
                              states={k: v.as_row() for k, v in changed.items()}, events=found)
    if ids:
        log.info("alerts: %d new events", len(ids))
    return ids, len(attempts) == BATCH or len(stale) == BATCH


def _target_events(store: Store, cfg: Mapping[str, Any], now: datetime, run: Mapping[str, Any],
                   states: dict[tuple[str, str], rules.State], changed: dict[tuple[str, str], rules.State],
                   confirmations: int) -> list[dict[str, Any]]:
    """Each target's `met` on the verified basis after a completed sweep, through the same rules."""
    report = coverage_report(store, cfg, basis="verified", now=now)
    indicators = [i for i in report["indicators"] if i.get("met") is not None]
    keys = [(i["id"], rules.TARGET) for i in indicators]
    known = {k: rules.State.of(v) for k, v in store.alert_states(keys).items()}
    out = []
    for ind, key in zip(indicators, keys):
        verdict = "met" if ind["met"] else "missed"
        state, transition = rules.step(states.get(key) or known.get(key, rules.State()), rules.TARGET, verdict,
                                       confirmations)
        states[key] = changed[key] = state
        if transition is not None:
            target = ind.get("target") or {}
            out.append({"type": transition.type, "dedupe_key": f"{transition.type}:{ind['id']}:run{run['id']}",
                        "dimension": rules.TARGET, "verdict": transition.verdict, "previous": transition.previous,
                        "occurred_at": run["finished_at"] or iso(now),
                        "details": {"indicator": ind["id"], "percent": ind.get("percent"),
                                    "target_percent": target.get("percent"), "due": target.get("due"),
                                    "source": target.get("source"), "needed": ind.get("needed"),
                                    "run_id": run["id"], "basis": "verified"}})
    return out


# -- subscriptions -------------------------------------------------------------------------
def _visible(principal: Principal, sub: Mapping[str, Any]) -> bool:
    return principal.is_admin or sub["owner"] == principal.username


def subscribe(store: Store, principal: Principal, data: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Create a subscription owned by `principal` (already validated by the shell's schema).

    Editors subscribe to their agencies or to procedures of their agencies; admins to anything,
    `all` included; viewers to nothing. A webhook gets a fresh secret (shown in the answer once).
    """
    if principal.role not in ("editor", "admin"):
        raise SubscriptionForbidden(f"a {principal.role} may not subscribe to alerts (editors and admins may)")
    owner = store.get_user(principal.username)
    if owner is None or not owner["active"]:
        raise SubscriptionForbidden(f"{principal.username} is not an active user: subscriptions belong to users")
    scope = data["scope"]
    sub: dict[str, Any] = {"owner": principal.username, "scope": scope, "channel": data["channel"],
                           "address": data["address"].strip(), "mode": data.get("mode") or "event",
                           "event_types": list(dict.fromkeys(data.get("event_types") or []))}
    if sub["channel"] == "webhook" and sub["mode"] != "event":
        raise SubscriptionInvalid("a webhook is called per event; `digest` is for e-mail", "mode")
    if scope == "all":
        if not principal.is_admin:
            raise SubscriptionForbidden("only admins may subscribe to every agency's alerts", "scope")
    elif scope == "agency":
        agency = clean(data.get("agency") or "")
        if not agency:
            raise SubscriptionInvalid("give the agency to follow", "agency")
        # The same keys events carry (rules.agency_keys): switching names to codes stays one line.
        if not any(agency in rules.agency_keys(p) for p in store.all_procedures()):
            raise SubscriptionInvalid(f"no procedure names the agency {agency!r}", "agency")
        if not principal.is_admin and agency not in principal.agencies:
            raise SubscriptionForbidden(f"{principal.username} may only follow their own agencies", "agency")
        sub["agency_key"] = agency
    elif scope == "procedure":
        code = clean(data.get("procedure") or "")
        try:
            proc = store.get_procedure(code)
        except NotFound:
            raise SubscriptionInvalid(f"there is no procedure {code!r}", "procedure") from None
        if not principal.is_admin and not set(rules.agency_keys(proc)) & set(principal.agencies):
            raise SubscriptionForbidden(f"{code} belongs to none of {principal.username}'s agencies", "procedure")
        sub["procedure_code"] = code
    else:
        raise SubscriptionInvalid(f"scope must be one of {', '.join(SCOPES)}", "scope")
    if sub["channel"] == "webhook":
        sub["secret"] = secrets.token_hex(32)
    rec = store.create_subscription(sub, actor=principal.username, source=source)
    return view(rec, reveal_secret=True)


def list_subscriptions(store: Store, principal: Principal) -> list[dict[str, Any]]:
    """The caller's active subscriptions (every one for an admin), secrets hidden."""
    owner = None if principal.is_admin else principal.username
    return [view(s) for s in store.list_subscriptions(owner=owner, active=True)]


def unsubscribe(store: Store, principal: Principal, sub_id: int, *, source: str) -> dict[str, Any]:
    """Remove one of the caller's subscriptions (an admin: anyone's); pending deliveries are cancelled."""
    try:
        sub = store.get_subscription(sub_id)
    except NotFound:
        raise SubscriptionNotFound(f"there is no subscription {sub_id}", "id") from None
    if not sub["active"] or not _visible(principal, sub):
        raise SubscriptionNotFound(f"there is no subscription {sub_id}", "id")
    return view(store.remove_subscription(sub_id, actor=principal.username, source=source))


def view(sub: Mapping[str, Any], *, reveal_secret: bool = False) -> dict[str, Any]:
    """A subscription as the shells show it: the agency key as `agency`, the secret only once."""
    out = {"id": sub["id"], "owner": sub["owner"], "scope": sub["scope"], "agency": sub.get("agency_key"),
           "procedure": sub.get("procedure_code"), "channel": sub["channel"], "address": sub["address"],
           "mode": sub["mode"], "event_types": list(sub.get("event_types") or []), "active": bool(sub["active"]),
           "created_at": sub["created_at"]}
    if sub["channel"] == "webhook":
        out["secret"] = sub.get("secret") if reveal_secret else None
    return out


# -- the feed ------------------------------------------------------------------------------
def feed(store: Store, *, limit: int = 50, offset: int = 0, code: str | None = None,
         event_type: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Events newest first with their delivery counts (`email.delivered`: n, ...), and the total."""
    return (store.list_alert_events(limit=limit, offset=offset, code=code, event_type=event_type),
            store.count_alert_events(code=code, event_type=event_type))
