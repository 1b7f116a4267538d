"""Politeness: what a linkage sweep learns in a few bulk calls instead of two per procedure.

The catalogue is walked once by cursor (`list` with an empty `q`, large pages) and `LayDVC` is
asked once without `maTTHC` (every online service the adapter knows). A linkage probe then
needs only the deep link (legacy portal) or the deep link and the catalogue detail (single-page
app) of the procedures integrated for our unit. When the bulk answer is refused or truncated
the probes fall back to per-code calls, and each verdict says so in its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.adapter import AdapterClient
from connectors.catalog import CatalogClient
from connectors.config import PortalConfig
from connectors.evidence import CallRecord, iso_now

#: Count fields an adapter may add to a bulk answer [ours]: fewer entries than announced means
#: the answer was truncated.
_TOTAL_FIELDS = ("total", "TONGSO", "TongSo")


@dataclass
class LinkageSnapshot:
    """The catalogue and LayDVC as one sweep read them (None: use per-code calls)."""

    catalog: dict[str, dict[str, Any]] | None = None
    services: dict[str, list[dict[str, Any]]] | None = None
    taken_at: str = field(default_factory=iso_now)
    notes: dict[str, Any] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)

    def source(self) -> dict[str, Any]:
        """How this snapshot was obtained: copied into each linkage verdict's details."""
        return {"taken_at": self.taken_at, **self.notes}


async def walk_catalog(catalog: CatalogClient, config: PortalConfig, snap: LinkageSnapshot) -> None:
    """Walk the whole catalogue by cursor; on refusal or truncation leave `snap.catalog` None."""
    items: dict[str, dict[str, Any]] = {}
    cursor, seen, pages = "", set(), 0
    limit = config.catalog_walk_page_size
    while True:
        page = await catalog.list(last_id=cursor, limit=limit)
        snap.calls.extend(page.calls)
        if not page.ok and pages == 0 and limit != config.catalog_page_size:
            limit = config.catalog_page_size  # the portal may refuse large pages: ask smaller
            page = await catalog.list(last_id=cursor, limit=limit)
            snap.calls.extend(page.calls)
        if not page.ok:
            snap.notes["catalog"] = "per_code"
            snap.notes["catalog_fallback"] = (
                f"catalogue walk {page.status} at page {pages + 1}"
                f"{' (' + str(page.error_code) + ')' if page.error_code else ''}: {page.message}"
            )
            return
        pages += 1
        assert page.value is not None  # an OK outcome carries its page
        for item in page.value.items:
            code = item.get("code")
            if isinstance(code, str) and code:
                items.setdefault(code, item)
        cursor = page.value.last_id
        if not cursor:
            break
        if cursor in seen or pages >= config.catalog_walk_max_pages:
            snap.notes["catalog"] = "per_code"
            snap.notes["catalog_fallback"] = (
                f"catalogue walk truncated after {pages} pages "
                f"({'cursor repeats' if cursor in seen else 'page limit'})"
            )
            return
        seen.add(cursor)
    snap.catalog = items
    snap.notes["catalog"] = "walk"
    snap.notes["catalog_pages"] = pages
    snap.notes["catalog_items"] = len(items)


async def bulk_lay_dvc(adapter: AdapterClient, config: PortalConfig, snap: LinkageSnapshot) -> None:
    """`LayDVC` without `maTTHC`; on refusal or truncation leave `snap.services` None."""
    outcome = await adapter.lay_dvc(whole=True)
    snap.calls.extend(outcome.calls)
    if not outcome.ok:
        snap.notes["lay_dvc"] = "per_code"
        snap.notes["lay_dvc_fallback"] = (
            f"LayDVC without maTTHC {outcome.status}"
            f"{' (' + str(outcome.error_code) + ')' if outcome.error_code else ''}: {outcome.message}"
        )
        return
    answer: dict[str, Any] = outcome.value or {}
    result = answer.get("result") or []
    announced = _announced_total(answer)
    limit = config.lay_dvc_bulk_limit
    if (announced is not None and announced > len(result)) or (limit and len(result) >= limit):
        snap.notes["lay_dvc"] = "per_code"
        snap.notes["lay_dvc_fallback"] = (
            f"LayDVC without maTTHC truncated: {len(result)} entries"
            + (f" of {announced} announced" if announced is not None else f" (limit {limit})")
        )
        return
    services: dict[str, list[dict[str, Any]]] = {}
    for entry in result:
        if isinstance(entry, dict) and isinstance(entry.get("MATTHC"), str):
            services.setdefault(entry["MATTHC"], []).append(entry)
    snap.services = services
    snap.notes["lay_dvc"] = "bulk"
    snap.notes["lay_dvc_entries"] = len(result)


def _announced_total(answer: dict[str, Any]) -> int | None:
    for name in _TOTAL_FIELDS:
        value = answer.get(name)
        if value is not None:
            try:
                return int(str(value))
            except ValueError:
                return None
    return None


async def load_snapshot(
    catalog: CatalogClient, adapter: AdapterClient, config: PortalConfig
) -> LinkageSnapshot:
    """Walk the catalogue and ask LayDVC in bulk (each falls back on its own)."""
    snap = LinkageSnapshot()
    await walk_catalog(catalog, config, snap)
    await bulk_lay_dvc(adapter, config, snap)
    snap.notes["bulk_calls"] = len(snap.calls)
    return snap


__all__ = ["LinkageSnapshot", "bulk_lay_dvc", "load_snapshot", "walk_catalog"]
