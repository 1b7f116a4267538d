"""Problem details for every error under /api; the OpenAPI document and the offline docs page."""

from __future__ import annotations

import re

import pytest

from registry import create_app

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
TAGS = ("procedures", "imports", "coverage", "targets", "audit", "account")


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("get", "/api/v1/nothing-here", 404),
        ("get", "/api/v2/procedures", 404),
        ("get", "/api", 404),
        ("get", "/api/docs/assets/no-such-file.js", 404),
        ("delete", "/api/v1/coverage", 405),
        ("put", "/api/v1/audit", 405),
        ("patch", "/api/v1/procedures", 405),
        ("post", "/api/v1/me", 405),
    ],
)
def test_routing_errors_are_problems(api, method, path, status):
    resp = getattr(api, method)(path)
    assert resp.status_code == status and resp.mimetype == PROBLEM
    body = resp.json
    assert PROBLEM_KEYS <= set(body) and body["status"] == status and body["instance"] == path
    assert body["type"] == "about:blank" and body["title"]
    if status == 405:
        assert "GET" in resp.headers["Allow"] or "POST" in resp.headers["Allow"]


def test_problem_instance_keeps_the_query(api):
    resp = api.get("/api/v1/procedures?level=9")
    assert resp.json["instance"] == "/api/v1/procedures?level=9"
    assert resp.json["type"] == "urn:tthc:problem:validation-failed"


def test_errors_outside_api_are_not_problems(api):
    resp = api.get("/no-such-page-anywhere")
    assert resp.status_code == 404 and resp.mimetype != PROBLEM


def test_unexpected_errors_are_500_problems_without_internals(api_db, monkeypatch):
    app = create_app({"DATABASE": str(api_db)})  # not TESTING: errors are handled, not raised
    from registry.store import Store

    def broken(self, code):
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(Store, "get_procedure", broken)
    resp = app.test_client().get("/api/v1/procedures/1.000005")
    assert resp.status_code == 500 and resp.mimetype == PROBLEM
    assert "secret" not in resp.get_data(as_text=True)


def test_a_locked_database_is_503_with_retry_after(api_db, monkeypatch):
    app = create_app({"DATABASE": str(api_db)})
    from registry.store import Store, StoreBusy

    def locked(self, *a, **k):
        raise StoreBusy("the database is busy: database is locked")

    monkeypatch.setattr(Store, "list_targets", locked)
    resp = app.test_client().get("/api/v1/targets")
    assert (
        resp.status_code == 503 and resp.mimetype == PROBLEM and resp.headers["Retry-After"] == "1"
    )


# -- OpenAPI --------------------------------------------------------------------------
@pytest.fixture
def spec(api) -> dict:
    resp = api.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.json


def test_openapi_documents_every_operation(spec):
    assert spec["openapi"].startswith("3.")
    operations = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert {
        ("/api/v1/procedures", "get"),
        ("/api/v1/procedures", "post"),
        ("/api/v1/procedures/{code}", "get"),
        ("/api/v1/procedures/{code}", "patch"),
        ("/api/v1/procedures/{code}", "put"),
        ("/api/v1/procedures/{code}", "delete"),
        ("/api/v1/procedures/{code}/retire", "post"),
        ("/api/v1/imports", "post"),
        ("/api/v1/coverage", "get"),
        ("/api/v1/targets", "get"),
        ("/api/v1/targets", "post"),
        ("/api/v1/targets", "put"),
        ("/api/v1/targets/{target_id}", "delete"),
        ("/api/v1/audit", "get"),
        ("/api/v1/me", "get"),
    } <= operations


def test_openapi_writes_need_the_bearer_scheme_and_errors_are_problems(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `tthc token create USERNAME`.",
    }
    for path, item in spec["paths"].items():
        for method, op in item.items():
            # The payment platforms' callbacks (tag "probes") authenticate by checksum instead.
            if method in ("post", "put", "patch", "delete") and set(op["tags"]) & set(TAGS):
                assert op.get("security") == [{"bearerAuth": []}], (path, method)
                assert {"401", "403"} <= set(op["responses"]), (path, method)
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == [PROBLEM]
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem)


def test_openapi_update_documents_if_match_and_preconditions(spec):
    patch = spec["paths"]["/api/v1/procedures/{code}"]["patch"]
    assert any(
        p["name"] == "If-Match" and p["in"] == "header" and p["required"]
        for p in patch["parameters"]
    )
    assert {"412", "428", "404", "422"} <= set(patch["responses"])


def test_openapi_coverage_has_json_and_csv(spec):
    ok = spec["paths"]["/api/v1/coverage"]["get"]["responses"]["200"]["content"]
    assert set(ok) == {"application/json", "text/csv"}


def test_openapi_import_is_multipart(spec):
    body = spec["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]


# -- docs page ---------------------------------------------------------------------------
def test_docs_page_uses_only_local_assets(api):
    resp = api.get("/api/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/api/docs/assets/") for r in refs)
    assert "/api/v1/openapi.json" in html and "http://" not in html and "https://" not in html
    for ref in refs:
        asset = api.get(ref)
        assert asset.status_code == 200 and len(asset.data) > 100, ref
    assert "SwaggerUIBundle" in api.get("/api/docs/assets/swagger-ui-bundle.js").get_data(
        as_text=True
    )
