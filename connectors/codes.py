"""Business codes that travel in answers: success variants and required fields (contract v2).

Where the contract says `"00"`, a real deployment may answer `"0"` or the number `0`; all three
are success and everything else is the code it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUCCESS_CODES = frozenset({"00", "0"})


def code_text(value: Any) -> str:
    """A business code as text (an int travels as its decimal string; None as '')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def is_success(value: Any) -> bool:
    """True for the success codes `"00"`, `"0"` and `0` (and nothing else)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == 0
    return isinstance(value, str) and value.strip() in SUCCESS_CODES


def missing_fields(payload: Mapping[str, Any], required: Iterable[str]) -> list[str]:
    """The required keys `payload` lacks (or holds as null), in the order asked."""
    return [name for name in required if payload.get(name) is None]


__all__ = ["SUCCESS_CODES", "code_text", "is_success", "missing_fields"]
