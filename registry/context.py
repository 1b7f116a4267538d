"""Per-request (and per-command) access to the store, from the app's settings."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g

from .store import Store, StoreDamaged, StoreError, StoreFull, open_store


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


def database_problem() -> str | None:
    """Why the app's database cannot be trusted (damaged, unreadable), or None when it opened fine."""
    return current_app.config.get("TTHC_DATABASE_PROBLEM")


def init_app(app: Flask) -> None:
    """Upgrade the database once at start-up and close request stores at teardown.

    - A database that cannot be opened or written at all (read-only directory, no permission)
      raises StoreUnavailable with one clear line (the CLI prints it and exits 1).
    - A damaged one (not a database, malformed pages) does not stop the app from being created,
      so `tthc restore` can still repair it; the problem is recorded (`database_problem()`), and
      `init`, `serve`, `up`, `backup` and `/readyz` refuse or report it.
    - With the disk full, connections fall back to read-only (see `store.db.connect`): reads
      keep working and writes answer 503.
    """
    cfg = app.config["TTHC"]
    path = cfg["DATABASE"]
    app.config["TTHC_DATABASE_PROBLEM"] = None
    try:
        with open_store(path, cfg["BUSY_TIMEOUT_MS"], migrate=True):
            pass
    except (StoreFull, StoreDamaged) as exc:  # recorded; StoreUnavailable goes up as it is
        app.config["TTHC_DATABASE_PROBLEM"] = str(exc)
    app.teardown_appcontext(_close)


def check_database() -> str | None:
    """One line saying why the database must not be served or copied, or None when it is sound
    (`PRAGMA quick_check` plus whatever went wrong at start-up)."""
    problem = database_problem()
    if problem:
        return problem
    path = settings()["DATABASE"]
    try:
        status = get_store().quick_check()
    except StoreError as exc:
        return str(exc)
    if status != "ok":
        return f"the database {path} is damaged (quick_check: {status}); restore a backup with `tthc restore FILE`"
    return None
