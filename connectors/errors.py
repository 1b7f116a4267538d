"""The exception tree for errors that are OURS (bad settings, bad arguments, bad messages).

A portal that is down, slow, refusing or answering garbage is *not* an exception here:
clients turn it into an `Outcome` and probes into an `unknown` (or business) verdict
with the evidence. These exceptions mean the caller or the deployment must be fixed.

    ConnectorError
    ├── ConfigurationError   (also a ValueError) invalid PortalConfig value
    ├── UsageError           (also a ValueError) invalid argument: code, level, channel, concurrency
    └── ProtocolError        a message cannot be built or checked per the contract
                             (e.g. a field to sign is not a string)
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class of every error raised by `connectors`."""


class ConfigurationError(ConnectorError, ValueError):
    """A `PortalConfig` value is invalid; `problems` lists every one found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("invalid portal configuration: " + "; ".join(self.problems))


class UsageError(ConnectorError, ValueError):
    """A function was called with an argument it cannot accept."""


class ProtocolError(ConnectorError):
    """A contract message cannot be built or checked (missing or ill-typed field)."""
