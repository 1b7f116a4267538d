"""Fixtures: mock portals served on real sockets (127.0.0.1, a free port each)."""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
import requests
from flask import Flask

from mock_portal.server import running_server
from tests.mock_portal.helpers import SMALL_WORLD


@dataclass
class Portal:
    """A running mock portal."""

    url: str
    app: Flask

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 10)
        resp = requests.request(method, f"{self.url}/_admin{path}", **kwargs)
        resp.raise_for_status()
        return resp.json()

    def session(self, username: str = "hanoi", password: str = "hanoi-secret") -> str:
        return self.post("/adapter/auth", json={"username": username,
                                                "password": password}).json()["session"]

    def token(self) -> str:
        form = {"grant_type": "client_credentials", "client_id": "tthc",
                "client_secret": "lgsp-secret"}
        return self.post("/lgsp/token", data=form).json()["access_token"]

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        return self.admin("GET", "/journal", params=params)["entries"]


@pytest.fixture
def start_portal() -> Iterator[Callable[..., Portal]]:
    """Start portals with any world/faults/seed/config; all stopped at the end of the test."""
    with ExitStack() as stack:
        def start(world: Any = SMALL_WORLD, faults: Any = None, seed: int = 0,
                  **config: Any) -> Portal:
            config.setdefault("STYLE", "legacy")  # most tests read server-rendered pages
            config.setdefault("CALLBACK_BACKOFF", 0.01)
            config.setdefault("CALLBACK_BACKOFF_MAX", 0.05)
            url, app = stack.enter_context(running_server(world=world, faults=faults, seed=seed,
                                                          **config))
            return Portal(url, app)
        yield start


@pytest.fixture
def portal(start_portal: Callable[..., Portal]) -> Portal:
    """A portal serving the small test world, no faults."""
    return start_portal()
