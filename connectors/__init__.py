"""Connectors: speak the portal contract over HTTP and turn every outcome into a verdict.

A leaf library: it imports neither Flask, SQLite, `registry` nor `mock_portal`.
See docs/connectors.md.
"""

from connectors.adapter import AdapterClient
from connectors.catalog import CatalogClient, LinkCheck
from connectors.config import PortalConfig
from connectors.errors import ConfigurationError, ConnectorError, ProtocolError, UsageError
from connectors.evidence import CallRecord, Outcome, Status
from connectors.paygov import PayGovClient
from connectors.payment import PaymentClient
from connectors.probes import CHANNELS, Prober, probe_linkage, probe_payment
from connectors.ratelimit import HostRateLimiter
from connectors.sweep import CircuitBreaker, SweepResult, run_sweep
from connectors.transport import new_client
from connectors.verdicts import Cause, LinkageVerdict, PaymentVerdict, Verdict

__all__ = [
    "AdapterClient",
    "CHANNELS",
    "CallRecord",
    "CatalogClient",
    "Cause",
    "CircuitBreaker",
    "ConfigurationError",
    "ConnectorError",
    "HostRateLimiter",
    "LinkCheck",
    "LinkageVerdict",
    "Outcome",
    "PayGovClient",
    "PaymentClient",
    "PaymentVerdict",
    "PortalConfig",
    "Prober",
    "ProtocolError",
    "Status",
    "SweepResult",
    "UsageError",
    "Verdict",
    "new_client",
    "probe_linkage",
    "probe_payment",
    "run_sweep",
]
