"""Dossier services of the DVCQG adapter (contract v2 sections 2 and 6): check and deliver.

- `check_dossier`: `TraCuuHoSo` once; `synced` when DVCQG holds the dossier with our status,
  `status_behind` when it holds another status, `missing` when it answers an empty result (or
  "01" not found), `unknown` when it gives no answer (timeouts, 5xx, malformed, other codes).
- `deliver`: `DongBoHoSoMC` for the relay; acknowledged on "00", and on "04" (already exists)
  for a creation: a retry of a delivery whose answer was lost must not be sent twice.

Both reuse `AdapterClient` (its session handling and transport): no HTTP of their own.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from connectors.adapter import AdapterClient
from connectors.config import PortalConfig
from connectors.evidence import CallRecord, Status
from connectors.transport import new_client

SYNCED, STATUS_BEHIND, MISSING, UNKNOWN = "synced", "status_behind", "missing", "unknown"
ALREADY_EXISTS, NOT_FOUND = "04", "01"


@dataclass(frozen=True)
class DossierCheck:
    """What DVCQG says of one dossier."""

    mahoso: str
    state: str
    remote_status: str | None = None
    message: str | None = None
    calls: tuple[CallRecord, ...] = field(default=(), repr=False)

    @property
    def unavailable(self) -> bool:
        """True when the portal gave no answer (what a circuit breaker counts)."""
        return self.state == UNKNOWN and any(c.outcome != "ok" for c in self.calls)


@dataclass(frozen=True)
class Delivery:
    """The adapter's answer to one relayed batch."""

    acknowledged: bool
    error_code: str | None
    message: str | None = None


def _status(value: Any) -> str | None:
    return None if value is None else str(value).strip()


async def check_dossier(adapter: AdapterClient, mahoso: str, status: str | int) -> DossierCheck:
    """Look the dossier up with `TraCuuHoSo` and compare its status with ours."""
    outcome = await adapter.tra_cuu_ho_so(mahoso)
    if outcome.status is Status.REFUSED and outcome.error_code == NOT_FOUND:
        return DossierCheck(mahoso, MISSING, message=outcome.message, calls=outcome.calls)
    if not outcome.ok:
        return DossierCheck(mahoso, UNKNOWN, message=outcome.message or outcome.status.value, calls=outcome.calls)
    found = [d for d in outcome.value if isinstance(d, Mapping) and str(d.get("MaHoSo", mahoso)) == mahoso]
    if not found:
        return DossierCheck(mahoso, MISSING, calls=outcome.calls)
    remote = _status(found[0].get("TrangThaiHoSo"))
    state = SYNCED if remote == _status(status) else STATUS_BEHIND
    return DossierCheck(mahoso, state, remote_status=remote, calls=outcome.calls)


async def deliver(adapter: AdapterClient, dossiers: Sequence[Mapping[str, Any]], *,
                  is_updating: bool) -> Delivery:
    """Relay one batch with `DongBoHoSoMC`."""
    outcome = await adapter.dong_bo_ho_so_mc(dossiers, is_updating=is_updating)
    if outcome.ok:
        return Delivery(True, "00")
    if outcome.error_code == ALREADY_EXISTS and not is_updating:
        return Delivery(True, ALREADY_EXISTS, outcome.message)
    return Delivery(False, outcome.error_code, outcome.message or outcome.status.value)


@asynccontextmanager
async def open_adapter(config: PortalConfig, *, max_connections: int = 16) -> AsyncIterator[AdapterClient]:
    """An adapter client with its own httpx client, closed on exit."""
    async with new_client(config, max_connections=max_connections) as client:
        yield AdapterClient(client, config)
