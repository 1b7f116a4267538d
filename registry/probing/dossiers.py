"""Dossiers and DVCQG: the `dossier_sync` sweep (TraCuuHoSo) and the relay outbox's delivery.

- The sweep drains the verification queue (dossiers changed since their last check), at most
  `TTHC_DOSSIER_CHECK_LIMIT` per sweep, within `TTHC_PROBE_RATE`, as one probe run of kind
  `dossier_sync`; a circuit breaker stops it when the portal is down (those stay queued).
- The relay delivers the outbox in order (oldest first; a failed batch stops the round, so a
  dossier's later change never overtakes an earlier one), retried with exponential backoff
  until acknowledged. One process at a time holds the relay lease.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import Counter
from typing import Any, Mapping

from tenacity import Retrying, retry_if_result, stop_when_event_set, wait_exponential

from connectors import CircuitBreaker, run_sweep
from connectors.dossiers import ALREADY_EXISTS, DossierCheck, check_dossier, deliver, open_adapter

from ..store import Store, now_iso, open_store
from .config import portal_config, sweep_options

log = logging.getLogger("tthc.dossiers")
KIND = "dossier_sync"
FLUSH_EVERY = 200


def check_dossiers(store: Store, cfg: Mapping[str, Any], *, actor: str = "cli", limit: int | None = None,
                   stop: threading.Event | None = None) -> dict[str, Any]:
    """Look up queued dossiers on DVCQG and record what it holds; returns the finished run."""
    options = sweep_options(cfg)
    config = portal_config(cfg)
    limit = int(cfg.get("DOSSIER_CHECK_LIMIT", 20000)) if limit is None else limit
    queue = store.dossier_check_queue(limit)
    run = store.start_run(kind=KIND, selection={"codes": "all"}, total=len(queue), actor=actor,
                          lease_seconds=options.lease_seconds)
    counts: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []
    by_key = {item["mahoso"]: item for item in queue}

    def flush() -> None:
        if pending:
            store.record_dossier_checks(pending)
            pending.clear()

    def on_result(item: dict[str, Any], check: DossierCheck) -> None:
        counts[f"{KIND}.{check.state}"] += 1
        pending.append({"mahoso": check.mahoso, "state": check.state, "remote_status": check.remote_status,
                        "checked_at": now_iso(), "updated_at": by_key[check.mahoso]["updated_at"]})
        if len(pending) >= FLUSH_EVERY:
            flush()
            store.heartbeat(run["id"], done=sum(counts.values()), counts=counts)

    async def sweep() -> Any:
        async with open_adapter(config, max_connections=options.concurrency) as adapter:
            return await run_sweep(queue, lambda item: check_dossier(adapter, item["mahoso"], item["status"]),
                                   concurrency=options.concurrency, rate_per_second=options.rate_per_second,
                                   breaker=CircuitBreaker(threshold=options.breaker_threshold),
                                   on_result=on_result, should_stop=lambda: bool(stop and stop.is_set()))

    try:
        result = asyncio.run(sweep())
    except BaseException as exc:
        flush()
        store.finish_run(run["id"], status="failed", message=f"{type(exc).__name__}: {exc}",
                         done=sum(counts.values()), counts=counts)
        raise
    flush()
    done = sum(counts.values())
    left = store.dossier_queue_size()
    if result.status == "completed":
        status, message = "completed", f"{done} dossiers looked up on DVCQG; {left} still queued"
    elif result.status == "portal_unavailable":
        status = "portal_unavailable"
        message = f"DVCQG is unavailable; {done} of {len(queue)} dossiers looked up, the rest stay queued"
    else:
        status, message = "interrupted", f"stopped; {left} dossiers still queued"
    return store.finish_run(run["id"], status=status, message=message, done=done, counts=counts)


def open_store_for(cfg: Mapping[str, Any]) -> Store:
    """A store on the configured database (for threads that outlive a request)."""
    return open_store(cfg["DATABASE"], busy_timeout_ms=int(cfg.get("BUSY_TIMEOUT_MS", 10000)))


# -- relay ------------------------------------------------------------------------------------------
def _batches(entries: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Consecutive entries with the same `isUpdating`, each dossier at most once per batch."""
    out: list[list[dict[str, Any]]] = []
    for entry in entries:
        last = out[-1] if out else None
        if (last is None or len(last) >= size or last[0]["is_updating"] != entry["is_updating"]
                or any(e["mahoso"] == entry["mahoso"] for e in last)):
            out.append([entry])
        else:
            last.append(entry)
    return out


