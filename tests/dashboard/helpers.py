"""Helpers of the dashboard tests: staff accounts and signing in through the form."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str
    agencies: tuple[str, ...]


EDITOR = Account("tuphap", "mat-khau-tu-phap", "editor", ("Sở Tư pháp",))
OTHER_EDITOR = Account("xaydung", "mat-khau-xay-dung", "editor", ("Sở Xây dựng",))
ADMIN = Account("quantri", "mat-khau-quan-tri", "admin", ())
VIEWER = Account("nguoixem", "mat-khau-nguoi-xem", "viewer", ())
ACCOUNTS = (EDITOR, OTHER_EDITOR, ADMIN, VIEWER)


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, url: str = "/login") -> str:
    """The CSRF token a page hands out to this client's session."""
    resp = client.get(url)
    match = CSRF_RE.search(resp.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, account: Account) -> None:
    """Sign in through the login form."""
    token = csrf_of(client)
    resp = client.post("/login", data={"username": account.username, "password": account.password,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def fold(text: str) -> str:
    """Independent diacritic folding for assertions (NFD, drop marks, đ -> d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()
