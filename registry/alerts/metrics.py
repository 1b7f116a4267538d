"""Alert figures for /metrics, read from the database at scrape time (every process's work counts)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..store import open_store


class AlertCollector:
    """Events by type, deliveries by channel and outcome, the outbox's backlog and its oldest row."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        cfg = self.app.config["TTHC"]
        try:
            with open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False) as store:
                stats = store.alert_stats()
        except Exception:  # a scrape must not fail because the database is busy or not upgraded yet
            return
        events = CounterMetricFamily("tthc_alert_events", "Alert events fired, by type", labels=["type"])
        for kind, n in sorted(stats["events"].items()):
            events.add_metric([kind], n)
        yield events
        deliveries = GaugeMetricFamily("tthc_alert_deliveries", "Alert deliveries by channel and outcome "
                                       "(pending, delivered, failed = gave up, cancelled)",
                                       labels=["channel", "outcome"])
        pending = 0
        for (channel, status), n in sorted(stats["deliveries"].items()):
            deliveries.add_metric([channel, status], n)
            pending += n if status == "pending" else 0
        yield deliveries
        attempts = CounterMetricFamily("tthc_alert_delivery_attempts", "Sending attempts made, by channel",
                                       labels=["channel"])
        for channel, n in sorted(stats["attempts"].items()):
            attempts.add_metric([channel], n)
        yield attempts
        backlog = GaugeMetricFamily("tthc_alert_outbox_pending", "Deliveries waiting in the outbox")
        backlog.add_metric([], pending)
        yield backlog
        oldest = GaugeMetricFamily("tthc_alert_outbox_oldest_pending_timestamp_seconds",
                                   "Unix time the oldest pending delivery was queued (0: none)")
        oldest.add_metric([], datetime.fromisoformat(stats["oldest_pending"]).timestamp()
                          if stats["oldest_pending"] else 0)
        yield oldest
