"""API fixtures: a hanoi-2021 database with one user per role and their tokens, copied per test."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from werkzeug.serving import make_server

from registry import auth, create_app
from registry.seeding import load_fixture
from registry.store import open_store

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "hanoi-2021" / "procedures.jsonl"
DATA_DIR = REPO / "tests" / "data"
JUSTICE = "Sở Tư pháp"
BUILDING = "Sở Xây dựng"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemathesis: property-based run of schemathesis against the API"
    )


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agencies: tuple[str, ...]
    password: str


USERS = {
    "admin": User("root", "admin", (), "root-password"),
    "editor": User("tuphap", "editor", (JUSTICE,), "tuphap-password"),
    "other_editor": User("xaydung", "editor", (BUILDING,), "xaydung-password"),
    "viewer": User("reader", "viewer", (), "reader-password"),
}


@pytest.fixture(scope="session")
def fixture_records() -> list[dict[str, Any]]:
    """hanoi-2021 as the fixture file holds it, read without the application's code."""
    return [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A database with the fixture, one user per role and a token each, built once."""
    path = tmp_path_factory.mktemp("api-template") / "registry.db"
    tokens = {}
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
        for key, user in USERS.items():
            auth.add_user(
                store, user.username, user.password, user.role, user.agencies, actor="tests"
            )
            tokens[key], _ = auth.issue_token(
                store, user.username, name=f"{key}-tests", actor="tests"
            )
    return path, tokens


@pytest.fixture
def api_db(api_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A fresh copy of the template database for this test."""
    path = tmp_path / "registry.db"
    shutil.copyfile(api_template[0], path)
    return path


@pytest.fixture
def tokens(api_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return api_template[1]


@pytest.fixture
def bearer(tokens: dict[str, str]):
    """bearer("editor") -> the Authorization header of that role's token."""

    def headers(role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}", **extra}

    return headers


@pytest.fixture
def api_app(api_db: Path):
    return create_app({"DATABASE": str(api_db), "TESTING": True, "SECRET_KEY": "api-tests"})


@pytest.fixture
def api(api_app):
    return api_app.test_client()


@pytest.fixture
def db(api_app, api_db: Path):
    """The store of the test database, for setting up and checking what the API did."""
    store = open_store(api_db)
    yield store
    store.close()


def single_agency(records: list[dict[str, Any]], agency: str) -> dict[str, Any]:
    """A procedure whose only agency is `agency` (so an editor of it may change it)."""
    return next(r for r in records if r["agencies"] == [agency])


@pytest.fixture
def live_server(api_app) -> Iterator[str]:
    """The app on a real threaded HTTP server on 127.0.0.1 (a free port); yields its base URL."""
    server = make_server("127.0.0.1", 0, api_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="api-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
