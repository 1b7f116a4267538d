"""The generic sweep runner: concurrency bound, circuit breaker, callbacks, stop, rate limit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest

from connectors import CircuitBreaker, HostRateLimiter, Prober, UsageError, run_sweep
from tests.connectors import fakeportal as fp
from tests.connectors.conftest import fast_config, run


@dataclass
class Result:
    """A stand-in for a Verdict: the runner only looks at `verdict` and `unavailable`."""

    verdict: str
    unavailable: bool = False


UP, DOWN = Result("integrated"), Result("unknown", unavailable=True)


def sweep(items, probe, **kwargs):
    delivered = []
    summary = run(
        run_sweep(items, probe, on_result=lambda i, r: delivered.append((i, r)), **kwargs)
    )
    return summary, delivered


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_concurrency_bound_is_reached_and_never_exceeded(concurrency):
    state = {"now": 0, "max": 0}

    async def probe(item):
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        for _ in range(3):  # yield to the loop: every other worker gets to start its probe
            await asyncio.sleep(0)
        state["now"] -= 1
        return UP

    summary, delivered = sweep(range(20), probe, concurrency=concurrency)
    assert state["max"] == concurrency
    assert summary.status == "completed" and summary.probed == 20 and summary.not_probed == 0
    assert sorted(i for i, _ in delivered) == list(range(20))


def test_results_are_delivered_as_they_complete_not_in_input_order():
    async def probe(item):
        for _ in range(10 - item):  # later items finish first
            await asyncio.sleep(0)
        return Result(f"v{item}")

    summary, delivered = sweep(range(10), probe, concurrency=10)
    assert [i for i, _ in delivered] == list(range(9, -1, -1))
    assert all(r.verdict == f"v{i}" for i, r in delivered)
    assert summary.by_verdict == {f"v{i}": 1 for i in range(10)}


def test_async_on_result_is_awaited_one_at_a_time():
    active, seen = {"n": 0, "max": 0}, []

    async def store(item, result):
        active["n"] += 1
        active["max"] = max(active["max"], active["n"])
        await asyncio.sleep(0)
        seen.append(item)
        active["n"] -= 1

    async def probe(item):
        await asyncio.sleep(0)
        return UP

    summary = run(run_sweep(range(12), probe, concurrency=6, on_result=store))
    assert sorted(seen) == list(range(12)) and active["max"] == 1 and summary.probed == 12


def test_breaker_opens_and_the_rest_is_not_probed():
    started = []

    async def probe(item):
        started.append(item)
        await asyncio.sleep(0)
        return DOWN

    summary, delivered = sweep(
        list(range(100)), probe, concurrency=4, breaker=CircuitBreaker(threshold=5)
    )
    assert summary.status == "portal_unavailable"
    assert (
        summary.probed == len(delivered) == 5 and summary.not_probed == 95 and summary.total == 100
    )
    assert len(started) < 20  # stopped early, not after walking the list
    assert summary.by_verdict == {"unknown": 5}


def test_a_real_verdict_resets_the_streak():
    pattern = [DOWN, DOWN, UP] * 10

    async def probe(item):
        return pattern[item]

    summary, _ = sweep(range(30), probe, concurrency=1, breaker=CircuitBreaker(threshold=3))
    assert summary.status == "completed" and summary.probed == 30


def test_unknown_not_caused_by_unavailability_does_not_trip():
    async def probe(item):
        return Result("unknown", unavailable=False)  # e.g. auth_failed

    summary, _ = sweep(range(10), probe, concurrency=2, breaker=CircuitBreaker(threshold=2))
    assert summary.status == "completed" and summary.by_verdict == {"unknown": 10}


def test_breaker_counts_a_list_result_only_if_all_of_it_is_unavailable():
    breaker = CircuitBreaker(threshold=2)
    assert not breaker.record([DOWN, UP]) and breaker.streak == 0
    assert not breaker.record([DOWN, DOWN]) and breaker.record([DOWN]) and breaker.is_open


def test_should_stop_lets_in_flight_items_finish():
    delivered = []

    async def probe(item):
        await asyncio.sleep(0)
        return UP

    summary = run(
        run_sweep(
            range(50),
            probe,
            concurrency=2,
            on_result=lambda i, r: delivered.append(i),
            should_stop=lambda: len(delivered) >= 6,
        )
    )
    assert summary.status == "stopped"
    assert 6 <= summary.probed <= 7 and summary.probed + summary.not_probed == 50
    assert summary.probed == len(delivered)


def test_a_killed_sweep_can_be_resumed_without_probing_again_what_it_finished():
    stored, probed = {}, []

    async def probe(item):
        probed.append(item)
        await asyncio.sleep(0)
        return DOWN if 10 <= len(probed) <= 14 else UP

    items = list(range(40))
    first = run(
        run_sweep(
            items,
            probe,
            concurrency=1,
            breaker=CircuitBreaker(3),
            on_result=lambda i, r: stored.setdefault(i, r),
        )
    )
    assert first.status == "portal_unavailable"
    remaining = [i for i in items if i not in stored]
    probed.clear()
    second = run(
        run_sweep(remaining, probe, concurrency=3, on_result=lambda i, r: stored.setdefault(i, r))
    )
    assert second.status == "completed" and set(probed) == set(remaining)
    assert sorted(stored) == items


def test_generator_items_are_counted():
    async def probe(item):
        return DOWN

    summary, _ = sweep((i for i in range(30)), probe, concurrency=1, breaker=CircuitBreaker(4))
    assert (summary.probed, summary.not_probed, summary.total) == (4, 26, 30)


def test_a_probe_bug_cancels_the_sweep_and_propagates():
    cancelled = []

    async def probe(item):
        if item == 3:
            raise KeyError("bug")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise
        return UP

    with pytest.raises(KeyError):
        run(run_sweep(range(10), probe, concurrency=4))
    assert sorted(cancelled) == [0, 1, 2]


def test_an_on_result_failure_propagates():
    async def probe(item):
        return UP

    def store(item, result):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run(run_sweep(range(5), probe, on_result=store))


@pytest.mark.parametrize(
    "kwargs", [{"concurrency": 0}, {"concurrency": 2.5}, {"rate_per_second": -1}]
)
def test_invalid_arguments_are_usage_errors(kwargs):
    async def probe(item):
        return UP

    with pytest.raises(UsageError):
        run(run_sweep(range(3), probe, **kwargs))


def test_breaker_threshold_must_be_positive():
    with pytest.raises(UsageError):
        CircuitBreaker(threshold=0)


def test_rate_limiter_keeps_one_bucket_per_host():
    async def main():
        limiter = HostRateLimiter(1)
        await limiter.acquire("http://127.0.0.1:8081/adapter/auth")
        return (
            limiter.requests,
            limiter.for_host("http://127.0.0.1:8081").has_capacity(),
            limiter.for_host("http://127.0.0.1:9090").has_capacity(),
        )

    requests, same_host_free, other_host_free = run(main())
    assert requests == {"http://127.0.0.1:8081": 1}
    assert not same_host_free and other_host_free


# --- sweeps of real probes over HTTP --------------------------------------------------------------


def probe_all(config, items, **kwargs):
    delivered = {}

    async def main():
        async with httpx.AsyncClient() as client:
            prober = Prober(config, client)
            summary = await run_sweep(
                items,
                lambda code: prober.linkage(code, 4),
                on_result=lambda code, v: delivered.__setitem__(code, v),
                **kwargs,
            )
            return summary

    return run(main()), delivered


def test_sweep_of_linkage_probes_reaches_every_verdict(portal, config):
    portal.add("1.000001", units=[(fp.UNIT, "4")])
    portal.add("1.000002", units=[(fp.UNIT, "3")])
    portal.add("1.000003", units=[("000.00.00.H29", "4")])
    portal.add("1.000004", units=[(fp.UNIT, "4")], link="404")
    codes = ["1.000001", "1.000002", "1.000003", "1.000004", "1.000005"]
    summary, delivered = probe_all(
        config, codes, concurrency=3, rate_per_second=1000, breaker=CircuitBreaker(3)
    )
    assert {c: v.verdict for c, v in delivered.items()} == {
        "1.000001": "integrated",
        "1.000002": "integrated",
        "1.000003": "not_integrated",
        "1.000004": "link_broken",
        "1.000005": "not_listed",
    }
    assert delivered["1.000002"].level_mismatch is True
    assert summary.by_verdict == {
        "integrated": 2,
        "not_integrated": 1,
        "link_broken": 1,
        "not_listed": 1,
    }
    # every request went through the per-host limiter
    assert summary.requests_by_host == {portal.base_url: len(portal.journal)}


def test_sweep_respects_concurrency_on_the_wire(portal, config):
    for i in range(12):
        portal.add(f"1.00010{i:02d}", units=[(fp.UNIT, "4")])
    portal.hold = 0.02
    summary, delivered = probe_all(config, [f"1.00010{i:02d}" for i in range(12)], concurrency=3)
    assert summary.probed == 12 and {v.verdict for v in delivered.values()} == {"integrated"}
    assert portal.max_inflight <= 3
    assert sum(1 for r in portal.journal if r["path"] == "/adapter/auth") == 1  # one login, shared


def test_portal_down_ends_the_sweep_early_with_unknown(dead_url):
    codes = [f"1.0002{i:02d}" for i in range(60)]
    summary, delivered = probe_all(
        fast_config(dead_url, retries=1), codes, concurrency=4, breaker=CircuitBreaker(threshold=5)
    )
    assert (
        summary.status == "portal_unavailable" and summary.probed == 5 and summary.not_probed == 55
    )
    assert all(v.verdict == "unknown" and v.unavailable for v in delivered.values())
    assert all(v.calls for v in delivered.values())
