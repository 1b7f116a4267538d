"""The published JSON Schema (2020-12) of the coverage report, one per method version.

Generated, never hand-written: apispec's marshmallow converter (already what builds the
OpenAPI document) turns the report's marshmallow schema into an OpenAPI 3.1 schema object,
which *is* JSON Schema 2020-12; nested schemas become `$defs`. `marshmallow-jsonschema` was
not chosen: it emits draft-07 and does not follow marshmallow 4.

Method versions are found, not listed: every marshmallow schema in `registry.api.schemas`
that declares its own `METHOD = "tthc-coverage/N"` class attribute is the report of method N.
A new method (e.g. `tthc-coverage/2` with dossier indicators) gets its schema by declaring
its report schema that way. Additive members do not break a version (objects stay open);
anything else needs a new method version.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
PATH_PREFIX = "/api/v1/schemas/"
_METHOD = re.compile(r"tthc-coverage/([0-9]+)\Z")


class UnknownMethod(LookupError):
    """No published schema for this method name."""


def version_of(method: str) -> str:
    """`tthc-coverage/1` -> `1`; UnknownMethod for any other shape."""
    match = _METHOD.match(str(method))
    if not match:
        raise UnknownMethod(method)
    return match.group(1)


def schema_path(method: str) -> str:
    """Where the schema of `method` is served: `/api/v1/schemas/coverage-1.json`."""
    return f"{PATH_PREFIX}coverage-{version_of(method)}.json"


def report_schemas() -> dict[str, type[Schema]]:
    """{method: marshmallow schema of its report}, discovered in `registry.api.schemas`."""
    from .api import schemas as api_schemas  # the report's shape is documented there

    found: dict[str, type[Schema]] = {}
    for value in vars(api_schemas).values():
        if isinstance(value, type) and issubclass(value, Schema) and isinstance(vars(value).get("METHOD"), str):
            found[vars(value)["METHOD"]] = value
    return dict(sorted(found.items(), key=lambda item: int(version_of(item[0]))))


def methods() -> list[str]:
    """The method versions with a published schema, oldest first."""
    return list(_documents())


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" and isinstance(v, str)
                    else _rewrite_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _generate(method: str, schema: type[Schema]) -> dict[str, Any]:
    spec = APISpec(title="tthc coverage report", version=method, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    name = "CoverageReport"
    spec.components.schema(name, schema=schema)
    defs = _rewrite_refs(spec.to_dict()["components"]["schemas"])
    root = defs.pop(name)
    root["properties"]["method"] = {**root["properties"].get("method", {}), "const": method}
    version = version_of(method)
    return {"$schema": DIALECT, "$id": f"{PATH_PREFIX}coverage-{version}.json",
            "title": f"tthc coverage report, method {method}",
            "description": (schema.__doc__ or "").strip(), **root, "$defs": defs}


@functools.lru_cache(maxsize=1)
def _documents() -> dict[str, dict[str, Any]]:
    return {method: _generate(method, schema) for method, schema in report_schemas().items()}


def json_schema(method: str) -> dict[str, Any]:
    """The JSON Schema document of `method` (a copy); UnknownMethod when none is published."""
    docs = _documents()
    if method not in docs:
        raise UnknownMethod(method)
    return copy.deepcopy(docs[method])


@functools.lru_cache(maxsize=8)
def json_schema_text(method: str) -> str:
    """The document as served (UTF-8 JSON text)."""
    return json.dumps(json_schema(method), ensure_ascii=False, indent=1)


@functools.lru_cache(maxsize=8)
def _validator(method: str) -> Any:
    from jsonschema import Draft202012Validator

    document = json_schema(method)
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def validation_errors(report: Any) -> list[str]:
    """Why `report` is not a valid coverage report of the method it names (empty: valid)."""
    if not isinstance(report, dict):
        return ["the report is not a JSON object"]
    method = report.get("method")
    try:
        validator = _validator(str(method))
    except UnknownMethod:
        return [f"unknown method {method!r} (published: {', '.join(methods())})"]
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:20]]
