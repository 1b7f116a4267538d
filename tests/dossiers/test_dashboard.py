"""The overview's four dossier cards and the "Hồ sơ" page, on the hanoi-2021 fixture."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from registry import create_app
from registry.seeding import load_fixture
from registry.store import open_store

REPO = Path(__file__).resolve().parents[2]
FIGURES = json.loads((REPO / "fixtures" / "hanoi-2021" / "dossier_figures.json").read_text("utf-8"))
ENGLISH = re.compile(r"\b(the|and|dossiers?|period|received|late|rate|none|null|true|false)\b", re.I)


@pytest.fixture(scope="module")
def hanoi_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dash-dossiers") / "r.db"
    with open_store(path) as store:
        load_fixture(store, "hanoi-2021")
    return path


@pytest.fixture
def client(hanoi_db, tmp_path):
    path = tmp_path / "r.db"
    path.write_bytes(hanoi_db.read_bytes())
    return create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t"}).test_client()


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


def vn_percent(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def test_the_fixture_gives_the_figures_its_readme_states(client):
    report = client.get("/api/v1/dossiers/coverage?period=2021").get_json()
    got = {i["id"]: {"numerator": i["numerator"], "denominator": i["denominator"], "percent": i["percent"]}
           for i in report["indicators"] if i["id"] in FIGURES["indicators"]}
    assert got == FIGURES["indicators"]
    readme = (REPO / "fixtures" / "hanoi-2021" / "README.md").read_text("utf-8")
    for item in FIGURES["indicators"].values():
        assert f"{item['numerator']:,} / {item['denominator']:,}" in readme and f"{item['percent']}" in readme


def test_the_overview_fills_the_four_dossier_cards(client):
    html = client.get("/").get_data(as_text=True)
    for indicator, item in FIGURES["indicators"].items():
        card = html[html.index(f'id="ind-{indicator}"'):]
        card = card[:card.index("</li>")]
        assert "Chưa có số liệu" not in card
        assert vn_percent(item["percent"]) in card, indicator
        assert "Mục tiêu" in card
    assert "kỳ 2021" in html


def test_the_dossier_page_speaks_vietnamese_and_offers_every_table(client):
    resp = client.get("/ho-so?period=2021")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    text = visible_text(html)
    assert "Theo cơ quan" in text and "Thủ tục có nhiều hồ sơ quá hạn nhất" in text and "Theo tháng" in text
    assert not ENGLISH.findall(text.replace("DVCQG", "").replace("TraCuuHoSo", "")), ENGLISH.findall(text)
    for table in ("agencies", "most-late", "months", "unsynced"):
        dl = client.get(f"/ho-so?period=2021&format=csv&table={table}")
        assert dl.status_code == 200 and dl.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(dl.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[0]
    months = client.get("/ho-so?period=2021&format=json&table=months").get_json()
    assert [m["month"] for m in months] == [f"2021-{n:02d}" for n in range(1, 13)]
    assert sum(m["received"] for m in months) == FIGURES["indicators"]["dossier_fully_online_rate"]["denominator"]
    agencies = client.get("/ho-so?period=2021&format=json&table=agencies").get_json()
    assert sum(a["received"] for a in agencies) == sum(m["received"] for m in months)
    late = client.get("/ho-so?period=2021&format=json&table=most-late").get_json()
    assert late == sorted(late, key=lambda r: -r["late"]) and late[0]["late"] > 0


def test_a_bad_period_is_explained_not_a_500(client):
    resp = client.get("/ho-so?period=2021-13")
    assert resp.status_code == 200 and "Kỳ không hợp lệ" in resp.get_data(as_text=True)
    quarter = client.get("/ho-so?period=2021-Q3&format=json&table=months").get_json()
    assert [m["month"] for m in quarter] == ["2021-07", "2021-08", "2021-09"]
