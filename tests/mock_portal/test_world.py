"""World files: validation, the default world, and the shipped hanoi-2021 world, whose deliberate
discrepancies are checked by probing the mock (an independent mini-probe, not connectors)."""
from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest

from fixtures import build_world as builder
from mock_portal import create_app
from mock_portal.world import WorldError, load_world
from tests.mock_portal.helpers import UNIT, init_message, paygov_order

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
HANOI = FIXTURES / "hanoi-2021" / "procedures.jsonl"
SHIPPED = FIXTURES / "worlds" / "hanoi-2021.json"
LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"
PROC = {"code": "1.000001", "name": "Đăng ký khai sinh"}


def test_default_world():
    world = load_world(None)
    national = [json.loads(line) for line in (FIXTURES / "national-catalog.jsonl").open()]
    assert len(world.listed) == len(national) == 2642
    assert world.integrations == {} and world.broken_links == {} and world.payments == {}
    assert list(world.units) == ["000.00.00.H26"]
    assert world.adapter_users == {"hanoi": "hanoi-secret"}
    assert world.dvcqg_partners["HNI"].secret == "dvcqg-secret"
    gov = world.paygov_partners["HNI"]
    assert (gov.access_key, gov.secret_key) == ("paygov-access", "paygov-secret")
    assert world.lgsp_clients == {"tthc": "lgsp-secret"}
    assert all(unicodedata.is_normalized("NFC", p.name) for p in world.listed)
    assert len({p.id for p in world.listed}) == 2642


def test_names_are_nfc():
    decomposed = unicodedata.normalize("NFD", "Đăng ký khai sinh")
    world = load_world({"catalog": {"source": None},
                        "procedures": [{"code": "1.000001", "name": decomposed}]})
    assert world.listed[0].name == "Đăng ký khai sinh"


def test_duplicate_ids_are_made_unique():
    same = "019d2bf7-8ea6-713f-aeba-01150f99efc8"
    world = load_world({"catalog": {"source": None}, "procedures": [
        dict(PROC, id=same), {"code": "1.000002", "name": "x", "id": same}]})
    assert len(world.listed_by_id) == 2 and world.listed_by_code["1.000001"].id == same


@pytest.mark.parametrize("raw", [
    {"format": "other/9"},
    {"surprise": True},
    {"catalog": {"source": "missing.jsonl"}},
    {"catalog": {"source": None}, "procedures": [{"code": "bad code!", "name": "x"}]},
    {"catalog": {"source": None}, "procedures": [PROC], "integrations": {UNIT: {"1.000001": "1"}}},
    {"catalog": {"source": None}, "procedures": [PROC], "integrations": {UNIT: {"1.000009": "4"}}},
    {"catalog": {"source": None}, "procedures": [PROC], "broken_links": {"1.000001": "500"}},
    {"catalog": {"source": None, "exclude": ["1.000009"]}, "procedures": [PROC]},
    {"catalog": {"source": None}, "procedures": [PROC],
     "payments": {"dvcqg_payment": {"NOPE": ["1.000001"]}}},
    {"catalog": {"source": None}, "procedures": [PROC], "payments": {"cash": {}}},
])
def test_invalid_worlds_are_refused(raw):
    with pytest.raises(WorldError):
        load_world(raw)


def test_world_from_file_and_relative_source(tmp_path):
    (tmp_path / "mini.jsonl").write_text(json.dumps(PROC, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"name": "file", "catalog": {"source": "mini.jsonl"}}),
                    encoding="utf-8")
    world = load_world(path)
    assert world.name == "file" and [p.code for p in world.listed] == ["1.000001"]


def test_unknown_world_name():
    with pytest.raises(WorldError, match="hanoi-2021"):
        load_world("no-such-world")


