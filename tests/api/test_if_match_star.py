"""`If-Match: *` behaves as docs/api.md says (issue 10 item 9)."""
from __future__ import annotations

from pathlib import Path

import pytest

from registry import auth, create_app
from registry.store import open_store


@pytest.fixture
def api(tmp_path: Path):
    path = tmp_path / "r.db"
    with open_store(path) as store:
        auth.add_user(store, "quantri", "mat-khau-quan-tri", "admin", [], actor="tests")
        token, _ = auth.issue_token(store, "quantri", actor="tests")
    client = create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/procedures", json={"code": "1.000001", "name": "Thủ tục A", "agency": "Sở X"},
                       headers=headers).status_code == 201
    return client, headers


@pytest.mark.parametrize("if_match, status", [("*", 200), ('"1"', 200), ('*, "7"', 412), ('"7"', 412)])
def test_if_match_star_accepts_the_current_version(api, if_match, status):
    client, headers = api
    resp = client.patch("/api/v1/procedures/1.000001", json={"name": "Thủ tục B"},
                        headers={**headers, "If-Match": if_match})
    assert resp.status_code == status
    assert client.get("/api/v1/procedures/1.000001").get_json()["version"] == (2 if status == 200 else 1)


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_if_match_star_on_a_missing_procedure_is_404(api, method):
    client, headers = api
    kwargs = {} if method == "delete" else {"json": {"name": "B", "agency": "Sở X"}}
    resp = getattr(client, method)("/api/v1/procedures/9.999999", headers={**headers, "If-Match": "*"}, **kwargs)
    assert resp.status_code == 404
