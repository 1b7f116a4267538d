"""Alert fixtures: a real SMTP server (aiosmtpd) on a free port, a real webhook receiver
(pytest-httpserver), a mock_portal process, and a fresh hanoi-2021 database per test."""
from __future__ import annotations

import copy
import json
import shutil
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller

from registry import create_app
from registry.auth import add_user
from registry.store import open_store
from tests.probing.conftest import FAST, WORLD_FILE, PortalProcess

UNIT = "000.00.00.H26"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1:port that can be stopped and started again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.inbox.lock:
            return list(self.inbox.messages)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def portal_process() -> Iterator[PortalProcess]:
    proc = PortalProcess()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def world() -> dict[str, Any]:
    return json.loads(WORLD_FILE.read_text("utf-8"))


@pytest.fixture
def portal(portal_process: PortalProcess, world: dict[str, Any]) -> PortalProcess:
    """The shared mock_portal with the shipped world loaded afresh (no faults)."""
    portal_process.admin("POST", "/world", json={"world": world})
    portal_process.admin("POST", "/reset", json={"faults": True, "seed": 0})
    return portal_process


@pytest.fixture(scope="session")
def hanoi_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from registry.seeding import load_fixture
    path = tmp_path_factory.mktemp("alerts-template") / "hanoi.db"
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
        add_user(store, "root", "password-123", "admin", [], actor="test")  # owns the tests' admin subscriptions
    return path


@pytest.fixture
def db(hanoi_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, target)
    return target


@pytest.fixture
def healthy_code(world: dict[str, Any]) -> str:
    """A procedure integrated for our unit, declared so, with no deliberate discrepancy."""
    odd = {c for codes in world["expected_discrepancies"].values() for c in codes} | set(world["broken_links"])
    return sorted(c for c in world["integrations"][UNIT] if c not in odd)[0]


def alert_app(db: Path, portal_url: str, smtp: SmtpServer | None = None, **overrides: Any):
    settings: dict[str, Any] = {"DATABASE": str(db), "PORTAL_URL": portal_url, "TESTING": True, "SECRET_KEY": "t",
                                **FAST, "SMTP_STARTTLS": False, "ALERT_DRAIN_SECONDS": 0.0,
                                "ALERT_RETRY_SECONDS": 30.0}
    if smtp is not None:
        settings.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    settings.update(overrides)
    return create_app(settings)


def break_link(portal: PortalProcess, world: dict[str, Any], code: str, how: str = "404") -> None:
    """Load the world again with `code`'s deep link broken (the portal's admin API)."""
    changed = copy.deepcopy(world)
    changed["broken_links"][code] = how
    portal.admin("POST", "/world", json={"world": changed})


def mend_link(portal: PortalProcess, world: dict[str, Any]) -> None:
    """Load the shipped world again (every link as shipped)."""
    portal.admin("POST", "/world", json={"world": world})


def editor(db: Path, agency: str, username: str = "lan") -> None:
    with open_store(db) as store:
        add_user(store, username, "password-123", "editor", [agency], actor="test")
