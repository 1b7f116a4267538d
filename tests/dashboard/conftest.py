"""Dashboard fixtures: a fresh copy of a hanoi-2021 database with staff accounts, per test."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from registry import auth, create_app
from registry.seeding import load_fixture
from registry.store import open_store

from .helpers import ACCOUNTS

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "hanoi-2021" / "procedures.jsonl"


@pytest.fixture(scope="session")
def fixture_records() -> list[dict[str, Any]]:
    """The hanoi-2021 procedures as the fixture file holds them (read independently of the app)."""
    return [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the fixture and the accounts, built once and copied for every test."""
    path = tmp_path_factory.mktemp("dashboard-template") / "registry.db"
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
        for acc in ACCOUNTS:
            auth.add_user(store, acc.username, acc.password, acc.role, acc.agencies, actor="tests")
    # Closing the last connection checkpoints the WAL: the file alone is the whole database.
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    return path


@pytest.fixture
def dash_db(template_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template database for this test."""
    path = tmp_path / "registry.db"
    shutil.copyfile(template_db, path)
    return path


@pytest.fixture
def dash_app(dash_db: Path):
    return create_app({"DATABASE": str(dash_db), "SECRET_KEY": "dashboard-tests", "TESTING": True})


@pytest.fixture
def dash_client(dash_app):
    return dash_app.test_client()


@pytest.fixture
def dash_store(dash_app, dash_db: Path):
    store = open_store(dash_db)
    yield store
    store.close()
