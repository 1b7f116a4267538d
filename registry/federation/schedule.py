"""Scheduled federation pulls, beside the probe sweeps of `tthc up`."""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..store import open_store
from .service import pull

log = logging.getLogger("tthc.federation")


def pull_once(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pull every federated unit once (nothing when none is federated)."""
    with open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False) as store:
        if not store.list_federation_units():
            return []
        return pull(store, cfg)


def start_scheduler(cfg: Mapping[str, Any], minutes: float, stop: threading.Event) -> threading.Thread | None:
    """Pull every `minutes` in a daemon thread until `stop` is set (None when minutes <= 0).
    The first pull comes at once: a unit just started should show its neighbours' figures."""
    if minutes <= 0:
        return None

    def loop() -> None:
        while True:
            try:
                results = pull_once(cfg)
                failed = sum(r["outcome"] == "failed" for r in results)
                if results:
                    log.info("federation pull: %d reports, %d failed", len(results), failed)
            except Exception:  # keep the schedule alive; each pull records its own failure
                log.exception("federation pull failed")
            if stop.wait(minutes * 60):
                return

    thread = threading.Thread(target=loop, name="tthc-federation-scheduler", daemon=True)
    thread.start()
    return thread
