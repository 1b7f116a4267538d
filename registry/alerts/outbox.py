"""Draining the outbox: due deliveries are leased, sent, and marked delivered or rescheduled.

Durable: a delivery is a row written with its event; it leaves `pending` only when its channel
accepted it (delivered), when the give-up limit is reached (failed) or when its subscription is
removed (cancelled). A restart, a dead SMTP server or a slow webhook loses nothing and never
touches a sweep: sweeps only write rows, the drain runs in its own thread (`start_drain`).

Never twice on our side: one row per (event, subscription) (a UNIQUE constraint), leased before
sending so a second drainer skips it, and marked delivered only from `pending`. (A crash between
the sending and the marking can repeat that one message after the lease: the event id travels
with it, `X-TTHC-Event-Id` / `Message-ID`, so a receiver can drop the duplicate.)
"""
from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Mapping

import httpx
from flask import Flask

from ..store import VN_TZ, Store, open_store
from . import channels, events as rules, messages
from .service import detect, iso

log = logging.getLogger("tthc.alerts")

CLAIM_LIMIT = 1000
SENDERS = 4  # subscriptions served at once by one drain pass


def _send(cfg: Mapping[str, Any], rows: list[dict[str, Any]], now: datetime, http: httpx.Client) -> None:
    """Send one message: a single event, or (digest) every row of one subscription at once."""
    sub = rows[0]["subscription"]
    if sub["channel"] == "webhook":
        channels.send_webhook(sub["address"], sub["secret"] or "", messages.webhook_document(rows[0]["event"]),
                              timestamp=int(now.timestamp()), timeout=float(cfg["ALERT_TIMEOUT"]), client=http)
        return
    if sub["mode"] == "digest":
        evs = sorted((r["event"] for r in rows), key=lambda e: (e["occurred_at"], e["id"]))
        subject, body = messages.digest_email(evs)
        key = f"digest-{sub['id']}-{min(r['id'] for r in rows)}"
    else:
        subject, body = messages.event_email(rows[0]["event"])
        key = f"event-{rows[0]['event_id']}-{sub['id']}"
    channels.send_email(cfg, sub["address"], subject, body, message_key=key)


def drain(store: Store, cfg: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """Send every due delivery once; returns counts {"delivered": n, "retry": n, "failed": n}.

    One lane per subscription, up to SENDERS lanes at once: a slow or dead receiver holds up only
    its own subscription, and each subscriber still gets its events in order.
    """
    now = (now or datetime.now(VN_TZ)).astimezone(VN_TZ)
    owner = secrets.token_hex(8)
    lease = _lease(cfg)
    rows = store.claim_deliveries(now=iso(now), lease_until=iso(now + lease), owner=owner, limit=CLAIM_LIMIT)
    lanes: dict[int, dict[Any, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        digest = r["channel"] == "email" and r["subscription"]["mode"] == "digest"
        lanes[r["subscription_id"]]["digest" if digest else r["id"]].append(r)
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    if not lanes:
        return counts
    with httpx.Client(timeout=float(cfg["ALERT_TIMEOUT"]), follow_redirects=False) as http:
        if len(lanes) == 1:
            _lane(store, cfg, list(next(iter(lanes.values())).values()), now, owner, http, counts)
            return counts
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(lanes)), thread_name_prefix="tthc-alert-send") as pool:
            results = list(pool.map(lambda groups: _own_lane(store, cfg, groups, now, owner, http),
                                    [list(g.values()) for g in lanes.values()]))
    for lane_counts in results:
        for key, n in lane_counts.items():
            counts[key] += n
    return counts


def _lease(cfg: Mapping[str, Any]) -> timedelta:
    return timedelta(seconds=float(cfg["ALERT_TIMEOUT"]) * 3 + 60)


def _own_lane(store: Store, cfg: Mapping[str, Any], groups: list[list[dict[str, Any]]], now: datetime,
              owner: str, http: httpx.Client) -> dict[str, int]:
    """A lane in a worker thread, on its own connection (a SQLite connection is one thread's)."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    with open_store(store.path, int(cfg.get("BUSY_TIMEOUT_MS", 10000)), migrate=False) as own:
        _lane(own, cfg, groups, now, owner, http, counts)
    return counts


def _lane(store: Store, cfg: Mapping[str, Any], groups: list[list[dict[str, Any]]], now: datetime, owner: str,
          http: httpx.Client, counts: dict[str, int]) -> None:
    """One subscription's messages, in order. A slow lane may outlast the claim's lease: renew it
    per message, and skip a message whose lease lapsed and was taken over by another drainer."""
    for group in groups:
        moment = max(now, datetime.now(VN_TZ))
        if store.renew_lease([r["id"] for r in group], owner=owner, lease_until=iso(moment + _lease(cfg))):
            _deliver(store, cfg, group, now, http, counts)


def _deliver(store: Store, cfg: Mapping[str, Any], group: list[dict[str, Any]], now: datetime,
             http: httpx.Client, counts: dict[str, int]) -> None:
    """Send one group and record its outcome at once (delivered, or rescheduled / given up)."""
    ids = [r["id"] for r in group]
    try:
        _send(cfg, group, now, http)
    except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt: counted, retried, given up
        if not isinstance(exc, channels.DeliveryError):
            log.exception("alert delivery %s: unexpected error", ids)
            exc = channels.DeliveryError(f"{type(exc).__name__}: {exc}")
        attempts = max(r["attempts"] for r in group) + 1
        give_up = attempts >= int(cfg["ALERT_MAX_ATTEMPTS"])
        nxt = now + rules.retry_delay(attempts, float(cfg["ALERT_RETRY_SECONDS"]))
        store.finish_deliveries(ids, delivered=False, error=str(exc), next_attempt_at=iso(nxt), give_up=give_up,
                                at=iso(now))
        counts["failed" if give_up else "retry"] += len(ids)
        log.warning("alert delivery %s via %s failed (attempt %d%s): %s", ids, group[0]["channel"], attempts,
                    ", giving up" if give_up else "", exc)
    else:
        counts["delivered"] += store.finish_deliveries(ids, delivered=True, at=iso(now))


def process(store: Store, cfg: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """One tick of the alert loop: detect new events, then deliver what is due."""
    created = detect(store, cfg, now=now)
    return {"events": len(created), **drain(store, cfg, now=now)}


def after_sweep(store: Store, cfg: Mapping[str, Any]) -> None:
    """Called when a sweep ends: its events are written now (delivery stays with the drain)."""
    try:
        detect(store, cfg)
    except Exception:  # an alert problem must never fail a sweep; the next drain tick retries
        log.exception("alert detection after the sweep failed")


def start_drain(app: Flask, stop: threading.Event, seconds: float | None = None) -> threading.Thread | None:
    """Detect and deliver every `seconds` (TTHC_ALERT_DRAIN_SECONDS) in a daemon thread until `stop`."""
    cfg = app.config["TTHC"]
    seconds = float(cfg["ALERT_DRAIN_SECONDS"] if seconds is None else seconds)
    if seconds <= 0:
        return None

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                with open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False) as store:
                    counts = process(store, cfg)
                if any(counts.values()):
                    log.info("alerts: %s", counts)
            except Exception:  # keep the loop alive; nothing was lost (rows stay pending)
                log.exception("alert drain failed")

    thread = threading.Thread(target=loop, name="tthc-alert-drain", daemon=True)
    thread.start()
    return thread
