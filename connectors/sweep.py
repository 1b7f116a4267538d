"""A generic async sweep: bounded concurrency, per-host rate limit, circuit breaker, callbacks.

The runner knows nothing of storage: each result goes to `on_result` as soon as it is
known (one call at a time), so the caller can store it and, after a crash, resume by
sweeping only what it has not stored.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.errors import UsageError
from connectors.evidence import iso_now
from connectors.ratelimit import HostRateLimiter, use_limiter

Item = TypeVar("Item")
Result = TypeVar("Result")

COMPLETED = "completed"
PORTAL_UNAVAILABLE = "portal_unavailable"
STOPPED = "stopped"


def is_unavailable(result: Any) -> bool:
    """Default breaker test: an `unknown` verdict caused by unavailability (all of a list)."""
    if isinstance(result, (list, tuple)):
        return bool(result) and all(is_unavailable(r) for r in result)
    return bool(getattr(result, "unavailable", False))


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive results that `trips` says show an unavailable portal."""

    threshold: int = 5
    trips: Callable[[Any], bool] = is_unavailable
    streak: int = 0
    is_open: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int)
            or self.threshold < 1
        ):
            raise UsageError(f"breaker threshold must be an integer >= 1, got {self.threshold!r}")

    def record(self, result: Any) -> bool:
        """Count one result (any other result resets the streak); True once open."""
        if not self.is_open:
            self.streak = self.streak + 1 if self.trips(result) else 0
            self.is_open = self.streak >= self.threshold
        return self.is_open


@dataclass
class SweepResult:
    """Summary of a sweep: how it ended, how much was probed, verdict counts."""

    status: str  # completed | portal_unavailable | stopped
    total: int
    probed: int
    not_probed: int
    by_verdict: dict[str, int]
    started_at: str
    finished_at: str
    elapsed_ms: float
    concurrency: int
    rate_per_second: float | None = None
    requests_by_host: dict[str, int] = field(default_factory=dict)
    breaker_threshold: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(
            self.__dict__,
            by_verdict=dict(self.by_verdict),
            requests_by_host=dict(self.requests_by_host),
        )


def _verdict_names(result: Any) -> list[str]:
    if isinstance(result, (list, tuple)):
        return [name for r in result for name in _verdict_names(r)]
    verdict = getattr(result, "verdict", None)
    return [str(verdict)] if verdict is not None else []


async def run_sweep(
    items: Iterable[Item],
    probe: Callable[[Item], Awaitable[Result]],
    *,
    concurrency: int = 8,
    rate_per_second: float | None = None,
    breaker: CircuitBreaker | None = None,
    on_result: Callable[[Item, Result], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
    prepare: Callable[[], Awaitable[Any]] | None = None,
) -> SweepResult:
    """Probe every item with at most `concurrency` in flight; see the module docstring.

    `rate_per_second` limits requests per portal host (None or 0: unlimited) for every
    transport used inside the probes. When `breaker` opens, probes in flight are cancelled
    (their items count as not probed) and the sweep ends `portal_unavailable`. When
    `should_stop()` turns true, no new item starts, those in flight finish, and the sweep
    ends `stopped`. `on_result(item, result)` may be sync or async; an exception it (or a
    probe) raises cancels the sweep and propagates: our bugs are not verdicts. `prepare()`, if
    given, is awaited once before the first probe, under the same rate limit (bulk reads).
    `items` must be finite; an iterable without `len()` is consumed to count what is left.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise UsageError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    limiter = HostRateLimiter(rate_per_second) if rate_per_second else None
    total = len(items) if isinstance(items, Sized) else None
    iterator = iter(items)
    started_at, started = iso_now(), time.perf_counter()
    counts: Counter[str] = Counter()
    deliver = asyncio.Lock()
    state = {"taken": 0, "probed": 0, "status": COMPLETED}
    inflight: dict[int, asyncio.Task[Any]] = {}
    cancelled_by_breaker: set[asyncio.Task[Any]] = set()

    def stop_requested() -> bool:
        if state["status"] != COMPLETED:
            return True
        if should_stop is not None and should_stop():
            state["status"] = STOPPED
            return True
        return False

    async def worker(slot: int) -> None:
        me = asyncio.current_task()
        while not stop_requested():
            try:
                item = next(iterator)
            except StopIteration:
                return
            state["taken"] += 1
            inflight[slot] = me
            try:
                result = await probe(item)
                async with deliver:
                    if state["status"] == PORTAL_UNAVAILABLE:
                        # Finished after the breaker opened: not delivered, probed next time.
                        return
                    inflight.pop(slot, None)
                    outcome = on_result(item, result) if on_result is not None else None
                    if inspect.isawaitable(outcome):
                        await outcome
                    state["probed"] += 1
                    counts.update(_verdict_names(result))
                    if breaker is not None and breaker.record(result):
                        state["status"] = PORTAL_UNAVAILABLE
                        for task in list(inflight.values()):
                            cancelled_by_breaker.add(task)
                            task.cancel()
            except asyncio.CancelledError:
                if me in cancelled_by_breaker:
                    return
                raise
            finally:
                inflight.pop(slot, None)

    with use_limiter(limiter):
        if prepare is not None:
            await prepare()
        tasks = [asyncio.create_task(worker(slot)) for slot in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

    left = total - state["taken"] if total is not None else sum(1 for _ in iterator)
    not_probed = left + state["taken"] - state["probed"]
    return SweepResult(
        status=state["status"],
        total=state["probed"] + not_probed,
        probed=state["probed"],
        not_probed=not_probed,
        by_verdict=dict(counts),
        started_at=started_at,
        finished_at=iso_now(),
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        concurrency=concurrency,
        rate_per_second=rate_per_second or None,
        requests_by_host=dict(limiter.requests) if limiter else {},
        breaker_threshold=breaker.threshold if breaker else None,
    )
