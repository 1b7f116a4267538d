"""Shared fixtures: a fresh database file per test, the app on it, a CLI runner and the store."""
from __future__ import annotations

from pathlib import Path

import pytest

from registry import create_app
from registry.store import open_store

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.db"


@pytest.fixture
def app(db_path: Path):
    open_store(db_path).close()  # the factory never migrates: tests create the database explicitly
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "SECRET_KEY": "test"})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def store(app, db_path: Path):
    s = open_store(db_path)
    yield s
    s.close()


@pytest.fixture(scope="session")
def hanoi_rows() -> list[dict]:
    """The hanoi-2021 fixture's procedures, validated once per session."""
    from registry.importer import parse
    parsed = parse((REPO / "fixtures" / "hanoi-2021" / "procedures.jsonl").read_bytes(), "p.jsonl")
    assert not parsed.errors
    return parsed.rows


@pytest.fixture
def hanoi_store(store, hanoi_rows):
    """A store holding the hanoi-2021 fixture (procedures and targets)."""
    from registry.seeding import load_fixture
    load_fixture(store, "hanoi-2021")
    return store
