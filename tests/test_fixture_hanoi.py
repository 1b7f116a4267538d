"""The hanoi-2021 fixture: deterministic, fresh, and reproducing the seeds' figures."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from fixtures.build_hanoi import fee_class, split_agencies

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "hanoi-2021"
CATALOG = ROOT / "fixtures" / "national-catalog.jsonl"
FILES = ("procedures.jsonl", "targets.json", "unit.json", "README.md")
CODE = re.compile(r"^\d\.\d{6}(\.[0-9A-Z]+)?$")
KEYS = ["code", "name", "field", "agency", "agencies", "issuing_agency", "levels",
        "service_level", "has_fee", "dvcqg_integrated", "payment_channel", "sso", "status"]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    """The generator run afresh, as the README says, into a temporary directory."""
    out = tmp_path_factory.mktemp("hanoi-2021")
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "build_hanoi.py"), "--out", str(out)],
                   check=True, cwd=ROOT, timeout=120, capture_output=True)
    return out


@pytest.fixture(scope="module")
def procedures() -> list[dict]:
    return read_jsonl(FIXTURE / "procedures.jsonl")


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict]:
    return {row["code"]: row for row in read_jsonl(CATALOG)}


@pytest.mark.parametrize("name", FILES)
def test_committed_files_match_a_fresh_build(rebuilt, name):
    assert (rebuilt / name).read_bytes() == (FIXTURE / name).read_bytes(), (
        f"fixtures/hanoi-2021/{name} is stale: run python fixtures/build_hanoi.py")


def test_counts_reproduce_the_seeds(procedures):
    levels = Counter(p["service_level"] for p in procedures)
    online = [p for p in procedures if p["service_level"] in (3, 4)]
    integrated = [p for p in procedures if p["dvcqg_integrated"]]
    assert len(procedures) == 1685
    assert {level: levels[level] for level in (1, 2, 3, 4)} == {1: 0, 2: 254, 3: 700, 4: 731}
    assert len(online) == 1431
    assert len(integrated) == 444
    assert all(p["service_level"] in (3, 4) for p in integrated)
    assert 444 * 10000 // 1431 == 3102  # 31.02% truncated, as the seed reports it


def test_codes_are_unique_and_valid(procedures):
    codes = [p["code"] for p in procedures]
    assert len(set(codes)) == len(codes)
    assert [c for c in codes if not CODE.match(c)] == []


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def clean_text(s: str) -> bool:
    return (bool(s) and s == unicodedata.normalize("NFC", s) and s == s.strip()
            and not re.search(r"\s{2,}|[\n\t\xa0]", s))


def test_text_is_nfc_trimmed_and_collapsed(procedures):
    bad = [(p["code"], s) for p in procedures for v in p.values() for s in strings(v)
           if not clean_text(s)]
    assert bad == []


def test_record_shape(procedures):
    assert all(list(p) == KEYS for p in procedures)
    assert {p["status"] for p in procedures} == {"active"}
    assert {p["payment_channel"] for p in procedures} == {"none", "dvcqg_payment", "paygov"}
    order = ["bo", "tinh", "huyen", "xa", "khac"]
    for p in procedures:
        assert p["agency"] == p["agencies"][0]
        assert len(set(p["agencies"])) == len(p["agencies"])
        assert p["levels"] and p["levels"] == sorted(p["levels"], key=order.index)
        assert isinstance(p["has_fee"], bool) and isinstance(p["sso"], bool)
        assert p["issuing_agency"]


def test_payment_and_sso_only_where_they_make_sense(procedures):
    paying = [p for p in procedures if p["payment_channel"] != "none"]
    assert paying and all(p["has_fee"] and p["service_level"] >= 3 for p in paying)
    # The DVCQG payment platform is reached through DVCQG integration.
    assert all(p["dvcqg_integrated"] for p in paying if p["payment_channel"] == "dvcqg_payment")
    assert all(p["service_level"] >= 3 for p in procedures if p["sso"])


def test_plausible_shares(procedures):
    online = [p for p in procedures if p["service_level"] >= 3]
    fee = [p for p in procedures if p["has_fee"]]
    huyen = [p for p in procedures if "huyen" in p["levels"]]
    assert 0.15 < len(fee) / len(procedures) < 0.5
    assert 0.05 < len(huyen) / len(procedures) < 0.3
    assert 0.3 < sum(p["sso"] for p in online) / len(online) < 0.8
    assert 0.2 < sum(p["payment_channel"] != "none" for p in fee) / len(fee) < 0.7


def test_procedures_are_real_catalogue_ones(procedures, catalog):
    local = {c for c, row in catalog.items() if {"tinh", "xa"} & set(row["levels"])}
    assert len(local) == 1601
    codes = [p["code"] for p in procedures]
    # Every provincial/commune procedure, and they come first.
    assert set(codes[:len(local)]) == local
    for p in procedures:
        row = catalog[p["code"]]
        name = " ".join(unicodedata.normalize("NFC", row["name"]).split())
        assert p["name"] == name
        assert set(p["levels"]) - {"huyen"} == set(row["levels"])


@pytest.mark.parametrize("code, agencies", [
    ("1.001521", ["Bảo hiểm xã hội cấp Tỉnh", "Bảo hiểm xã hội cấp huyện"]),
    ("1.000016", ["Sở Tài chính các tỉnh, thành phố"]),
])
def test_agencies_split_from_the_catalogue(procedures, code, agencies):
    assert next(p for p in procedures if p["code"] == code)["agencies"] == agencies


@pytest.mark.parametrize("text, expected", [
    ("Cục cảnh sát quản lý hành chính về trật tự, xã hội, Công an tỉnh",
     ["Cục cảnh sát quản lý hành chính về trật tự, xã hội", "Công an tỉnh"]),
    ("Thuế tỉnh, thành phố, Thuế cơ sở", ["Thuế tỉnh, thành phố", "Thuế cơ sở"]),
    ("Ủy ban Nhân dân\xa0xã,\xa0phường,\xa0thị trấn.", ["Ủy ban Nhân dân xã, phường, thị trấn"]),
    ("Cục Đo đạc, Bản đồ và Thông tin địa lý VN- Bộ NN và MT",
     ["Cục Đo đạc, Bản đồ và Thông tin địa lý VN- Bộ NN và MT"]),
    ("Ngân hàng Nhà nước Việt Nam, Ngân hàng Nhà nước Khu vực",
     ["Ngân hàng Nhà nước Việt Nam", "Ngân hàng Nhà nước Khu vực"]),
    ("Sở Tư pháp;  Sở Tư pháp", ["Sở Tư pháp"]),
    ("Không có thông tin", []),
    ("", []),
    ("chứng thực tiến hành chụp từ bản chính:\n\n* Ghi đầy đủ lời chứng", []),
    ("Ủy ban nhân dân cấp xa\u0301", ["Ủy ban nhân dân cấp xá"]),   # decomposed -> NFC
])
def test_split_agencies(text, expected):
    assert split_agencies(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến15 Ngày làm việc800,000 Việt Nam Đồng",
     "amount"),
    ("Trực tiếpKhông có thông tin20,000 VNĐTrực tiếp", "amount"),
    ("Trực tuyến5Miễn phí(Mức lệ phí cụ thể do Hội đồng nhân dân tỉnh quyết định.)", "hint"),
    ("Trực tuyến3 Ngày làm việcMiễn phíDịch vụ bưu chính3 Ngày làm việcMiễn phí", "free"),
    ("Trực tuyến0 Việt Nam ĐồngMiễn phí", "free"),
    ("Trực tiếp60 Ngày làm việcKhông có thông tin", "unknown"),
])
def test_fee_class(text, expected):
    assert fee_class(text) == expected


def test_targets_are_the_design_table():
    targets = json.loads((FIXTURE / "targets.json").read_text(encoding="utf-8"))
    assert all(list(t) == ["indicator", "percent", "due", "source", "note"] for t in targets)
    assert [(t["indicator"], t["percent"], t["due"]) for t in targets] == [
        ("online_rate", 55, "2018-12-31"),
        ("online_rate", 100, "2020-12-31"),
        ("level4_rate", 100, "2021-12-31"),
        ("dvcqg_integration_rate", 30, "2021-12-31"),
        ("sso_payment_rate", 20, "2021-12-31"),
        ("dossier_online_services_rate", 50, "2021-12-31"),
        ("dossier_fully_online_rate", 20, "2021-12-31"),
        ("dossier_on_time_rate", 99, "2021-12-31"),
        ("satisfaction_rate", 85, "2021-12-31"),
    ]
    sources = {t["indicator"]: t["source"] for t in targets}
    assert "KH 132/KH-UBND" in sources["dvcqg_integration_rate"]
    assert "KH 48/KH-UBND" in targets[0]["source"]


def test_unit():
    assert json.loads((FIXTURE / "unit.json").read_text(encoding="utf-8")) == {
        "code": "000.00.00.H26", "name": "UBND thành phố Hà Nội"}


def readme_row(label: str) -> list[str]:
    text = (FIXTURE / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return re.findall(r"\d[\d,]*", line.split("|")[2])


def test_readme_counts_match_the_data(procedures):
    channels = Counter(p["payment_channel"] for p in procedures)
    levels = Counter(level for p in procedures for level in p["levels"])
    fee = [p for p in procedures if p["has_fee"]]
    as_int = lambda values: [int(v.replace(",", "")) for v in values]  # noqa: E731
    assert as_int(readme_row("procedures")) == [len(procedures)]
    assert as_int(readme_row("payment_channel none / dvcqg_payment / paygov")) == [
        channels["none"], channels["dvcqg_payment"], channels["paygov"]]
    assert as_int(readme_row("levels bo / tinh / huyen / xa / khac")) == [
        levels[k] for k in ("bo", "tinh", "huyen", "xa", "khac")]
    assert as_int(readme_row("fee-bearing (of which online)")) == [
        len(fee), sum(p["service_level"] >= 3 for p in fee)]
    assert as_int(readme_row("sso")) == [sum(p["sso"] for p in procedures)]
