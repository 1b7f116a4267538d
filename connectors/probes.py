"""Probes: one procedure, one dimension, one verdict of contract section 5, with evidence.

A probe never raises because a portal is down, slow or refusing: that is a verdict
(`unknown` with a cause when nothing can be concluded). It raises `UsageError` only for
arguments it cannot accept. A payment probe never moves money: it opens a payment with a
unique probe reference and asks for its state, nobody ever pays it.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from connectors.adapter import AdapterClient
from connectors.bulk import LinkageSnapshot, load_snapshot
from connectors.catalog import CatalogClient, LinkCheck
from connectors.config import PortalConfig
from connectors.errors import UsageError
from connectors.evidence import CallRecord, Outcome, Status, iso_now
from connectors.paygov import PayGovClient
from connectors.payment import NOT_CONFIGURED, PaymentClient
from connectors.transport import new_client
from connectors.verdicts import UNKNOWN, Cause, LinkageVerdict, PaymentVerdict, Verdict, cause_of

CHANNELS = ("dvcqg_payment", "paygov")
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
# QUERY states meaning "the platform knows this payment": 1 paid, 3 pending / not yet known.
_LIVE_STATES = frozenset({"1", "3"})
# Outcomes of a deep-link attempt that mean "the portal is struggling", not "the link is wrong".
_TRANSIENT = frozenset(
    {
        "timeout",
        "connection_error",
        "request_error",
        "http_5xx",
        "http_429",
        "http_408",
        "http_3xx",
        "malformed",
    }
)


def validate_code(code: object) -> str:
    """The procedure code if it is a plausible opaque code, else UsageError."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise UsageError(f"invalid procedure code {code!r}")
    return code


def validate_level(level: object) -> int | None:
    """A registered service level (1-4) or None, else UsageError."""
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 4:
        raise UsageError(f"declared level must be 1-4 or None, got {level!r}")
    return level


def _mucdo(value: object) -> int | None:
    try:
        level = int(str(value).strip())
    except ValueError:
        return None
    return level if 1 <= level <= 4 else None


class _Builder:
    """Collects evidence while a probe runs and stamps the verdict at the end."""

    def __init__(self, kind: str, code: str) -> None:
        self.kind, self.code = kind, code
        self.checked_at = iso_now()
        self.started = time.perf_counter()
        self.calls: list[CallRecord] = []
        self.details: dict[str, Any] = {}

    def add(self, outcome: Outcome[Any] | Any) -> Any:
        self.calls.extend(outcome.calls)
        return outcome

    def done(self, verdict: str, reason: str, **fields: Any) -> Verdict:
        return Verdict(
            kind=self.kind,
            code=self.code,
            verdict=str(verdict),
            reason=reason,
            checked_at=self.checked_at,
            elapsed_ms=round((time.perf_counter() - self.started) * 1000, 3),
            details=self.details,
            calls=self.calls,
            **fields,
        )

    def unknown(self, outcome: Outcome[Any], step: str, **fields: Any) -> Verdict:
        cause = cause_of(outcome)
        text = outcome.message or outcome.status
        code = f" {outcome.error_code}" if outcome.error_code else ""
        return self.done(
            UNKNOWN,
            f"{step} failed ({cause}{code}): {text}",
            cause=cause,
            error_code=outcome.error_code,
            error_message=outcome.message,
            **fields,
        )