# --- the mini-probe ------------------------------------------------------------------------
def observe(client, procedures):
    """What the mock shows for each fixture procedure, as discrepancies against the fixture."""
    listed, last = set(), ""
    for _ in range(100):
        data = client.post(LIST, json={"limit": 500, "lastId": last}).get_json()["data"]
        listed |= {i["code"] for i in data["items"]}
        last = data["lastId"]
        if not last:
            break
    session = client.post("/adapter/auth", json={"username": "hanoi",
                                                 "password": "hanoi-secret"}).get_json()["session"]
    dvc = client.post("/adapter/share", json={"session": session, "madonvi": UNIT,
                                              "service": "LayDVC"}).get_json()["result"]
    ours = {d["MATTHC"]: e["MUCDO"] for d in dvc for e in d["APDUNGDVC"]
            if e["MACOQUANTHUCHIEN"] == UNIT}
    token = client.post("/lgsp/token", data={"grant_type": "client_credentials",
                                             "client_id": "tthc", "client_secret": "lgsp-secret"}
                        ).get_json()["access_token"]
    found = {k: [] for k in builder.TARGETS}
    for n, p in enumerate(procedures):
        code, declared = p["code"], p["dvcqg_integrated"]
        if code not in listed:
            if declared:
                found["not_listed"].append(code)
        elif code not in ours:
            if declared:
                found["not_integrated"].append(code)
        else:
            page = client.get(f"/dvcqg/dich-vu-cong-truc-tuyen/{code}/nop-ho-so")
            works = page.status_code == 200 and code in page.get_data(as_text=True)
            if not declared:
                found["undeclared_integrated"].append(code)
            elif not works:
                found["link_broken"].append(code)
            elif ours[code] != str(p["service_level"]):
                found["level_mismatch"].append(code)
        dvcqg = client.post("/payment/init", json=init_message(code, f"R{n}")).get_json()["MaLoi"]
        gov = client.post("/paygov/create", json=paygov_order(code, f"O{n}"), headers={
            "Authorization": f"Bearer {token}", "lgspaccesstoken": token}).get_json()["error_code"]
        configured = {"dvcqg_payment": dvcqg == "00", "paygov": gov == "SUCCESSFUL"}
        assert dvcqg in ("00", "02") and gov in ("SUCCESSFUL", "SERVICE_NOT_CONFIGURED")
        channel = p["payment_channel"]
        if channel == "none" and any(configured.values()):
            found["undeclared_payment"].append(code)
        elif channel != "none" and not configured[channel]:
            found["payment_not_configured"].append(code)
    return {k: sorted(v) for k, v in found.items()}


def synthetic_fixture(seed, n=300):
    """A fixture in the hanoi-2021 format over real national codes, statuses drawn at random."""
    rng = random.Random(seed)
    national = [json.loads(line) for line in (FIXTURES / "national-catalog.jsonl").open()]
    rows = []
    for rec in sorted(rng.sample(national, n), key=lambda r: r["code"]):
        level = rng.choice([2, 3, 3, 4, 4])
        fee = rng.random() < 0.5
        rows.append({"code": rec["code"], "name": rec["name"], "service_level": level,
                     "has_fee": fee, "dvcqg_integrated": level >= 3 and rng.random() < 0.5,
                     "payment_channel": rng.choice(["dvcqg_payment", "paygov", "none"])
                     if fee and level >= 3 else "none"})
    return rows, {r["code"] for r in national}


@pytest.mark.parametrize("seed", [1, 2])
def test_built_world_shows_exactly_the_expected_discrepancies(seed):
    rows, codes = synthetic_fixture(seed)
    world = builder.build(rows, codes, seed=2021)
    expected = world["expected_discrepancies"]
    assert all(0 < len(v) <= builder.TARGETS[k] for k, v in expected.items())
    linkage = [c for k in ("not_listed", "not_integrated", "level_mismatch", "link_broken")
               for c in expected[k]]
    assert len(linkage) == len(set(linkage))
    client = create_app(world=world, style="legacy").test_client()
    assert observe(client, rows) == expected


def test_builder_is_deterministic(tmp_path):
    rows, codes = synthetic_fixture(3)
    a = builder.dumps(builder.build(rows, codes, seed=2021))
    assert a == builder.dumps(builder.build(list(reversed(rows)), codes, seed=2021))
    assert a != builder.dumps(builder.build(rows, codes, seed=2022))
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out = tmp_path / "w" / "hanoi.json"
    assert builder.main(["--procedures", str(src), "--out", str(out)]) == 0
    assert out.read_text("utf-8") == a
    assert "| `not_integrated` |" in (out.parent / "README.md").read_text("utf-8")


def test_builder_without_fixture_fails_clearly(tmp_path):
    assert builder.main(["--procedures", str(tmp_path / "missing.jsonl"),
                         "--out", str(tmp_path / "w.json")]) == 2


@pytest.mark.skipif(not HANOI.exists(), reason="fixtures/hanoi-2021 not generated yet")
def test_shipped_world_is_fresh():
    """The committed world is exactly what the builder makes from the committed fixture."""
    rows = builder.read_jsonl(HANOI)
    codes = {r["code"] for r in builder.read_jsonl(FIXTURES / "national-catalog.jsonl")}
    world = builder.build(rows, codes)
    assert SHIPPED.read_text("utf-8") == builder.dumps(world), \
        "run: python fixtures/build_world.py"
    assert (SHIPPED.parent / "README.md").read_text("utf-8") == builder.readme(world)


@pytest.mark.skipif(not SHIPPED.exists(), reason="world not built yet")
def test_shipped_world_shows_exactly_its_expected_discrepancies():
    rows = builder.read_jsonl(HANOI)
    world = json.loads(SHIPPED.read_text("utf-8"))
    counts = {k: len(v) for k, v in world["expected_discrepancies"].items()}
    assert counts == {"not_listed": 5, "not_integrated": 30, "level_mismatch": 24,
                      "link_broken": 20, "undeclared_integrated": 8,
                      "payment_not_configured": 24, "undeclared_payment": 6}
    client = create_app(world="hanoi-2021", style="legacy").test_client()
    assert observe(client, rows) == world["expected_discrepancies"]
