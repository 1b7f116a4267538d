"""Per-host request rate limits (aiolimiter), shared by every client of a sweep."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

from aiolimiter import AsyncLimiter

from connectors.errors import UsageError

# The sweep runner activates a limiter for the tasks it starts; transports pick it up here,
# so probes need not thread a limiter through every call.
_current: ContextVar["HostRateLimiter | None"] = ContextVar("connectors_rate_limiter", default=None)


class HostRateLimiter:
    """At most `rate_per_second` requests per second to each host (scheme://host:port)."""

    def __init__(self, rate_per_second: float) -> None:
        if (
            isinstance(rate_per_second, bool)
            or not isinstance(rate_per_second, (int, float))
            or not rate_per_second > 0
        ):
            raise UsageError(f"rate_per_second must be a positive number, got {rate_per_second!r}")
        self.rate_per_second = float(rate_per_second)
        self._limiters: dict[str, AsyncLimiter] = {}
        #: Requests let through, per host: a cheap metric for the sweep summary.
        self.requests: Counter[str] = Counter()

    @staticmethod
    def host_of(url: str) -> str:
        """The key a URL is limited under."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    def for_host(self, host: str) -> AsyncLimiter:
        """The limiter of one host, created on first use."""
        limiter = self._limiters.get(host)
        if limiter is None:
            # Below one request per second, a bucket of one token refilled every 1/rate s.
            if self.rate_per_second >= 1:
                limiter = AsyncLimiter(self.rate_per_second, 1.0)
            else:
                limiter = AsyncLimiter(1, 1.0 / self.rate_per_second)
            self._limiters[host] = limiter
        return limiter

    async def acquire(self, url: str) -> None:
        """Wait until a request to the host of `url` is allowed."""
        host = self.host_of(url)
        await self.for_host(host).acquire()
        self.requests[host] += 1


@contextmanager
def use_limiter(limiter: HostRateLimiter | None) -> Iterator[HostRateLimiter | None]:
    """Make `limiter` (None: no limit) the current one for tasks created inside the block."""
    token = _current.set(limiter)
    try:
        yield limiter
    finally:
        _current.reset(token)


def current_limiter() -> HostRateLimiter | None:
    """The limiter activated by the enclosing sweep, if any."""
    return _current.get()
