"""Settings of the connectors: where the portal is, who we are, how patient we are."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.errors import ConfigurationError

#: The five upstreams of the contract and their prefix on a portal laid out like mock_portal.
UPSTREAM_PREFIXES: dict[str, str] = {
    "dvcqg": "/dvcqg",
    "adapter": "/adapter",
    "payment": "/payment",
    "lgsp": "/lgsp",
    "paygov": "/paygov",
}


@dataclass(frozen=True)
class PortalConfig:
    """Immutable connector settings; secrets are kept out of `repr`."""

    # One base for all upstreams (TTHC_PORTAL_URL); each override replaces base_url + prefix.
    base_url: str = "http://127.0.0.1:8081"
    dvcqg_url: str | None = None
    adapter_url: str | None = None
    payment_url: str | None = None
    lgsp_url: str | None = None
    paygov_url: str | None = None

    # Who we are (QCVN 102 style unit code; the Hà Nội value is unverified, hence a setting).
    unit_code: str = "000.00.00.H26"
    unit_name: str = "UBND thành phố Hà Nội"

    # DVCQG integration adapter.
    adapter_username: str = "hanoi"
    adapter_password: str = field(default="hanoi-secret", repr=False)

    # DVCQG Payment Platform (MaDoiTac + secret key).
    payment_partner_code: str = "HNI"
    payment_secret: str = field(default="dvcqg-secret", repr=False)

    # PayGov through the provincial LGSP.
    paygov_partner_code: str = "HNI"
    paygov_access_key: str = field(default="paygov-access", repr=False)
    paygov_secret_key: str = field(default="paygov-secret", repr=False)
    paygov_return_url: str = "http://127.0.0.1/tthc/payments/return"
    # PayGov publishes no "not configured" code; these error_code values mean it.
    paygov_not_configured_codes: tuple[str, ...] = (
        "02",
        "NOT_CONFIGURED",
        "SERVICE_NOT_CONFIGURED",
    )
    lgsp_client_id: str = "tthc"
    lgsp_client_secret: str = field(default="lgsp-secret", repr=False)
    # PayGov's own bearer token when the deployment issues one apart from the LGSP token
    # (contract section 4); None: the LGSP access token is sent as both.
    paygov_bearer: str | None = field(default=None, repr=False)

    # Patience: timeout is the whole budget of ONE attempt (connect + send + read).
    timeout: float = 10.0
    # After a timed-out attempt, the call's next attempt waits `timeout_growth` times longer,
    # up to `timeout_cap` x timeout: a portal (or a machine) slowed by load is not asked to
    # answer within the deadline it just missed, again and again.
    timeout_growth: float = 2.0
    timeout_cap: float = 4.0
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 30.0
    # Renew an LGSP token this many seconds before it expires (at most half its lifetime).
    token_refresh_margin: float = 30.0

    # Probe behaviour.
    catalog_page_size: int = 200
    catalog_max_pages: int = 20
    # A sweep's catalogue walk (one cursor walk instead of a search per procedure).
    catalog_walk_page_size: int = 500
    catalog_walk_max_pages: int = 200
    # LayDVC without maTTHC answering this many entries or more is taken as truncated (None: no
    # limit known; an announced `total` larger than the entries always means truncated).
    lay_dvc_bulk_limit: int | None = None
    probe_amount: int = 10000
    client_ip: str = "127.0.0.1"
    user_agent: str = "tthc-connectors/0.1"

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("base_url", *(f"{u}_url" for u in UPSTREAM_PREFIXES)):
            value = getattr(self, name)
            if value is None and name != "base_url":
                continue
            if not _is_http_url(value):
                problems.append(f"{name} must be an absolute http(s) URL, got {value!r}")
        if not _is_http_url(self.paygov_return_url):
            problems.append(
                f"paygov_return_url must be an absolute http(s) URL, got {self.paygov_return_url!r}"
            )
        for name in (
            "unit_code",
            "adapter_username",
            "adapter_password",
            "payment_partner_code",
            "payment_secret",
            "paygov_partner_code",
            "paygov_access_key",
            "paygov_secret_key",
            "lgsp_client_id",
            "lgsp_client_secret",
            "client_ip",
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{name} must be a non-empty string")
        for name in ("timeout",):
            if not _finite(getattr(self, name)) or getattr(self, name) <= 0:
                problems.append(f"{name} must be a positive number of seconds")
        for name in ("timeout_growth", "timeout_cap"):
            if not _finite(getattr(self, name)) or getattr(self, name) < 1:
                problems.append(f"{name} must be a number >= 1")
        for name in ("backoff_base", "backoff_max", "retry_after_max", "token_refresh_margin"):
            if not _finite(getattr(self, name)) or getattr(self, name) < 0:
                problems.append(f"{name} must be a number of seconds >= 0")
        for name, low in (
            ("retries", 0),
            ("catalog_page_size", 1),
            ("catalog_max_pages", 1),
            ("catalog_walk_page_size", 1),
            ("catalog_walk_max_pages", 1),
            ("probe_amount", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(f"{name} must be an integer >= {low}")
        if self.lay_dvc_bulk_limit is not None and (
            isinstance(self.lay_dvc_bulk_limit, bool)
            or not isinstance(self.lay_dvc_bulk_limit, int)
            or self.lay_dvc_bulk_limit < 1
        ):
            problems.append("lay_dvc_bulk_limit must be None or an integer >= 1")
        if isinstance(self.paygov_not_configured_codes, str) or not all(
            isinstance(c, str) for c in self.paygov_not_configured_codes
        ):
            problems.append("paygov_not_configured_codes must be a tuple of strings")
        if problems:
            raise ConfigurationError(problems)

    def attempt_timeout(self, timeouts: int) -> float:
        """The deadline of an attempt after `timeouts` timed-out attempts of the same call."""
        if timeouts <= 0:
            return self.timeout
        return min(self.timeout * self.timeout_growth**timeouts, self.timeout * self.timeout_cap)

    @property
    def attempts(self) -> int:
        """How many times a call is tried in all (first try plus retries)."""
        return self.retries + 1

    def upstream_url(self, upstream: str) -> str:
        """Base URL of one upstream: its override, else base_url plus the contract prefix."""
        if upstream not in UPSTREAM_PREFIXES:
            raise ConfigurationError(f"unknown upstream {upstream!r}")
        override = getattr(self, f"{upstream}_url")
        if override:
            return override.rstrip("/")
        return self.base_url.rstrip("/") + UPSTREAM_PREFIXES[upstream]

    def url(self, upstream: str, path: str) -> str:
        """Full URL of `path` (starting with '/') on one upstream."""
        return self.upstream_url(upstream) + "/" + path.lstrip("/")

    def replace(self, **changes: object) -> "PortalConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
