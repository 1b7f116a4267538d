"""tthc: the integration-status registry of Vietnamese administrative procedures (TTHC)."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from . import context, settings as settings_mod


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory: settings from `TTHC_` variables (overridable for tests), database upgraded."""
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
    _register_optional(app)
    return app


def _register_optional(app: Flask) -> None:
    """Blueprints and CLI groups; each interface registers itself through its `init_app`."""
    from .cli import init_app as cli_init
    cli_init(app)
    for module in ("registry.api", "registry.dashboard", "registry.ops"):
        try:
            mod = __import__(module, fromlist=["init_app"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.init_app(app)
