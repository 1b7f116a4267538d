"""tthc: the integration-status registry of Vietnamese administrative procedures (TTHC)."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from . import context, settings as settings_mod


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory: settings from `TTHC_` variables (overridable for tests).

    It reads and writes nothing: `tthc init`, `serve`, `up` (and the tests) create or upgrade the
    database explicitly, so `tthc --help` in an empty directory leaves it empty.
    """
    app = Flask(__name__)
    overrides = dict(test_config or {})
    cfg = settings_mod.load(overrides=overrides)
    app.config.update(
        TTHC=cfg,
        SECRET_KEY=cfg["SECRET_KEY"],
        MAX_CONTENT_LENGTH=int(cfg["MAX_UPLOAD_MB"] * 1024 * 1024),
        JSON_SORT_KEYS=False,
    )
    # Flask's own keys (TESTING, ...) pass straight through.
    app.config.update({k: v for k, v in overrides.items() if k not in settings_mod.BY_NAME})
    context.init_app(app)
    from . import api, dashboard, ops
    from .cli import init_app as cli_init

    cli_init(app)
    api.init_app(app)
    dashboard.init_app(app)
    ops.init_app(app)
    return app
