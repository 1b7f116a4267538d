"""The private library internals tthc overrides: each is pinned (setup.cfg) and checked here.

When a pinned library moves, this test fails loudly before the override silently stops working:
re-read the library's code, adapt the override (or drop it for a public API), then move the pin.

- marshmallow `Field.deserialize/_deserialize/_validate` (registry/schemas.py `_Lean`: import speed,
  measured in benchmarks/bench_registry.py);
- flask-smorest `Api._register_error_handlers/_register_responses` (registry/api: RFC 9457 problems
  everywhere, in the handlers and in the OpenAPI document);
- webargs `FlaskParser._raw_load_json/_makeproxy` (registry/api/blueprint.py: lone surrogates refused,
  multipart files and form fields validated by one schema);
- werkzeug `WSGIRequestHandler.run_wsgi` (mock_portal/server.py: keep-alive connections, which
  werkzeug's development server never offers).
"""
from __future__ import annotations

import configparser
import inspect
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> dict[str, Requirement]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in cfg["options"]["install_requires"].splitlines()]
    reqs = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {r.name.lower(): r for r in reqs}


@pytest.mark.parametrize("dist", ["marshmallow", "flask-smorest", "webargs", "werkzeug"])
def test_each_overridden_library_is_pinned_below_its_next_release_and_installed_within(dist: str):
    req = _requirements()[dist]
    assert any(spec.operator == "<" for spec in req.specifier), f"{dist} needs an upper bound"
    assert req.specifier.contains(version(dist)), f"{dist} {version(dist)} is outside {req.specifier}"


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_marshmallow_field_internals_are_as_the_lean_fields_expect():
    from marshmallow import fields

    assert _params(fields.Field.deserialize)[:4] == ["self", "value", "attr", "data"]
    assert _params(fields.Field._deserialize)[:4] == ["self", "value", "attr", "data"]
    assert _params(fields.Field._validate) == ["self", "value"]
    # `_Lean` skips marshmallow's path only when no pre/post-load hook exists on the field.
    field = fields.String()
    assert hasattr(field, "validators") and isinstance(field.validators, list)
    source = inspect.getsource(fields.Field.deserialize)
    assert "self._validate(output)" in source and "self._deserialize(" in source


def test_flask_smorest_api_registers_errors_and_responses_through_the_hooks_we_override():
    from flask_smorest import Api
    from flask_smorest.error_handler import ErrorHandlerMixin
    from flask_smorest.spec import APISpecMixin

    assert "self._register_error_handlers()" in inspect.getsource(Api.init_app)
    assert "self._register_responses()" in inspect.getsource(APISpecMixin)
    assert _params(ErrorHandlerMixin._register_error_handlers) == ["self"]
    assert _params(APISpecMixin._register_responses) == ["self"]
    assert hasattr(Api, "DEFAULT_ERROR_RESPONSE_NAME") and hasattr(Api, "ERROR_SCHEMA")


def test_webargs_flask_parser_loads_json_and_files_through_the_hooks_we_override():
    from webargs.flaskparser import FlaskParser

    assert _params(FlaskParser._raw_load_json) == ["self", "req"]
    assert _params(FlaskParser._makeproxy)[:3] == ["self", "multidict", "schema"]
    assert _params(FlaskParser.load_files) == ["self", "req", "schema"]


def test_werkzeug_request_handler_still_serves_through_run_wsgi():
    from werkzeug.serving import WSGIRequestHandler

    assert _params(WSGIRequestHandler.run_wsgi) == ["self"]
    # Every HTTP method (do_GET, do_POST, ...) is answered by run_wsgi.
    assert "return self.run_wsgi" in inspect.getsource(WSGIRequestHandler.__getattr__)
