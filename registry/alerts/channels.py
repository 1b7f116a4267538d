"""Sending: e-mail over SMTP (stdlib smtplib, STARTTLS) and signed webhooks (httpx).

A webhook call is `POST` of the event's JSON with
`X-TTHC-Event-Id`, `X-TTHC-Event-Type`, `X-TTHC-Timestamp` (Unix seconds) and
`X-TTHC-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" under the subscription's secret>`.
Any 2xx is delivered; anything else (or no answer within `TTHC_ALERT_TIMEOUT`) is retried.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping

import httpx

SIGNATURE_HEADER = "X-TTHC-Signature"
TIMESTAMP_HEADER = "X-TTHC-Timestamp"
EVENT_HEADER = "X-TTHC-Event-Id"


class DeliveryError(Exception):
    """A sending that did not succeed (retried later, up to the give-up limit)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: `sha256=` + HMAC-SHA256(secret, f"{timestamp}." + body), hex."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def encode(document: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def send_webhook(url: str, secret: str, document: Mapping[str, Any], *, timestamp: int, timeout: float,
                 client: httpx.Client | None = None) -> int:
    """POST the signed document (through `client` if given: one per drain pass keeps connections
    and TLS set-up); the status on a 2xx, DeliveryError otherwise."""
    body = encode(document)
    stamp = str(int(timestamp))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "tthc-alerts/1",
               EVENT_HEADER: str(document["id"]), "X-TTHC-Event-Type": str(document["type"]),
               TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body)}
    try:
        post = client.post if client is not None else httpx.post
        resp = post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= resp.status_code < 300:
        raise DeliveryError(f"HTTP {resp.status_code}")
    return resp.status_code


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, except that credentials beyond ASCII (a Vietnamese password) go as UTF-8
    AUTH PLAIN (RFC 4616), where smtplib would fail encoding them as ASCII."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, resp = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def send_email(cfg: Mapping[str, Any], to: str, subject: str, body: str, *, message_key: str) -> None:
    """Send one plain-text UTF-8 message through `TTHC_SMTP_*`; DeliveryError on any failure."""
    host = (cfg.get("SMTP_HOST") or "").strip()
    if not host:
        raise DeliveryError("TTHC_SMTP_HOST is not set: e-mail alerts wait until it is")
    msg = EmailMessage()
    msg["From"] = cfg["SMTP_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=message_key, domain="tthc.local")
    msg["X-TTHC-Alert"] = message_key
    msg.set_content(body, charset="utf-8")
    try:
        with smtplib.SMTP(host, int(cfg["SMTP_PORT"]), timeout=float(cfg["ALERT_TIMEOUT"])) as smtp:
            smtp.ehlo()
            if cfg.get("SMTP_STARTTLS"):
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{host} does not offer STARTTLS (TTHC_SMTP_STARTTLS is on)")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.get("SMTP_USER"):
                _login(smtp, cfg["SMTP_USER"], cfg.get("SMTP_PASSWORD") or "")
            smtp.send_message(msg)
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
