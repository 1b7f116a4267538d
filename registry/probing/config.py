"""From the registry's `TTHC_` settings to the connectors' `PortalConfig` and the sweep's knobs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from connectors import ConfigurationError, PortalConfig

from .. import errors


class ProbeConfigError(errors.InvalidInput):
    """The settings do not allow a sweep (no portal URL, an invalid URL...)."""


@dataclass(frozen=True)
class SweepOptions:
    """How a sweep runs: parallelism, rate limit, breaker, liveness lease."""

    concurrency: int = 32
    rate_per_second: float | None = None
    breaker_threshold: int = 5
    lease_seconds: float = 60.0

    @property
    def heartbeat_seconds(self) -> float:
        """How often a running sweep proves it is alive: well within its lease."""
        return max(0.2, self.lease_seconds / 4)


def portal_config(cfg: Mapping[str, Any]) -> PortalConfig:
    """The connectors' settings from the registry's (`TTHC_PORTAL_URL` must be set)."""
    base = (cfg.get("PORTAL_URL") or "").strip()
    if not base:
        raise ProbeConfigError("TTHC_PORTAL_URL is empty: set it to the portal's base URL "
                               "(or run `tthc up`, which starts mock_portal when it is empty)")
    try:
        return PortalConfig(
            base_url=base, unit_code=cfg["UNIT_CODE"], unit_name=cfg["UNIT_NAME"],
            adapter_username=cfg["ADAPTER_USERNAME"], adapter_password=cfg["ADAPTER_PASSWORD"],
            payment_partner_code=cfg["PAYMENT_PARTNER"], payment_secret=cfg["PAYMENT_SECRET"],
            paygov_partner_code=cfg["PAYGOV_PARTNER_CODE"], paygov_access_key=cfg["PAYGOV_ACCESS_KEY"],
            paygov_secret_key=cfg["PAYGOV_SECRET_KEY"], lgsp_client_id=cfg["LGSP_CLIENT_ID"],
            lgsp_client_secret=cfg["LGSP_CLIENT_SECRET"], timeout=float(cfg["PROBE_TIMEOUT"]),
            retries=int(cfg["PROBE_RETRIES"]), backoff_base=float(cfg["PROBE_BACKOFF"]),
        )
    except ConfigurationError as exc:
        raise ProbeConfigError(str(exc)) from exc


def sweep_options(cfg: Mapping[str, Any]) -> SweepOptions:
    """The sweep's knobs from the settings (`TTHC_PROBE_RATE` 0 means unlimited)."""
    rate = float(cfg["PROBE_RATE"])
    return SweepOptions(concurrency=int(cfg["PROBE_CONCURRENCY"]), rate_per_second=rate or None,
                        breaker_threshold=int(cfg["PROBE_BREAKER"]),
                        lease_seconds=float(cfg["PROBE_LEASE"]))