async def probe_linkage(
    code: str,
    declared_level: int | None = None,
    *,
    catalog: CatalogClient,
    adapter: AdapterClient,
    unit_code: str,
    snapshot: LinkageSnapshot | None = None,
) -> Verdict:
    """Linkage verdict: catalogue → LayDVC for our unit → the deep link works.

    With a `snapshot` (a sweep's catalogue walk and bulk LayDVC), the first two steps read it
    instead of calling the portal; a part the snapshot lacks (refused or truncated) is asked
    per code, and the verdict's details say which.
    """
    code, declared_level = validate_code(code), validate_level(declared_level)
    b = _Builder("linkage", code)
    base: dict[str, Any] = {"declared_level": declared_level}
    if snapshot is not None:
        b.details["bulk"] = snapshot.source()

    if snapshot is not None and snapshot.catalog is not None:
        item = snapshot.catalog.get(code)
    else:
        found = b.add(await catalog.search_code(code))
        if not found.ok:
            return b.unknown(found, "catalogue search", **base)
        item = found.value
    if item is None:
        return b.done(
            LinkageVerdict.NOT_LISTED, "the catalogue has no procedure with this code", **base
        )
    b.details.update(catalog_id=item.get("id"), catalog_name=item.get("name"))

    if snapshot is not None and snapshot.services is not None:
        entries: list[Any] = snapshot.services.get(code, [])
    else:
        dvc = b.add(await adapter.lay_dvc(code))
        if dvc.status is Status.REFUSED and dvc.error_code == "01":
            entries = []  # "01" not found: no online service at all
        elif not dvc.ok:
            return b.unknown(dvc, "LayDVC", **base)
        else:
            entries = dvc.value
    services = [s for s in entries if isinstance(s, dict) and s.get("MATTHC", code) == code]
    b.details["dvc"] = [s.get("MADVC") for s in services]
    levels: list[int | None] = []
    for service in services:
        for entry in service.get("APDUNGDVC") or []:
            if not isinstance(entry, dict):
                continue
            if entry.get("MACOQUANTHUCHIEN") is None:
                return b.done(
                    UNKNOWN,
                    "LayDVC answer without required field APDUNGDVC.MACOQUANTHUCHIEN",
                    cause=Cause.UNEXPECTED,
                    **base,
                )
            if str(entry["MACOQUANTHUCHIEN"]).strip() == unit_code:
                levels.append(_mucdo(entry.get("MUCDO")))
    if not levels:
        return b.done(
            LinkageVerdict.NOT_INTEGRATED,
            f"listed, but LayDVC has no APDUNGDVC entry for unit {unit_code}",
            **base,
        )

    known = [lv for lv in levels if lv is not None]
    portal_level = max(known) if known else None
    mismatch = (
        None if portal_level is None or declared_level is None else portal_level != declared_level
    )
    level_fields = {**base, "portal_level": portal_level, "level_mismatch": mismatch}

    catalog_id = item.get("id")
    link = await catalog.check_deep_link(code, str(catalog_id) if catalog_id else None)
    b.calls.extend(link.calls)
    b.details["deep_link"] = link.url
    b.details["portal_style"] = link.style
    if link.state == "works":
        return b.done(
            LinkageVerdict.INTEGRATED,
            f"listed, integrated for {unit_code} at level {portal_level}, deep link works"
            + (f" ({link.reason})" if link.style == "spa" else ""),
            **level_fields,
        )
    if link.state == "broken":
        return b.done(
            LinkageVerdict.LINK_BROKEN,
            f"integrated per the adapter, but {link.reason}",
            error_code=_broken_code(link),
            **level_fields,
        )
    if link.cause is not None:
        cause = Cause(link.cause)
    else:
        transient = any(c.outcome in _TRANSIENT for c in link.calls)
        cause = Cause.UNAVAILABLE if transient else Cause.UNEXPECTED
    return b.done(UNKNOWN, link.reason, cause=cause, **level_fields)


def _broken_code(link: LinkCheck) -> str:
    record = link.calls[-1]
    if record.outcome in ("not_found", "gone"):
        return str(record.status)
    return "spa_unavailable" if link.style == "spa" else "code_absent"


