"""Per-request (and per-command) access to the store, from the app's settings."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g

from .store import Store, open_store


def settings() -> dict[str, Any]:
    """The validated settings of the current app."""
    return current_app.config["TTHC"]


def get_store() -> Store:
    """The store of this request or command, opened on first use and closed at teardown.

    CLI commands set `TTHC_MIGRATE_ON_OPEN` (a command that uses the store may create the database);
    the web app never migrates: `serve`/`up` do it once before the workers start.
    """
    if "store" not in g:
        cfg = settings()
        migrate = bool(current_app.config.get("TTHC_MIGRATE_ON_OPEN", False))
        g.store = open_store(cfg["DATABASE"], cfg["BUSY_TIMEOUT_MS"], migrate=migrate)
    return g.store


def _close(exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Close stores at teardown. The factory never opens the database (see `create_app`)."""
    app.teardown_appcontext(_close)
