"""Delivery of CONFIRM callbacks and PayGov IPNs: signed, in a background thread, retried with
exponential backoff (tenacity) until the receiver acknowledges them or attempts run out."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests
from tenacity import (RetryError, Retrying, retry_if_exception_type, stop_after_attempt,
                      stop_when_event_set, wait_exponential)

from mock_portal.clock import iso_now

Ack = Callable[[Any], bool]


def dvcqg_acknowledged(body: Any) -> bool:
    """A CONFIRM is acknowledged by `{"MaLoi": "00"}`."""
    return isinstance(body, dict) and body.get("MaLoi") == "00"


def paygov_acknowledged(body: Any) -> bool:
    """An IPN is acknowledged by `{"error_code": "SUCCESSFUL"}`."""
    return isinstance(body, dict) and body.get("error_code") == "SUCCESSFUL"


class _NotAcknowledged(Exception):
    """The receiver answered, but not with an acknowledgement (retried)."""


class CallbackDispatcher:
    """Keeps every callback with its attempts; one daemon thread per callback in flight."""

    def __init__(self, max_attempts: int = 8, backoff: float = 0.5, backoff_max: float = 30.0,
                 timeout: float = 5.0) -> None:
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._changed = threading.Condition(self._lock)

    def submit(self, kind: str, url: str | None, payload: dict[str, Any], ack: Ack,
               reference: str) -> dict[str, Any]:
        """Record a callback and start delivering it; returns a snapshot of the record."""
        with self._lock:
            record = {"id": len(self._records) + 1, "kind": kind, "url": url,
                      "reference": reference,
                      "payload": payload, "state": "pending" if url else "no_url",
                      "acknowledged": False, "attempts": [], "created_at": iso_now()}
            self._records.append(record)
            if url:
                thread = threading.Thread(target=self._deliver, args=(record, ack, self._stop),
                                          name=f"callback-{record['id']}", daemon=True)
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
                thread.start()
            self._changed.notify_all()
            return dict(record, attempts=[])

    def _attempt(self, record: dict[str, Any], ack: Ack) -> None:
        entry: dict[str, Any] = {"attempt": len(record["attempts"]) + 1, "at": iso_now(),
                                 "status": None, "body": None, "error": None,
                                 "acknowledged": False}
        try:
            resp = requests.post(record["url"], json=record["payload"], timeout=self.timeout)
            entry["status"] = resp.status_code
            entry["body"] = resp.text[:2000]
            try:
                body = resp.json()
            except ValueError:
                body = None
            entry["acknowledged"] = resp.status_code < 300 and ack(body)
        except requests.RequestException as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        with self._lock:
            record["attempts"].append(entry)
            self._changed.notify_all()
        if not entry["acknowledged"]:
            raise _NotAcknowledged(entry["error"] or f"HTTP {entry['status']}")

    def _deliver(self, record: dict[str, Any], ack: Ack, stop: threading.Event) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts) | stop_when_event_set(stop),
            wait=wait_exponential(multiplier=self.backoff, max=self.backoff_max),
            retry=retry_if_exception_type(_NotAcknowledged),
            # Sleeping on the event lets shutdown and reset interrupt a long backoff.
            sleep=stop.wait,
        )
        try:
            retrying(self._attempt, record, ack)
            state = "acknowledged"
        except (RetryError, _NotAcknowledged):
            state = "cancelled" if stop.is_set() else "gave_up"
        with self._lock:
            record["state"] = state
            record["acknowledged"] = state == "acknowledged"
            self._changed.notify_all()

    def list(self, wait: float = 0.0) -> list[dict[str, Any]]:
        """Every callback with its attempts; `wait` seconds (bounded) first for none pending."""
        deadline = time.monotonic() + max(0.0, min(wait, 60.0))
        with self._lock:
            while any(r["state"] == "pending" for r in self._records):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return [dict(r, attempts=[dict(a) for a in r["attempts"]]) for r in self._records]

    def stop(self, join: float = 2.0) -> None:
        """Cancel deliveries in flight and wait (bounded) for their threads."""
        self._stop.set()
        deadline = time.monotonic() + join
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def reset(self) -> None:
        """Cancel deliveries in flight and forget every record."""
        self.stop()
        with self._lock:
            self._records, self._threads = [], []
            self._stop = threading.Event()

