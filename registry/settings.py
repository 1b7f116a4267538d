"""The declarative settings table: every `TTHC_` environment variable the product reads."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import Schema, ValidationError, fields, validate

from . import errors

PREFIX = "TTHC_"


@dataclass(frozen=True)
class Setting:
    """One setting: its name without the prefix, a marshmallow field, its default and its doc."""

    name: str
    field: fields.Field
    default: Any
    help: str

    @property
    def env(self) -> str:
        return PREFIX + self.name


def _int(minimum: int = 0, maximum: int | None = None) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=minimum, max=maximum))


def _float(minimum: float = 0.0) -> fields.Float:
    return fields.Float(validate=validate.Range(min=minimum))


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE", fields.String(), "instance/registry.db",
            "Path of the SQLite database file (created on first use)."),
    Setting("SECRET_KEY", fields.String(), "dev-insecure-change-me",
            "Flask secret key (sessions, CSRF). Set a long random value in production."),
    Setting("BUSY_TIMEOUT_MS", _int(0), 10000,
            "How long a writer waits for SQLite's write lock before giving up (ms)."),
    Setting("ROUNDING", fields.String(validate=validate.OneOf(["truncate", "half_up"])), "truncate",
            "Rounding of coverage percentages: `truncate` (toward zero) or `half_up`."),
    Setting("STALENESS_DAYS", _float(0), 7.0,
            "Probe verdicts older than this many days count as unverified."),
    Setting("UNIT_CODE", fields.String(), "000.00.00.H26",
            "Our unit's code on the portal (`madonvi`, QCVN 102 style)."),
    Setting("UNIT_NAME", fields.String(), "UBND thành phố Hà Nội",
            "Our unit's display name in reports."),
    Setting("PORTAL_URL", fields.String(), "",
            "Base URL of the portal (all five upstreams). Empty: `tthc up` starts mock_portal."),
    Setting("ADAPTER_USERNAME", fields.String(), "hanoi", "DVCQG integration adapter user name."),
    Setting("ADAPTER_PASSWORD", fields.String(), "hanoi-secret", "DVCQG integration adapter password."),
    Setting("PAYMENT_PARTNER", fields.String(), "HNI", "DVCQG Payment Platform partner code (`MaDoiTac`)."),
    Setting("PAYMENT_SECRET", fields.String(), "dvcqg-secret",
            "DVCQG Payment Platform secret key (checksums of INIT/QUERY/CONFIRM)."),
    Setting("PAYGOV_PARTNER_CODE", fields.String(), "HNI", "PayGov partner code."),
    Setting("PAYGOV_ACCESS_KEY", fields.String(), "paygov-access", "PayGov access key."),
    Setting("PAYGOV_SECRET_KEY", fields.String(), "paygov-secret", "PayGov secret key (checksums)."),
    Setting("LGSP_CLIENT_ID", fields.String(), "tthc", "LGSP OAuth client id (PayGov access)."),
    Setting("LGSP_CLIENT_SECRET", fields.String(), "lgsp-secret", "LGSP OAuth client secret."),
    Setting("PROBE_CONCURRENCY", _int(1, 256), 32, "Probes in flight at once during a sweep."),
    Setting("PROBE_TIMEOUT", _float(0.1), 10.0, "Timeout of every outbound portal call (seconds)."),
    Setting("PROBE_RETRIES", _int(0, 10), 3, "Retries of a transient failure (timeout, reset, 5xx, 429)."),
    Setting("PROBE_RATE", _float(0), 5.0,
            "Maximum requests per second per portal host (0 = unlimited); `tthc up`'s own mock_portal is unlimited."),
    Setting("PROBE_BACKOFF", _float(0), 0.5,
            "First retry delay of a probe call (seconds); jittered, doubled per retry, at most 8 s."),
    Setting("PROBE_BREAKER", _int(1, 10000), 5,
            "Consecutive probes finding the portal unavailable before a sweep stops (circuit breaker)."),
    Setting("PROBE_LEASE", _float(1), 60.0,
            "A running sweep silent this many seconds is taken as dead (`interrupted`, resumable)."),
    Setting("SWEEP_INTERVAL_MINUTES", _float(0), 60.0,
            "`tthc up` / `tthc serve` sweep every this many minutes (0 = off; never in tests)."),
    Setting("MAX_UPLOAD_MB", _float(0.01), 20.0, "Largest accepted import upload (MiB); larger is 413."),
    Setting("HOST", fields.String(), "127.0.0.1", "Address `tthc up` / `tthc serve` listen on."),
    Setting("PORT", _int(0, 65535), 8080, "Port `tthc up` / `tthc serve` listen on."),
    Setting("WORKERS", _int(1, 64), 2, "gunicorn worker processes of `tthc up` / `tthc serve`."),
    Setting("THREADS", _int(1, 64), 4, "Threads per gunicorn worker (gthread)."),
    Setting("LOG_FORMAT", fields.String(validate=validate.OneOf(["text", "json"])), "text",
            "Log lines as plain text or one JSON object per line."),
    Setting("CATALOG_URL", fields.String(), "",
            "Base URL of the DVCQG public catalogue. Empty: `TTHC_PORTAL_URL` + `/dvcqg`."),
    Setting("ADAPTER_URL", fields.String(), "",
            "Base URL of the DVCQG integration adapter. Empty: `TTHC_PORTAL_URL` + `/adapter`."),
    Setting("PAYMENT_URL", fields.String(), "",
            "Base URL of the DVCQG Payment Platform. Empty: `TTHC_PORTAL_URL` + `/payment`."),
    Setting("LGSP_URL", fields.String(), "",
            "Base URL of the provincial LGSP (PayGov tokens). Empty: `TTHC_PORTAL_URL` + `/lgsp`."),
    Setting("PAYGOV_URL", fields.String(), "",
            "Base URL of PayGov. Empty: `TTHC_PORTAL_URL` + `/paygov`."),
    Setting("PAYGOV_BEARER", fields.String(), "",
            "PayGov's own bearer token when the deployment issues one apart from the LGSP token. "
            "Empty: the LGSP token is sent as both."),
    Setting("PAYMENT_PROBE_INTERVAL_DAYS", _float(0), 7.0,
            "Payment is probed at most this often per procedure, and not while a verified payment "
            "callback is younger (each probe creates an order nobody pays)."),
    Setting("FEDERATION_STALE_HOURS", _float(0.01), 48.0,
            "A federated unit whose last good pull is older than this many hours is flagged stale "
            "and left out of the national sums."),
    Setting("FEDERATION_PULL_MINUTES", _float(0), 60.0,
            "`tthc up` pulls every federated unit's coverage every this many minutes (0 = off)."),
    Setting("FEDERATION_TIMEOUT", _float(0.1), 10.0, "Timeout of one federation pull attempt (seconds)."),
    Setting("FEDERATION_RETRIES", _int(0, 10), 2, "Retries of a transient federation pull failure."),
    Setting("FEDERATION_CONCURRENCY", _int(1, 256), 32, "Federation pulls in flight at once."),
    Setting("ALERT_CONFIRMATIONS", _int(1, 100), 2,
            "Consecutive definite verdicts that must agree before an alert fires (flap suppression)."),
    Setting("ALERT_DIGEST_HOUR", _int(0, 23), 7, "Hour (Hà Nội time) the daily alert digest e-mails go out."),
    Setting("ALERT_DRAIN_SECONDS", _float(0), 15.0,
            "`tthc up` / `tthc serve` deliver pending alerts every this many seconds (0 = off)."),
    Setting("ALERT_RETRY_SECONDS", _float(0), 60.0,
            "First retry delay of a failed alert delivery (seconds); doubled per attempt, at most 6 h."),
    Setting("ALERT_MAX_ATTEMPTS", _int(1, 100), 12, "Delivery attempts of one alert before giving up."),
    Setting("ALERT_TIMEOUT", _float(0.1), 10.0, "Timeout of one webhook call or SMTP session (seconds)."),
    Setting("SMTP_HOST", fields.String(), "", "SMTP server for alert e-mails (empty: e-mail alerts wait)."),
    Setting("SMTP_PORT", _int(1, 65535), 587, "SMTP server port."),
    Setting("SMTP_USER", fields.String(), "", "SMTP user name (empty: no login)."),
    Setting("SMTP_PASSWORD", fields.String(), "", "SMTP password."),
    Setting("SMTP_FROM", fields.String(), "tthc@localhost", "Sender address of alert e-mails."),
    Setting("SMTP_STARTTLS", fields.Boolean(), True,
            "Require STARTTLS on the SMTP connection (a server not offering it fails the delivery)."),
    Setting("DOSSIER_RELAY", fields.Boolean(), False,
            "Relay mode: forward every accepted dossier sync to the DVCQG adapter through a durable outbox."),
    Setting("DOSSIER_RELAY_BATCH", _int(1, 1000), 100,
            "Dossiers per `DongBoHoSoMC` call when the relay delivers its outbox."),
    Setting("DOSSIER_CHECK_LIMIT", _int(0), 20000,
            "Most dossiers one `dossier_sync` sweep looks up on DVCQG (`TraCuuHoSo`); the rest wait."),
    Setting("DOSSIER_RELAY_AUTO", fields.Boolean(), True,
            "Relay mode: deliver right after each accepted sync, in a background thread (else `tthc dossiers relay`)."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

_Schema = Schema.from_dict({s.name: s.field for s in SETTINGS})


class SettingsError(errors.InvalidInput):
    """A `TTHC_` variable holds a value its setting does not accept."""


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """Read every setting from `environ` (default: os.environ), validated, defaults filled in."""
    environ = os.environ if environ is None else environ
    raw = {s.name: environ[s.env] for s in SETTINGS if s.env in environ}
    try:
        values = _Schema().load(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{PREFIX}{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items())
        raise SettingsError(f"invalid setting: {detail}") from exc
    result = {s.name: s.default for s in SETTINGS}
    result.update(values)
    if overrides:
        result.update({k: v for k, v in overrides.items() if k in BY_NAME})
    return result


#: Settings that are secrets: their shipped defaults only suit the mock portal on this machine.
CREDENTIALS = ("SECRET_KEY", "ADAPTER_PASSWORD", "PAYMENT_SECRET", "PAYGOV_ACCESS_KEY", "PAYGOV_SECRET_KEY",
               "LGSP_CLIENT_SECRET")
#: Settings naming where a portal upstream lives (those a deployment has).
UPSTREAM_URLS = ("PORTAL_URL", "CATALOG_URL", "ADAPTER_URL", "PAYMENT_URL", "LGSP_URL", "PAYGOV_URL", "SSO_URL",
                 "CITY_PORTAL_URL")
_LOOPBACK = ("127.", "localhost", "[::1]")


def check_real_portal(cfg: Mapping[str, Any]) -> None:
    """Refuse (SettingsError) to talk to a real portal while a credential still has its shipped default.

    A portal URL on a loopback address is taken as a local mock_portal, which knows the defaults.
    """
    from urllib.parse import urlsplit

    real = [name for name in UPSTREAM_URLS if cfg.get(name)
            and not (urlsplit(str(cfg[name])).netloc or "").startswith(_LOOPBACK)]
    shipped = [PREFIX + name for name in CREDENTIALS if name in BY_NAME and cfg.get(name) == BY_NAME[name].default]
    if real and shipped:
        raise SettingsError(f"{PREFIX}{real[0]} points at a real portal but {', '.join(shipped)} "
                            "still have their shipped defaults: set them first")
