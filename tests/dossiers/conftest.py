"""Dossier fixtures: a small registry (two agencies), one user per role, tokens, a month of dossiers."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from registry import auth
from registry.importer import parse
from registry.store import open_store

JUSTICE = "Sở Tư pháp"
BUILDING = "Sở Xây dựng"
PROCEDURES = [
    {"code": "1.000001", "name": "Cấp phiếu lý lịch tư pháp", "agency": JUSTICE, "field": "Lý lịch tư pháp",
     "service_level": 4, "has_fee": True, "levels": ["tinh"]},
    {"code": "1.000002", "name": "Đăng ký khai sinh", "agency": JUSTICE, "field": "Hộ tịch",
     "service_level": 4, "has_fee": False, "levels": ["xa"]},
    {"code": "1.000003", "name": "Chứng thực bản sao", "agency": JUSTICE, "field": "Chứng thực",
     "service_level": 3, "has_fee": True, "levels": ["xa"]},
    {"code": "1.000004", "name": "Đăng ký kết hôn", "agency": JUSTICE, "field": "Hộ tịch",
     "service_level": 2, "has_fee": False, "levels": ["xa"]},
    {"code": "1.000005", "name": "Cấp bản sao trích lục", "agency": JUSTICE, "field": "Hộ tịch",
     "service_level": 3, "has_fee": True, "levels": ["xa"]},
    {"code": "2.000001", "name": "Cấp giấy phép xây dựng", "agency": BUILDING, "field": "Xây dựng",
     "service_level": 4, "has_fee": True, "levels": ["tinh"]},
]
REGISTERED = [p["code"] for p in PROCEDURES[:4]]
UNREGISTERED = "9.999999"


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agencies: tuple[str, ...]


USERS = {"system": User("motcua-tuphap", "system", (JUSTICE,)), "admin": User("root", "admin", ()),
         "editor": User("tuphap", "editor", (JUSTICE,)), "viewer": User("reader", "viewer", ())}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _build_registry(store) -> None:
    parsed = parse("\n".join(json.dumps(p, ensure_ascii=False) for p in PROCEDURES).encode(), "p.jsonl")
    assert not parsed.errors, parsed.errors
    store.apply_import(parsed.rows, actor="tests", source="test")
    store.replace_targets([
        {"indicator": "dossier_online_services_rate", "percent": 50.0, "due": "2021-12-31", "source": "KH 132"},
        {"indicator": "dossier_fully_online_rate", "percent": 20.0, "due": "2021-12-31", "source": "KH 132"},
        {"indicator": "dossier_on_time_rate", "percent": 99.0, "due": "2021-12-31", "source": "CCHC 2021"},
        {"indicator": "satisfaction_rate", "percent": 85.0, "due": "2021-12-31", "source": "KH 132"},
    ], actor="tests", source="test")


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The small registry with one user per role and their tokens, built once (scrypt is slow)."""
    path = tmp_path_factory.mktemp("dossier-template") / "registry.db"
    tokens = {}
    with open_store(path) as store:
        _build_registry(store)
        for key, user in USERS.items():
            auth.add_user(store, user.username, f"{user.username}-password", user.role, user.agencies,
                          actor="tests")
            tokens[key], _ = auth.issue_token(store, user.username, actor="tests")
    return path, tokens


@pytest.fixture
def db_path(template, tmp_path: Path) -> Path:
    """A fresh copy of the template for each test."""
    path = tmp_path / "registry.db"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture
def registry_store(store):
    """The store holding the small registry and its targets."""
    return store


@pytest.fixture
def tokens(template) -> dict[str, str]:
    return template[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def month_of_dossiers(n: int = 60) -> list[dict[str, Any]]:
    """July 2021 as a one-stop system would first sync it: every dossier received, in progress."""
    start = datetime(2021, 7, 1, 8, 0)
    out = []
    for i in range(n):
        code = REGISTERED[i % 4] if i != n - 1 else UNREGISTERED
        received = start + timedelta(days=i % 28, hours=i % 8)
        out.append({
            "MaHoSo": f"000.00.10.H26-210701-{i:04d}", "MaTTHC": code, "TenTTHC": "Thủ tục",
            "NgayTiepNhan": stamp(received), "NgayHenTra": stamp(received + timedelta(days=5)),
            "TrangThaiHoSo": "2", "KenhThucHien": "2" if i % 3 else "1",
            "DuocThanhToanTrucTuyen": "1" if i % 2 == 0 else "3",
            "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "SoTien": "50000"}] if code in ("1.000001", "1.000003") else [],
        })
    return out


def resolve(d: dict[str, Any], days: int) -> dict[str, Any]:
    received = datetime.strptime(d["NgayTiepNhan"], "%Y%m%d%H%M%S")
    finished = received + timedelta(days=days)
    return {**d, "TrangThaiHoSo": "10", "NgayKetThucXuLy": stamp(finished),
            "NgayTra": stamp(finished + timedelta(hours=2))}
