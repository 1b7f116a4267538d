"""The JSON API under /api/v1 (flask-smorest): OpenAPI 3 at /api/v1/openapi.json, docs at /api/docs.

Each feature is a module exposing `blp`, an `ApiBlueprint` (see `blueprint.py`); adding one is
one line in `MODULES`. Optional modules (owned by other parts of the product, e.g. `probes`)
are registered when they exist. Views guard writes with `security.require(...)` and raise
`errors.ApiProblem` for RFC 9457 problem responses.
"""

from __future__ import annotations

import importlib
from http import HTTPStatus

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from . import errors
from .security import SCHEME, SECURITY_SCHEME

MODULES = ("procedures", "imports", "coverage", "targets", "audit", "account", "users", "report_schemas",
           "federation", "alerts", "dossiers")
OPTIONAL_MODULES = ("probes",)

DESCRIPTION = """\
The tthc registry of administrative procedures (TTHC): procedures, imports, coverage against the
city's targets, and the audit log. Reads are public; every write needs
`Authorization: Bearer <token>` (`tthc token create USERNAME`). Errors are
`application/problem+json` (RFC 9457). See docs/api.md.
"""


class ProblemApi(Api):
    """flask-smorest's Api with RFC 9457 problems instead of its own error payload."""

    from .schemas import ProblemSchema as ERROR_SCHEMA  # noqa: N811 - flask-smorest's hook name

    def _register_error_handlers(self) -> None:
        errors.init_app(self._app)

    def _register_responses(self) -> None:
        for status in HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, errors.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {
            "description": "An error (RFC 9457 problem details)",
            "schema": self.ERROR_SCHEMA,
        }
        prepare_response(response, self.spec, errors.PROBLEM_MIMETYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def _modules() -> list:
    mods = [importlib.import_module(f"{__name__}.{name}") for name in MODULES]
    for name in OPTIONAL_MODULES:
        try:
            mods.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return mods


def init_app(app: Flask) -> Api:
    """Register the API blueprints, the OpenAPI document and the offline docs on `app`."""
    app.config.setdefault("API_TITLE", "tthc registry API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {"info": {"description": DESCRIPTION}})
    # Vietnamese stays readable in JSON bodies, and fields keep their documented order.
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    api = ProblemApi(app)
    api.spec.components.security_scheme(SCHEME, SECURITY_SCHEME)
    for mod in _modules():
        api.register_blueprint(mod.blp)
    from .docs import bp as docs_bp

    app.register_blueprint(docs_bp)
    app.extensions["tthc-api"] = api
    return api
