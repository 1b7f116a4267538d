"""SMTP settings: STARTTLS required by default, login with TTHC_SMTP_USER / _PASSWORD, no host = wait."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from registry import alerts, create_app
from registry.auth import Principal
from registry.store import open_store

from .conftest import Inbox, free_port


def _store_with_one_email(hanoi_db: Path, tmp_path: Path, **settings: Any) -> tuple[Any, dict[str, Any]]:
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    app = create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t", **settings})
    store = open_store(path)
    alerts.subscribe(store, Principal("root", "admin"), {"scope": "all", "channel": "email",
                                                         "address": "so-tttt@hanoi.gov.vn"}, source="test")
    code = store.all_procedures()[0]["code"]
    for verdict in ("payment_ready", "payment_rejected", "payment_rejected"):
        store.record_attempts([{"code": code, "dimension": "payment", "verdict": verdict, "run_id": None,
                                "checked_at": "2026-12-01T09:00:00+07:00"}])
    return store, app.config["TTHC"]


class _Auth:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == ("tthc", "mật-khẩu"))


@pytest.fixture
def auth_smtp(recwarn: pytest.WarningsRecorder):  # aiosmtpd warns about AUTH without TLS: this is a test
    inbox, auth, port = Inbox(), _Auth(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=auth, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    yield {"port": port, "inbox": inbox, "auth": auth}
    controller.stop()


def test_starttls_is_required_by_default(hanoi_db, tmp_path, smtp):
    store, cfg = _store_with_one_email(hanoi_db, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    try:
        assert cfg["SMTP_STARTTLS"] is True
        assert alerts.process(store, cfg)["retry"] == 1
        [row] = store.list_deliveries()
    finally:
        store.close()
    assert "does not offer STARTTLS" in row["last_error"] and row["status"] == "pending"
    assert smtp.messages == []


@pytest.mark.parametrize("password, delivered", [("mật-khẩu", True), ("wrong", False)])
def test_login_with_the_smtp_credentials(hanoi_db, tmp_path, auth_smtp, password, delivered):
    store, cfg = _store_with_one_email(hanoi_db, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=auth_smtp["port"],
                                       SMTP_STARTTLS=False, SMTP_USER="tthc", SMTP_PASSWORD=password,
                                       SMTP_FROM="canh-bao@hanoi.gov.vn",
                                       ALERT_TIMEOUT=10.0 if delivered else 3.0)
    try:
        counts = alerts.process(store, cfg)
        [row] = store.list_deliveries()
    finally:
        store.close()
    assert auth_smtp["auth"].logins == [("tthc", password)]
    assert counts["delivered" if delivered else "retry"] == 1
    assert len(auth_smtp["inbox"].messages) == (1 if delivered else 0)
    if delivered:
        assert auth_smtp["inbox"].envelopes[0] == ("canh-bao@hanoi.gov.vn", ["so-tttt@hanoi.gov.vn"])
    else:  # refused (aiosmtpd may also hang up on the next mechanism): a failed attempt, retried later
        assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"]


def test_without_an_smtp_host_emails_wait_in_the_outbox(hanoi_db, tmp_path):
    store, cfg = _store_with_one_email(hanoi_db, tmp_path)
    try:
        assert alerts.process(store, cfg) == {"events": 1, "delivered": 0, "retry": 1, "failed": 0}
        [row] = store.list_deliveries()
    finally:
        store.close()
    assert row["status"] == "pending" and "TTHC_SMTP_HOST is not set" in row["last_error"]
