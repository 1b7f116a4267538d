"""Alerts (issue 17): verdict transitions become events, delivered by e-mail and signed webhooks.

- `events`: the pure rules (good verdicts, flap suppression, routing to subscriptions);
- `service`: `detect` (verdicts -> events + outbox rows), `subscribe` / `list_subscriptions` /
  `unsubscribe`, `feed`;
- `channels`: SMTP and webhook sending, HMAC signatures;
- `outbox`: `drain` (send what is due), `process` (detect + drain), `start_drain` (the loop
  beside the sweep scheduler), `after_sweep` (the probe engine's hook).

See docs/alerts.md.
"""
from __future__ import annotations

from .events import EVENT_TYPES, agency_keys
from .outbox import after_sweep, drain, process, start_drain
from .service import (CHANNELS, MODES, SCOPES, AlertError, SubscriptionForbidden, SubscriptionInvalid,
                      SubscriptionNotFound, detect, feed, list_subscriptions, subscribe, unsubscribe, view)

__all__ = ["CHANNELS", "EVENT_TYPES", "MODES", "SCOPES", "AlertError", "SubscriptionForbidden",
           "SubscriptionInvalid", "SubscriptionNotFound", "after_sweep", "agency_keys", "detect",
           "drain", "feed", "list_subscriptions", "process", "start_drain", "subscribe", "unsubscribe", "view"]
