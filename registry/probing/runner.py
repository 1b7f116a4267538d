"""Running one sweep: probes through `connectors`, each verdict stored the moment it arrives.

Storing as we go is what makes a killed run resumable (the store knows which items are
finished) and keeps memory flat. A heartbeat proves the run is alive; the store expires runs
whose heartbeat is older than the lease (`TTHC_PROBE_LEASE`) to `interrupted`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from connectors import CircuitBreaker, Prober, Verdict, run_sweep
from connectors.codes import is_success
from connectors.sweep import COMPLETED, PORTAL_UNAVAILABLE
from connectors.verdicts import UNKNOWN, Cause

from ..alerts import after_sweep
from ..store import Store, now_iso
from .config import SweepOptions, portal_config
from .plan import Item

FLUSH_EVERY = 50
FLUSH_SECONDS = 0.25
#: From this many linkage items on, a sweep reads the catalogue and LayDVC in bulk first
#: (about 7 calls for the whole catalogue instead of 2 per procedure).
BULK_MIN = 10
#: Answers saying the platform accepted an order (INIT "00"/"0"/0, PayGov create SUCCESSFUL).
_ORDER_SERVICES = frozenset({"INIT", "create"})

log = logging.getLogger("tthc.probing")

READY = "payment_ready"
# Results that say "asking again now is pointless": the portal does not answer, or it
# refuses our credentials. Both open the circuit breaker instead of filling the store.
_BREAKER_CAUSES = frozenset({Cause.UNAVAILABLE.value, Cause.AUTH_FAILED.value})


class ProgressSink(Protocol):
    """What a sweep reports its progress to (a CLI progress bar, a log...)."""

    def advance(self, item: Item, verdict: Verdict, counts: Mapping[str, int]) -> None: ...


def trips_breaker(result: Any) -> bool:
    """Breaker test: an `unknown` because the portal is unavailable or refuses our credentials."""
    return getattr(result, "verdict", None) == UNKNOWN and getattr(result, "cause", None) in _BREAKER_CAUSES


def combine(verdicts: list[Verdict]) -> Verdict:
    """One payment verdict from the channels tried in turn: ready if one was, else unknown if
    one could not tell, else the first refusal; every call of every channel kept as evidence."""
    if len(verdicts) == 1:
        return verdicts[0]
    chosen = next((v for v in verdicts if v.verdict == READY), None) \
        or next((v for v in verdicts if v.verdict == UNKNOWN), None) or verdicts[0]
    tried = [{"channel": v.channel, "verdict": v.verdict, "reason": v.reason,
              "error_code": v.error_code} for v in verdicts]
    return dataclasses.replace(
        chosen, details={**chosen.details, "channels_tried": tried},
        calls=[c for v in verdicts for c in v.calls],
        elapsed_ms=round(sum(v.elapsed_ms for v in verdicts), 3))


async def probe_item(prober: Prober, item: Item) -> Verdict:
    """The verdict of one item (for payment: the channels in order until one is ready)."""
    if item.dimension == "linkage":
        return await prober.linkage(item.code, item.level)
    verdicts: list[Verdict] = []
    for channel in item.channels:
        verdict = await prober.payment(item.code, channel, name=item.name or None)
        verdicts.append(verdict)
        if verdict.verdict == READY:
            break
    return combine(verdicts)


def to_attempt(run_id: int | None, item: Item, verdict: Verdict) -> dict[str, Any]:
    """A verdict as a stored attempt: the conclusion in `details`, every HTTP call in `evidence`."""
    doc = verdict.to_dict()
    calls = doc.pop("calls")
    for key in ("kind", "code", "verdict", "checked_at", "elapsed_ms"):
        doc.pop(key)
    # One flat mapping: the verdict's fields, then what the probe noted (deep link, reference...).
    doc = {**doc.pop("details"), **doc}
    return {"run_id": run_id, "code": item.code, "dimension": item.dimension, "verdict": verdict.verdict,
            "checked_at": verdict.checked_at, "duration_ms": verdict.elapsed_ms, "details": doc,
            "evidence": calls}


def orders_created(verdict: Verdict) -> int:
    """Payment orders the platform accepted during this probe (each one nobody will pay)."""
    return sum(1 for c in verdict.calls if c.service in _ORDER_SERVICES and c.status == 200
               and (is_success(c.error_code) or c.error_code == "SUCCESSFUL"))


def count_key(item: Item, verdict: Verdict) -> list[str]:
    """The run counters one verdict adds to."""
    keys = [f"{item.dimension}.{verdict.verdict}"]
    if item.dimension == "linkage" and verdict.level_mismatch:
        keys.append("linkage.level_mismatch")
    return keys


@dataclass
class _State:
    done: int
    counts: Counter[str]
    recorded: set[tuple[str, str]] = field(default_factory=set)
    last_cause: str | None = None  # cause of the latest unknown (why the breaker opened)
    orders: int = 0  # payment orders the platforms accepted (nobody pays them)
    bulk: dict[str, Any] = field(default_factory=dict)  # how the linkage snapshot was read
    taken_over: bool = False  # another process took the run (our lease lapsed): stop quietly


async def _sweep(store: Store, cfg: Mapping[str, Any], options: SweepOptions, run: dict[str, Any],
                 items: list[Item], state: _State, progress: ProgressSink | None,
                 stop: threading.Event | None) -> Any:
    run_id = run["id"]

    # Verdicts are written in small batches: one write transaction per ~0.25 s (or 50 verdicts)
    # instead of one per verdict, so API writers sharing the database rarely wait for the lock.
    pending: list[tuple[Item, Verdict]] = []
    last_flush = [asyncio.get_running_loop().time()]

    def flush() -> None:
        if pending:
            store.record_attempts([to_attempt(run_id, i, v) for i, v in pending])
            state.recorded.update(i.key for i, _ in pending)
            pending.clear()
        last_flush[0] = asyncio.get_running_loop().time()

    def on_result(item: Item, verdict: Verdict) -> None:
        pending.append((item, verdict))
        if len(pending) >= FLUSH_EVERY or asyncio.get_running_loop().time() - last_flush[0] >= FLUSH_SECONDS:
            flush()
        state.done += 1
        state.counts.update(count_key(item, verdict))
        if item.dimension == "payment":
            state.orders += orders_created(verdict)
        if verdict.verdict == UNKNOWN:
            state.last_cause = verdict.cause
        if progress is not None:
            progress.advance(item, verdict, state.counts)

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(options.heartbeat_seconds)
            flush()
            if store.get_run(run_id)["status"] != "running":
                state.taken_over = True
                return
            store.heartbeat(run_id, done=state.done, counts=state.counts)

    def should_stop() -> bool:
        return state.taken_over or (stop is not None and stop.is_set())

    breaker = CircuitBreaker(threshold=options.breaker_threshold, trips=trips_breaker)
    beating = asyncio.create_task(heartbeat())
    try:
        async with Prober.open(portal_config(cfg), max_connections=options.concurrency) as prober:
            linkage = sum(1 for item in items if item.dimension == "linkage")

            async def prepare() -> None:
                snapshot = await prober.load_snapshot()
                state.bulk = snapshot.source()

            return await run_sweep(items, lambda item: probe_item(prober, item),
                                   concurrency=options.concurrency,
                                   rate_per_second=options.rate_per_second, breaker=breaker,
                                   on_result=on_result, should_stop=should_stop,
                                   prepare=prepare if linkage >= BULK_MIN else None)
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        flush()


def execute(store: Store, cfg: Mapping[str, Any], options: SweepOptions, run: dict[str, Any],
            items: list[Item], *, done: int = 0, progress: ProgressSink | None = None,
            stop: threading.Event | None = None) -> dict[str, Any]:
    """Probe `items` for `run` (already started or resumed), store every verdict, close the run."""
    run_id = run["id"]
    state = _State(done=done, counts=Counter(store.run_counts(run_id)))
    try:
        result = asyncio.run(_sweep(store, cfg, options, run, items, state, progress, stop))
    except BaseException as exc:
        # Ctrl-C leaves a resumable run; anything else is our failure, kept for the record.
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        message = "stopped by the user" if status == "interrupted" else f"{type(exc).__name__}: {exc}"
        if status == "failed":
            log.exception("sweep %s failed", run_id)
        store.finish_run(run_id, status=status, message=message, done=state.done,
                         counts=store.run_counts(run_id))
        raise
    counts = store.run_counts(run_id)
    if state.taken_over:
        log.warning("sweep %s: its lease lapsed and the run was taken over; stopped", run_id)
        return store.get_run(run_id)
    left = [item for item in items if item.key not in state.recorded]
    if result.status == COMPLETED:
        status = "completed"
        message = f"{result.probed} probed in {result.elapsed_ms / 1000:.1f} s"
        if state.bulk:
            message += (f"; catalogue read by {state.bulk.get('catalog')}, LayDVC by {state.bulk.get('lay_dvc')}"
                        f" ({state.bulk.get('bulk_calls', 0)} bulk calls)")
    elif result.status == PORTAL_UNAVAILABLE:
        # No failure is recorded for what was not probed; the earlier verdicts stay, marked stale.
        store.mark_stale((item.key for item in left), now_iso())
        auth = state.last_cause == Cause.AUTH_FAILED.value
        status = "failed" if auth else "portal_unavailable"
        why = ("the portal refused our credentials (check TTHC_ADAPTER_* / TTHC_LGSP_*)" if auth
               else f"the portal is unavailable ({options.breaker_threshold} probes in a row got no answer)")
        message = (f"{why}; {len(left)} of {len(items)} items not probed, their earlier verdicts "
                   "kept and marked stale")
    else:
        status = "interrupted"
        message = f"stopped before the end; {len(left)} items left (tthc probe --resume)"
    message += f"; payment orders created: {state.orders}"
    skipped = run.get("selection", {}).get("payment_skipped") if isinstance(run.get("selection"), dict) else None
    if skipped:
        message += (f"; payment not probed (not due): {skipped.get('cadence', 0)} probed within "
                    f"the interval, {skipped.get('callback', 0)} with a fresher verified payment")
    log.info("sweep %s %s: %s", run_id, status, message)
    finished = store.finish_run(run_id, status=status, message=message, done=state.done, counts=counts)
    after_sweep(store, cfg)  # alert events from this sweep's verdicts (delivery stays with the drain)
    return finished


def log_progress(every: int = 100) -> ProgressSink:
    """A progress sink that logs every `every` results (background sweeps)."""

    class _Log:
        def advance(self, item: Item, verdict: Verdict, counts: Mapping[str, int]) -> None:
            total = sum(v for k, v in counts.items() if not k.endswith("level_mismatch"))
            if total % every == 0:
                log.info("sweep progress: %d items, %s", total, dict(counts))

    return _Log()


__all__ = ["ProgressSink", "combine", "count_key", "execute", "log_progress", "probe_item",
           "to_attempt", "trips_breaker"]
