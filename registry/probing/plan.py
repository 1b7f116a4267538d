"""What a sweep probes: one item per procedure and dimension, chosen from the declarations.

- Linkage: every active procedure in the selection, with its declared service level so that
  a level mismatch on the portal is noticed.
- Payment: only fee-bearing procedures (nothing to pay otherwise). The declared channel is
  probed; a fee-bearing procedure declared `none` is probed on every channel (DVCQG Payment
  Platform first, then PayGov) so that a payment set up on the portal but not declared is
  found, whichever platform it is on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from connectors import CHANNELS

from .. import errors

KINDS = ("linkage", "payment", "all")
DIMENSIONS = ("linkage", "payment")
ALL = "all"


class SelectionError(errors.InvalidInput):
    """A selection names procedures that are not registered or not active."""

    def __init__(self, message: str, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.codes = list(codes)


@dataclass(frozen=True)
class Item:
    """One probe to make: a procedure, a dimension, and what the registry declares for it."""

    code: str
    dimension: str  # linkage | payment
    name: str = ""
    level: int | None = None  # linkage: the declared service level
    channels: tuple[str, ...] = ()  # payment: the channels to try, in order

    @property
    def key(self) -> tuple[str, str]:
        """(code, dimension): how the store knows a finished item."""
        return (self.code, self.dimension)


def dimensions_of(kind: str) -> tuple[str, ...]:
    """The dimensions a sweep kind covers."""
    if kind not in KINDS:
        raise SelectionError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return DIMENSIONS if kind == ALL else (kind,)


def selection_doc(codes: Sequence[str] | None) -> dict[str, Any]:
    """How a run stores its selection (so that a resumed run probes the same procedures)."""
    return {"codes": ALL if codes is None else sorted(set(codes))}


def selected_codes(selection: Mapping[str, Any]) -> list[str] | None:
    """The codes of a stored selection, or None for every active procedure."""
    codes = selection.get("codes", ALL) if isinstance(selection, Mapping) else ALL
    return None if codes == ALL else list(codes)


def check_selection(codes: Sequence[str], found: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The active procedures named by `codes`; SelectionError naming every unknown or retired one."""
    by_code = {p["code"]: p for p in found}
    unknown = sorted(c for c in set(codes) if c not in by_code)
    retired = sorted(c for c in set(codes) if c in by_code and by_code[c].get("status") != "active")
    problems = []
    if unknown:
        problems.append("not registered: " + ", ".join(unknown))
    if retired:
        problems.append("retired: " + ", ".join(retired))
    if problems:
        raise SelectionError("cannot probe " + "; ".join(problems), unknown + retired)
    return [by_code[c] for c in sorted(set(codes))]


def payment_channels(procedure: Mapping[str, Any]) -> tuple[str, ...]:
    """Channels to probe for a procedure: none without a fee, the declared one, else every one."""
    if not procedure.get("has_fee"):
        return ()
    declared = procedure.get("payment_channel") or "none"
    return (declared,) if declared in CHANNELS else tuple(CHANNELS)


def plan_items(procedures: Iterable[Mapping[str, Any]], kind: str,
               finished: set[tuple[str, str]] = frozenset()) -> list[Item]:
    """The items of a sweep over `procedures` (active ones), minus those already `finished`."""
    dims = dimensions_of(kind)
    items: list[Item] = []
    for p in sorted(procedures, key=lambda p: p["code"]):
        if (p.get("status") or "active") != "active":
            continue
        code, name = p["code"], p.get("name") or ""
        if "linkage" in dims and (code, "linkage") not in finished:
            items.append(Item(code, "linkage", name, level=int(p["service_level"])))
        channels = payment_channels(p)
        if "payment" in dims and channels and (code, "payment") not in finished:
            items.append(Item(code, "payment", name, channels=channels))
    return items
