"""Per-request (and per-command) access to the store, from the app's settings."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g

from .store import Store, open_store


def settings() -> dict[str, Any]:
    """The validated settings of the current app."""
    return current_app.config["TTHC"]


def get_store() -> Store:
    """The store of this request or command, opened on first use and closed at teardown."""
    if "store" not in g:
        cfg = settings()
        g.store = open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=False)
    return g.store


def _close(exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Upgrade the database once at start-up and close stores at teardown."""
    cfg = app.config["TTHC"]
    with open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=True):
        pass
    app.teardown_appcontext(_close)