async def probe_payment(
    code: str,
    channel: str,
    *,
    payment: PaymentClient,
    paygov: PayGovClient,
    amount: int | None = None,
    name: str | None = None,
) -> Verdict:
    """Payment verdict: DVCQG INIT then QUERY of a probe reference, or PayGov token + create."""
    code = validate_code(code)
    if channel not in CHANNELS:
        raise UsageError(f"payment channel must be one of {CHANNELS}, got {channel!r}")
    b = _Builder("payment", code)
    base = {"channel": channel}
    if channel == "paygov":
        created = b.add(await paygov.create(code=code, amount=amount))
        if created.ok:
            b.details["payment_url"] = created.value
            return b.done(
                PaymentVerdict.PAYMENT_READY, "PayGov create returned a payment URL", **base
            )
        return _refusal(
            b, created, "PayGov create", paygov.config.paygov_not_configured_codes, base
        )

    init = b.add(await payment.init(code=code, name=name, amount=amount))
    if not init.ok:
        return _refusal(b, init, "INIT", (NOT_CONFIGURED,), base)
    b.details.update(reference=init.value.reference, payment_url=init.value.payment_url)
    query = b.add(await payment.query(init.value.reference))
    if query.status is Status.REFUSED:
        return b.done(
            PaymentVerdict.PAYMENT_REJECTED,
            f"QUERY refused: {query.message}",
            error_code=query.error_code,
            error_message=query.message,
            **base,
        )
    if not query.ok:
        return b.unknown(query, "QUERY", **base)
    state = str(query.value.get("TrangThaiGD", ""))
    b.details["transaction_state"] = state
    if state in _LIVE_STATES:
        return b.done(
            PaymentVerdict.PAYMENT_READY,
            f"INIT accepted and verified, QUERY answers TrangThaiGD {state}",
            **base,
        )
    return b.done(
        PaymentVerdict.PAYMENT_REJECTED,
        f"QUERY answers TrangThaiGD {state or 'missing'}",
        error_code=f"TrangThaiGD={state}",
        error_message=query.value.get("MoTaLoi"),
        **base,
    )


def _refusal(
    b: _Builder,
    outcome: Outcome[Any],
    step: str,
    not_configured: tuple[str, ...],
    base: dict[str, Any],
) -> Verdict:
    if outcome.status is Status.INVALID_SIGNATURE:
        return b.done(
            PaymentVerdict.INVALID_SIGNATURE,
            f"{step}: {outcome.message}",
            error_code=outcome.error_code,
            error_message=outcome.message,
            **base,
        )
    if outcome.status is Status.REFUSED and outcome.error_code in not_configured:
        return b.done(
            PaymentVerdict.PAYMENT_NOT_CONFIGURED,
            f"{step} refused: payment not configured ({outcome.error_code})",
            error_code=outcome.error_code,
            error_message=outcome.message,
            **base,
        )
    if outcome.status is Status.REFUSED:
        return b.done(
            PaymentVerdict.PAYMENT_REJECTED,
            f"{step} refused ({outcome.error_code})",
            error_code=outcome.error_code,
            error_message=outcome.message,
            **base,
        )
    return b.unknown(outcome, step, **base)


class Prober:
    """The clients of one sweep, sharing one httpx client, adapter session and LGSP token."""

    def __init__(self, config: PortalConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client
        self.catalog = CatalogClient(client, config)
        self.adapter = AdapterClient(client, config)
        self.payments = PaymentClient(client, config)
        self.paygov = PayGovClient(client, config)
        #: A sweep's catalogue walk and bulk LayDVC (None: every probe asks per code).
        self.snapshot: LinkageSnapshot | None = None

    async def load_snapshot(self) -> LinkageSnapshot:
        """Read the catalogue and LayDVC in bulk once; later linkage probes use them."""
        self.snapshot = await load_snapshot(self.catalog, self.adapter, self.config)
        return self.snapshot

    async def linkage(self, code: str, level: int | None = None) -> Verdict:
        """Linkage verdict of one procedure (`level` = registered service level)."""
        return await probe_linkage(
            code,
            level,
            catalog=self.catalog,
            adapter=self.adapter,
            unit_code=self.config.unit_code,
            snapshot=self.snapshot,
        )

    async def payment(
        self, code: str, channel: str, *, amount: int | None = None, name: str | None = None
    ) -> Verdict:
        """Payment verdict of one procedure on one channel (dvcqg_payment | paygov)."""
        return await probe_payment(
            code, channel, payment=self.payments, paygov=self.paygov, amount=amount, name=name
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls, config: PortalConfig, *, max_connections: int = 64
    ) -> AsyncIterator["Prober"]:
        """A Prober owning its own httpx client, closed on exit."""
        async with new_client(config, max_connections=max_connections) as client:
            yield cls(config, client)
