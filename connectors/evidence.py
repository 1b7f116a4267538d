"""Evidence of calls (one record per HTTP attempt) and the outcome of a client call."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Generic, TypeVar

#: Asia/Ho_Chi_Minh has had no daylight saving since 1975: a fixed offset needs no tzdata.
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

T = TypeVar("T")


def vn_now() -> datetime:
    """Current time in Asia/Ho_Chi_Minh."""
    return datetime.now(VN_TZ)


def iso_now() -> str:
    """Current time as ISO 8601 with the +07:00 offset, to the millisecond."""
    return vn_now().isoformat(timespec="milliseconds")


def portal_timestamp(moment: datetime | None = None) -> str:
    """A payload date string `yyyyMMddHHmmss` in Asia/Ho_Chi_Minh."""
    return (moment or vn_now()).astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


@dataclass(slots=True)
class CallRecord:
    """One HTTP attempt: what was asked, what came back, how long it took."""

    upstream: str  # dvcqg | adapter | payment | lgsp | paygov
    service: str  # e.g. "catalog.search", "LayDVC", "INIT", "token"
    method: str
    url: str
    attempt: int  # 1-based, per call
    started_at: str
    status: int | None = None  # HTTP status; None when no answer arrived
    elapsed_ms: float = 0.0
    # ok | timeout | connection_error | request_error | http_5xx | http_429 | http_408 |
    # http_3xx | http_4xx | malformed | not_found | gone | code_absent
    outcome: str = "ok"
    error_code: str | None = None  # business code of the answer (code / error_code / MaLoi)
    message: str | None = None  # business message or the transport error text
    retry_after_s: float | None = None  # Retry-After announced by the server
    wait_s: float | None = None  # delay slept before the next attempt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        # Every field is a str, number or None: a shallow copy is what asdict() would give,
        # without its recursive walk (once per HTTP call of a sweep).
        return {name: getattr(self, name) for name in _CALL_FIELDS}


_CALL_FIELDS = tuple(f.name for f in dataclasses.fields(CallRecord))


class Status(StrEnum):
    """How a client call ended."""

    OK = "ok"
    REFUSED = "refused"  # a business error code from the upstream (code in Outcome.error_code)
    UNAVAILABLE = "unavailable"  # transient failures persisted after every retry
    UNEXPECTED = "unexpected"  # an answer outside the contract that retrying will not fix
    AUTH_FAILED = "auth_failed"  # our credentials were refused (adapter login, LGSP token)
    INVALID_SIGNATURE = "invalid_signature"  # a signed answer did not verify


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """Result of one client call: a status, a value when OK, and every attempt made."""

    status: Status
    value: T | None = None
    error_code: str | None = None
    message: str | None = None
    calls: tuple[CallRecord, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.status is Status.OK