def relay_once(store: Store, cfg: Mapping[str, Any], *, max_batches: int = 1000) -> dict[str, Any]:
    """Deliver the outbox in order until it is empty or a batch fails; returns what happened."""
    owner = f"{os.getpid()}:{threading.get_ident()}"
    if not store.relay_lease(owner, 120.0):
        return {"delivered": 0, "failed": False, "busy": True, "queued": store.outbox_summary()["queued"]}
    size = int(cfg.get("DOSSIER_RELAY_BATCH", 100))
    config = portal_config(cfg)
    delivered, error = 0, None

    async def run() -> None:
        nonlocal delivered, error
        async with open_adapter(config, max_connections=2) as adapter:
            for _ in range(max_batches):
                entries = store.outbox_pending(size * 10)
                if not entries:
                    return
                for batch in _batches(entries, size):
                    answer = await deliver(adapter, [e["body"] for e in batch],
                                           is_updating=batch[0]["is_updating"])
                    # "04" refuses the whole batch for one dossier DVCQG already holds (a delivery
                    # whose answer was lost): the others were not kept, so send each on its own.
                    parts = ([[e] for e in batch] if answer.acknowledged and answer.error_code == ALREADY_EXISTS
                             and len(batch) > 1 else [batch])
                    for part in parts:
                        if len(parts) > 1:
                            answer = await deliver(adapter, [e["body"] for e in part],
                                                   is_updating=part[0]["is_updating"])
                        ids = [e["id"] for e in part]
                        if not answer.acknowledged:
                            error = f"{answer.error_code or 'no answer'}: {answer.message or ''}".strip()
                            store.outbox_failed(ids, error, now_iso())
                            return
                        store.outbox_delivered(ids, answer.error_code or "00", now_iso())
                        delivered += len(ids)
                    store.relay_lease(owner, 120.0)

    try:
        asyncio.run(run())
    finally:
        store.relay_release(owner)
    return {"delivered": delivered, "failed": error is not None, "error": error, "busy": False,
            "queued": store.outbox_summary()["queued"]}


def relay_until_stopped(open_store: Any, cfg: Mapping[str, Any], stop: threading.Event, *,
                        idle_seconds: float = 5.0) -> None:
    """Keep delivering: after a failure wait 1, 2, 4 ... 60 s (tenacity), when idle `idle_seconds`."""
    while not stop.is_set():
        for attempt in Retrying(wait=wait_exponential(multiplier=1, max=60), sleep=stop.wait,
                                retry=retry_if_result(lambda r: bool(r and r["failed"])),
                                stop=stop_when_event_set(stop), reraise=False, retry_error_callback=lambda s: None):
            with attempt:
                with open_store(cfg) as store:
                    outcome = relay_once(store, cfg)
                if outcome["failed"]:
                    log.warning("relay: DVCQG did not acknowledge (%s); %s queued", outcome["error"],
                                outcome["queued"])
            if not attempt.retry_state.outcome.failed:
                attempt.retry_state.set_result(outcome)
        stop.wait(idle_seconds)


_relay_thread: threading.Thread | None = None
_relay_lock = threading.Lock()


def relay_soon(cfg: Mapping[str, Any]) -> bool:
    """Deliver the outbox in a daemon thread of this process (one at most), retrying with backoff
    until it is empty; False when one is already running. The lease keeps processes apart."""
    global _relay_thread
    with _relay_lock:
        if _relay_thread is not None and _relay_thread.is_alive():
            return False
        cfg = dict(cfg)

        def work() -> None:
            try:
                for attempt in Retrying(wait=wait_exponential(multiplier=1, max=60),
                                        retry=retry_if_result(lambda r: bool(r["failed"] or r["busy"])),
                                        reraise=True):
                    with attempt:
                        with open_store_for(cfg) as store:
                            outcome = relay_once(store, cfg)
                    if not attempt.retry_state.outcome.failed:
                        attempt.retry_state.set_result(outcome)
                    if outcome["failed"]:
                        log.warning("relay: DVCQG did not acknowledge (%s); %s queued", outcome["error"],
                                    outcome["queued"])
            except Exception:  # the outbox keeps everything: the next sync or `tthc dossiers relay` retries
                log.exception("relay thread stopped")

        _relay_thread = threading.Thread(target=work, name="tthc-dossier-relay", daemon=True)
        _relay_thread.start()
        return True


def relay_join(timeout: float | None = None) -> bool:
    """Wait for this process's relay thread to finish (True when none runs any more)."""
    thread = _relay_thread
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True
