"""Verdicts of contract section 5, with their evidence, ready to be stored as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from connectors.evidence import CallRecord, Outcome, Status


class LinkageVerdict(StrEnum):
    """DVCQG linkage of one procedure."""

    INTEGRATED = "integrated"
    NOT_INTEGRATED = "not_integrated"
    NOT_LISTED = "not_listed"
    LINK_BROKEN = "link_broken"
    UNKNOWN = "unknown"


class PaymentVerdict(StrEnum):
    """Online payment channel of one procedure."""

    PAYMENT_READY = "payment_ready"
    PAYMENT_NOT_CONFIGURED = "payment_not_configured"
    PAYMENT_REJECTED = "payment_rejected"
    INVALID_SIGNATURE = "invalid_signature"
    UNKNOWN = "unknown"


UNKNOWN = "unknown"


class Cause(StrEnum):
    """Why a verdict is `unknown`; only UNAVAILABLE counts towards the circuit breaker."""

    UNAVAILABLE = "unavailable"  # timeouts, connection errors, 5xx, 429, HTML where JSON was due
    UNEXPECTED = "unexpected"  # an answer outside the contract that retrying does not fix
    REFUSED = "refused"  # the portal refused a step with a business code that says nothing
    AUTH_FAILED = "auth_failed"  # our credentials were refused: fix the settings


def cause_of(outcome: Outcome[Any]) -> Cause:
    """The unknown-cause matching a failed client outcome."""
    return {
        Status.UNAVAILABLE: Cause.UNAVAILABLE,
        Status.AUTH_FAILED: Cause.AUTH_FAILED,
        Status.REFUSED: Cause.REFUSED,
    }.get(outcome.status, Cause.UNEXPECTED)


@dataclass
class Verdict:
    """One probe's conclusion on one dimension of one procedure, with every call made."""

    kind: str  # "linkage" | "payment"
    code: str
    verdict: str
    reason: str
    checked_at: str
    elapsed_ms: float = 0.0
    cause: str | None = None  # set when verdict is "unknown" (see Cause)
    error_code: str | None = None  # the business code behind the verdict, if any
    error_message: str | None = None
    declared_level: int | None = None  # linkage: the level registered by the caller
    portal_level: int | None = None  # linkage: MUCDO of our unit's APDUNGDVC entry
    level_mismatch: bool | None = None  # linkage: both levels known and different
    channel: str | None = None  # payment: dvcqg_payment | paygov
    details: dict[str, Any] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Enum members become plain strings so that equality, JSON and storage agree.
        self.verdict = str(self.verdict)
        self.cause = None if self.cause is None else str(self.cause)

    @property
    def unknown(self) -> bool:
        """True when the probe reached no verdict."""
        return self.verdict == UNKNOWN

    @property
    def unavailable(self) -> bool:
        """True when no verdict was reached because the portal was unavailable."""
        return self.verdict == UNKNOWN and self.cause == Cause.UNAVAILABLE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (plain strings, numbers, lists, dicts)."""
        return {
            "kind": self.kind,
            "code": self.code,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "checked_at": self.checked_at,
            "elapsed_ms": self.elapsed_ms,
            "cause": None if self.cause is None else str(self.cause),
            "error_code": self.error_code,
            "error_message": self.error_message,
            "declared_level": self.declared_level,
            "portal_level": self.portal_level,
            "level_mismatch": self.level_mismatch,
            "channel": self.channel,
            "details": dict(self.details),
            "calls": [c.to_dict() for c in self.calls],
        }
