"""Method tthc-coverage/1 (registry/coverage.py): figures, targets, bases, groups, CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from registry.coverage import (CSV_COLUMNS, build_report, needed_for, percent_of,
                               report_to_csv_rows)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "hanoi-2021"
VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=VN)
AS_OF = "2021-10-01T09:00:00+07:00"

TARGETS = [
    {"indicator": "online_rate", "percent": 55, "due": "2018-12-31", "source": "KH 48/KH-UBND"},
    {"indicator": "online_rate", "percent": 100, "due": "2020-12-31", "source": "CCHC 2018"},
    {"indicator": "level4_rate", "percent": 100, "due": "2021-12-31", "source": "city 2021"},
    {"indicator": "dvcqg_integration_rate", "percent": 30, "due": "2021-12-31",
     "source": "KH 132/KH-UBND"},
    {"indicator": "sso_payment_rate", "percent": 20, "due": "2021-12-31",
     "source": "KH 132/KH-UBND"},
    {"indicator": "satisfaction_rate", "percent": 85, "due": "2021-12-31",
     "source": "KH 132/KH-UBND"},
]


def proc(code: str, level: int = 4, **fields) -> dict:
    """A canonical procedure with harmless defaults."""
    base = {"code": code, "name": f"Thủ tục {code}", "field": "Hộ tịch",
            "agency": "Sở Tư pháp", "levels": ["tinh"], "service_level": level,
            "has_fee": False, "dvcqg_integrated": False, "payment_channel": "none",
            "sso": False, "status": "active"}
    base.update(fields)
    return base


def numbered(prefix: int, count: int, start: int = 0, **fields) -> list[dict]:
    """`count` procedures with distinct valid codes `prefix.NNNNNN`."""
    return [proc(f"{prefix}.{start + i:06d}", **fields) for i in range(count)]


def indicator(report: dict, ident: str) -> dict:
    return next(item for item in report["indicators"] if item["id"] == ident)


def hanoi_like(integrated: int, online: int = 1431, offline: int = 254) -> list[dict]:
    """`online` level-4 procedures of which `integrated` are integrated, plus level-2 ones."""
    return (numbered(1, integrated, dvcqg_integrated=True)
            + numbered(1, online - integrated, start=integrated)
            + numbered(2, offline, level=2))


# --- percentages: the seeds' own figures, exact integer maths ------------------------------

@pytest.mark.parametrize("num, den, decimals, rounding, expected", [
    (444, 1431, 2, "truncate", "31.02"),   # seed 002: "444 ... đạt tỷ lệ 31,02%"
    (444, 1431, 2, "half_up", "31.03"),    # 31.0272... rounds up
    (611, 1853, 1, "truncate", "32.9"),    # seed 001: "611/1.853 ... đạt 32,9%"
    (611, 1853, 1, "half_up", "33.0"),     # 32.973... rounds up
    (611, 1853, 2, "truncate", "32.97"),
    (2, 3, 2, "truncate", "66.66"),
    (2, 3, 2, "half-up", "66.67"),
    (1, 8, 2, "half_up", "12.50"),
    (1, 200, 0, "half_up", "1"),           # 0.5 exactly goes up
    (1, 200, 0, "truncate", "0"),
    (0, 7, 2, "truncate", "0.00"),
    (7, 7, 2, "half_up", "100.00"),
])
def test_percent_of(num, den, decimals, rounding, expected):
    assert percent_of(num, den, decimals=decimals, rounding=rounding) == Decimal(expected)


def test_percent_of_empty_denominator_is_none():
    assert percent_of(0, 0) is None


@pytest.mark.parametrize("rounding, percent", [("truncate", 31.02), ("half_up", 31.03)])
def test_seed_integration_figure_through_the_report(rounding, percent):
    report = build_report(hanoi_like(444), TARGETS, rounding=rounding, as_of=AS_OF, now=NOW)
    item = indicator(report, "dvcqg_integration_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (444, 1431, percent)
    assert report["rounding"] == rounding
    assert report["totals"] == {"procedures": 1685, "online": 1431,
                                "by_level": {"1": 0, "2": 254, "3": 0, "4": 1431}}


@pytest.mark.parametrize("rounding, percent", [("truncate", 32.9), ("half_up", 33.0)])
def test_seed_online_figure_at_one_decimal(rounding, percent):
    procedures = numbered(1, 611, level=3) + numbered(2, 1853 - 611, level=2)
    report = build_report(procedures, TARGETS, rounding=rounding, decimals=1, as_of=AS_OF,
                          now=NOW)
    item = indicator(report, "online_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (611, 1853, percent)


# --- targets: met, needed, candidates -----------------------------------------------------

@pytest.mark.parametrize("integrated, met, needed", [
    (400, False, 30),   # 30% of 1,431 = 429.3 -> 430 procedures
    (429, False, 1),    # 429/1431 = 29.979...% -> 29.97
    (430, True, 0),     # 430/1431 = 30.048...% -> 30.04
    (444, True, 0),
])
def test_needed_is_exact(integrated, met, needed):
    report = build_report(hanoi_like(integrated), TARGETS, as_of=AS_OF, now=NOW)
    item = indicator(report, "dvcqg_integration_rate")
    assert item["target"] == {"percent": 30.0, "due": "2021-12-31", "source": "KH 132/KH-UBND",
                              "note": None}
    assert (item["met"], item["needed"]) == (met, needed)


@pytest.mark.parametrize("num, den, target, decimals, rounding, needed", [
    (400, 1431, 30, 2, "truncate", 30),
    (595, 2000, 30, 0, "truncate", 5),      # 29.75 -> 29: five more reach exactly 30
    (595, 2000, 30, 0, "half_up", 0),       # 29.75 -> 30: already reported as met
    (589, 2000, 30, 0, "half_up", 1),       # 29.45 -> 29; 590 -> 29.5 -> 30
    (0, 3, "33.34", 2, "truncate", 2),      # 1/3 = 33.33 is short; 2/3 reaches it
    (0, 3, "33.33", 2, "truncate", 1),
    (0, 1853, 100, 2, "truncate", 1853),
    (10, 10, 100, 2, "truncate", 0),
    (5, 0, 30, 2, "truncate", None),
])
def test_needed_for(num, den, target, decimals, rounding, needed):
    assert needed_for(num, den, target, decimals=decimals, rounding=rounding) == needed


def test_met_follows_the_reported_percent_under_half_up():
    procedures = numbered(1, 595, level=4, dvcqg_integrated=True) + numbered(2, 1405, level=4)
    report = build_report(procedures, TARGETS, rounding="half_up", decimals=0, as_of=AS_OF,
                          now=NOW)
    item = indicator(report, "dvcqg_integration_rate")
    assert (item["percent"], item["met"], item["needed"]) == (30.0, True, 0)
    assert item["candidates"] == [] and item["candidates_total"] == 0


def test_candidates_rank_level_4_first_then_code_and_are_capped():
    procedures = ([proc("1.000001", 4, dvcqg_integrated=True)]
                  + [proc("1.000009", 3), proc("1.000002", 3), proc("1.000008", 4),
                     proc("1.000003", 4), proc("1.000004", 2)])
    report = build_report(procedures, TARGETS, as_of=AS_OF, now=NOW, candidates_limit=3)
    item = indicator(report, "dvcqg_integration_rate")
    # 1 of 5 online; 30% of 5 = 1.5 -> 2 needed in total, 1 more.
    assert (item["numerator"], item["denominator"], item["needed"]) == (1, 5, 1)
    assert item["candidates"] == ["1.000003", "1.000008", "1.000002"]
    assert item["candidates_total"] == 4
    online = indicator(report, "online_rate")
    assert online["candidates"] == ["1.000004"]


def test_sso_payment_candidates_prefer_those_missing_one_thing():
    procedures = [
        proc("1.000001", 4, sso=True, has_fee=True, payment_channel="paygov"),
        proc("1.000002", 4),                                   # needs SSO and payment
        proc("1.000003", 3, sso=True),                         # needs payment only
        proc("1.000004", 4, has_fee=True, payment_channel="dvcqg_payment"),  # needs SSO
        proc("1.000005", 4), proc("1.000006", 4), proc("1.000007", 4), proc("1.000008", 4),
    ]
    report = build_report(procedures, TARGETS, as_of=AS_OF, now=NOW)
    item = indicator(report, "sso_payment_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (1, 8, 12.5)
    assert item["needed"] == 1   # 20% of 8 = 1.6 -> 2
    assert item["candidates"][:2] == ["1.000004", "1.000003"]
    assert item["candidates_total"] == 7


def test_online_payment_rate_counts_fee_bearing_procedures():
    procedures = [proc("1.000001", 4, has_fee=True, payment_channel="paygov"),
                  proc("1.000002", 3, has_fee=True, payment_channel="dvcqg_payment"),
                  proc("1.000003", 4, has_fee=True),
                  proc("1.000004", 2, has_fee=True),
                  proc("1.000005", 4, payment_channel="none")]
    item = indicator(build_report(procedures, TARGETS, as_of=AS_OF, now=NOW),
                     "online_payment_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (2, 4, 50.0)
    assert item["target"] is None and item["met"] is None and item["needed"] is None


def test_retired_procedures_are_excluded():
    procedures = (numbered(1, 3, dvcqg_integrated=True)
                  + numbered(1, 2, start=3, status="retired", dvcqg_integrated=True)
                  + numbered(2, 1, level=2, status="retired") + numbered(3, 1, level=3))
    report = build_report(procedures, TARGETS, as_of=AS_OF, now=NOW)
    assert report["totals"] == {"procedures": 4, "online": 4,
                                "by_level": {"1": 0, "2": 0, "3": 1, "4": 3}}
    item = indicator(report, "dvcqg_integration_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (3, 4, 75.0)


@pytest.mark.parametrize("ident", ["dossier_online_services_rate", "dossier_fully_online_rate",
                                   "dossier_on_time_rate", "satisfaction_rate"])
def test_dossier_indicators_are_unavailable_but_keep_targets(ident):
    item = indicator(build_report(hanoi_like(10), TARGETS, as_of=AS_OF, now=NOW), ident)
    assert item["available"] is False
    assert (item["numerator"], item["denominator"], item["percent"]) == (None, None, None)
    if ident == "satisfaction_rate":
        assert item["target"]["percent"] == 85.0 and item["target"]["due"] == "2021-12-31"
    else:
        assert item["target"] is None


@pytest.mark.parametrize("as_of, percent, due", [
    ("2018-06-01T00:00:00+07:00", 55.0, "2018-12-31"),
    ("2018-12-31T23:00:00+07:00", 55.0, "2018-12-31"),   # due on the day still in force
    ("2018-12-31T20:00:00+00:00", 100.0, "2020-12-31"),  # already 1 January 2019 in Hà Nội
    ("2019-06-01", 100.0, "2020-12-31"),
    (datetime(2018, 3, 26, 8, 0), 55.0, "2018-12-31"),         # naive: Hà Nội time
    ("2021-10-01T09:00:00+07:00", 100.0, "2020-12-31"),  # none ahead: the latest one
])
def test_target_in_force_depends_on_as_of(as_of, percent, due):
    report = build_report(hanoi_like(10), TARGETS, as_of=as_of, now=NOW)
    target = indicator(report, "online_rate")["target"]
    assert (target["percent"], target["due"]) == (percent, due)


# --- verified basis ------------------------------------------------------------------------

def evidence(verdict: str | None, age: timedelta | None) -> dict:
    return {"verdict": verdict,
            "checked_at": None if age is None else (NOW - age).isoformat()}


FRESH, STALE = timedelta(hours=3), timedelta(days=8)


def verified_world() -> list[dict]:
    return [
        # declared integrated, confirmed by a fresh probe
        proc("1.000001", 4, dvcqg_integrated=True, linkage=evidence("integrated", FRESH)),
        # declared integrated, only stale evidence
        proc("1.000002", 4, dvcqg_integrated=True, linkage=evidence("integrated", STALE)),
        # declared integrated, probe could not tell
        proc("1.000003", 3, dvcqg_integrated=True, linkage=evidence("unknown", FRESH)),
        # declared integrated, probe says no
        proc("1.000004", 3, dvcqg_integrated=True, linkage=evidence("not_integrated", FRESH)),
        # not declared, but the portal shows it integrated
        proc("1.000005", 3, linkage=evidence("integrated", timedelta(days=6))),
        # declared integrated, never probed
        proc("1.000006", 4, dvcqg_integrated=True),
        # fee-bearing with online payment, fresh and stale payment evidence
        proc("1.000007", 4, has_fee=True, sso=True, payment_channel="paygov",
             payment=evidence("payment_ready", FRESH)),
        proc("1.000008", 4, has_fee=True, sso=True, payment_channel="dvcqg_payment",
             payment=evidence("payment_ready", STALE)),
        proc("1.000009", 2, has_fee=True),
        proc("1.000010", 4, status="retired", dvcqg_integrated=True,
             linkage=evidence("integrated", timedelta(days=30))),
    ]


@pytest.mark.parametrize("basis, ident, numerator, denominator, claimed", [
    ("declared", "dvcqg_integration_rate", 5, 8, None),
    ("verified", "dvcqg_integration_rate", 2, 8, 4),
    ("declared", "online_payment_rate", 2, 3, None),
    ("verified", "online_payment_rate", 1, 3, 1),
    ("declared", "sso_payment_rate", 2, 8, None),
    ("verified", "sso_payment_rate", 1, 8, 1),
    ("verified", "online_rate", 8, 9, 0),   # service levels stay declared
])
def test_verified_basis_counts_only_fresh_confirmations(basis, ident, numerator, denominator,
                                                        claimed):
    report = build_report(verified_world(), TARGETS, basis=basis, as_of=AS_OF, now=NOW)
    item = indicator(report, ident)
    assert report["basis"] == basis
    assert (item["numerator"], item["denominator"]) == (numerator, denominator)
    assert item.get("claimed_unconfirmed") == claimed


def test_verified_candidates_put_claimed_unconfirmed_first():
    report = build_report(verified_world(), TARGETS, basis="verified", as_of=AS_OF, now=NOW)
    item = indicator(report, "dvcqg_integration_rate")
    assert item["needed"] == 1   # 30% of 8 = 2.4 -> 3, two verified
    assert item["candidates"][:4] == ["1.000002", "1.000006", "1.000003", "1.000004"]


@pytest.mark.parametrize("staleness, verified_integrations", [
    (timedelta(days=7), 2), (timedelta(days=9), 3), (timedelta(hours=1), 0)])
def test_staleness_window_is_a_parameter(staleness, verified_integrations):
    report = build_report(verified_world(), TARGETS, basis="verified", as_of=AS_OF, now=NOW,
                          staleness=staleness)
    assert indicator(report, "dvcqg_integration_rate")["numerator"] == verified_integrations


def test_freshness_reports_oldest_evidence_and_unverified():
    report = build_report(verified_world(), TARGETS, basis="verified", as_of=AS_OF, now=NOW)
    # The retired procedure's 30-day-old evidence is not considered; "unknown" is no verdict.
    assert report["freshness"] == {"oldest_evidence": (NOW - STALE).isoformat(),
                                   "unverified": 5}   # 1.000002, 3, 6, 7, 8


def test_freshness_without_any_evidence():
    report = build_report(hanoi_like(3, online=5, offline=2), TARGETS, as_of=AS_OF, now=NOW)
    assert report["freshness"] == {"oldest_evidence": None, "unverified": 5}


# --- groups --------------------------------------------------------------------------------

def grouped_world() -> list[dict]:
    return [
        proc("1.000001", 4, agency="Sở Tư pháp", field="Hộ tịch", levels=["tinh", "xa"],
             dvcqg_integrated=True),
        proc("1.000002", 3, agency="Sở Tư pháp", field="Chứng thực", levels=["xa"]),
        proc("1.000003", 2, agency="Sở Xây dựng", field="Nhà ở", levels=["tinh"]),
        proc("1.000004", 4, agency="Công an tỉnh", field="Hộ tịch", levels=["huyen"],
             dvcqg_integrated=True),
    ]


@pytest.mark.parametrize("key, expected", [
    ("agency", {"Công an tỉnh": (1, 1, 1), "Sở Tư pháp": (2, 2, 1), "Sở Xây dựng": (1, 0, 0)}),
    ("field", {"Chứng thực": (1, 1, 0), "Hộ tịch": (2, 2, 2), "Nhà ở": (1, 0, 0)}),
    ("level", {"huyen": (1, 1, 1), "tinh": (2, 1, 1), "xa": (2, 2, 1)}),
])
def test_groups(key, expected):
    report = build_report(grouped_world(), TARGETS, group_by=[key], as_of=AS_OF, now=NOW)
    entries = report["groups"][key]
    assert [entry["key"] for entry in entries] == sorted(expected)
    for entry in entries:
        item = indicator(entry, "dvcqg_integration_rate")
        procedures, online, integrated = expected[entry["key"]]
        assert (entry["totals"]["procedures"], entry["totals"]["online"]) == (procedures, online)
        assert item["numerator"] == integrated
        assert "candidates" not in item and "candidates_total" not in item
    assert list(report["groups"]) == [key]


@pytest.mark.parametrize("levels", [["tinh", "xa"], ("tinh", "xa"), '["tinh", "xa"]', "tinh, xa"])
def test_levels_as_stored_text_or_list(levels):
    report = build_report([proc("1.000001", levels=levels)], TARGETS, group_by=["level"],
                          as_of=AS_OF, now=NOW)
    assert [entry["key"] for entry in report["groups"]["level"]] == ["tinh", "xa"]


def test_no_groups_unless_asked():
    assert build_report(grouped_world(), TARGETS, as_of=AS_OF, now=NOW)["groups"] == {}


# --- shape, inputs, CSV --------------------------------------------------------------------

def test_report_shape_and_defaults():
    unit = {"code": "000.00.00.H26", "name": "UBND thành phố Hà Nội"}
    report = build_report(grouped_world(), TARGETS, unit=unit)
    assert list(report) == ["method", "as_of", "basis", "unit", "rounding", "totals",
                            "indicators", "groups", "freshness"]
    assert report["method"] == "tthc-coverage/1"
    assert report["unit"] == unit and report["basis"] == "declared"
    assert datetime.fromisoformat(report["as_of"]).utcoffset() == timedelta(hours=7)
    assert [item["id"] for item in report["indicators"]] == [
        "online_rate", "level4_rate", "dvcqg_integration_rate", "sso_payment_rate",
        "online_payment_rate", "dossier_online_services_rate", "dossier_fully_online_rate",
        "dossier_on_time_rate", "satisfaction_rate"]
    json.dumps(report)  # serialisable as is


@pytest.mark.parametrize("kwargs, message", [
    ({"basis": "claimed"}, "basis"),
    ({"rounding": "banker"}, "rounding"),
    ({"group_by": ["ministry"]}, "group"),
    ({"decimals": -1}, "decimals"),
])
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_report(grouped_world(), TARGETS, **kwargs)


def test_csv_rows():
    report = build_report(grouped_world(), TARGETS, group_by=["agency"], as_of=AS_OF, now=NOW)
    rows = report_to_csv_rows(report)
    assert len(rows) == 9 + 3 * 9
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    total = next(r for r in parsed if r["scope"] == "total"
                 and r["indicator"] == "dvcqg_integration_rate")
    assert total == {"scope": "total", "group": "", "key": "",
                     "indicator": "dvcqg_integration_rate", "numerator": "2",
                     "denominator": "3", "percent": "66.66", "target_percent": "30.0",
                     "due": "2021-12-31", "source": "KH 132/KH-UBND", "met": "true",
                     "needed": "0"}
    group = next(r for r in parsed if r["key"] == "Sở Xây dựng" and r["indicator"] == "online_rate")
    assert (group["scope"], group["group"], group["percent"], group["met"], group["needed"]) == (
        "group", "agency", "0.0", "false", "1")
    satisfaction = next(r for r in parsed if r["scope"] == "total"
                        and r["indicator"] == "satisfaction_rate")
    assert (satisfaction["percent"], satisfaction["target_percent"]) == ("", "85.0")


# --- the real fixture ----------------------------------------------------------------------

def test_report_over_the_hanoi_fixture():
    with (FIXTURE / "procedures.jsonl").open(encoding="utf-8") as fh:
        procedures = [json.loads(line) for line in fh]
    targets = json.loads((FIXTURE / "targets.json").read_text(encoding="utf-8"))
    report = build_report(procedures, targets, as_of="2021-10-01T00:00:00+07:00", now=NOW,
                          group_by=["level"])
    assert report["totals"] == {"procedures": 1685, "online": 1431,
                                "by_level": {"1": 0, "2": 254, "3": 700, "4": 731}}
    item = indicator(report, "dvcqg_integration_rate")
    assert (item["numerator"], item["denominator"], item["percent"]) == (444, 1431, 31.02)
    assert (item["met"], item["needed"], item["target"]["percent"]) == (True, 0, 30.0)
    assert indicator(report, "level4_rate")["needed"] == 1685 - 731
    assert {entry["key"] for entry in report["groups"]["level"]} <= {
        "bo", "tinh", "huyen", "xa", "khac"}


@pytest.mark.parametrize("basis", ["verified", "declared"])
def test_a_verdict_marked_stale_by_a_later_unknown_is_unverified(basis):
    # Issue 12 item 7: young but marked stale (a later probe got no answer) is not confirmed.
    rows = verified_world()
    rows[0]["linkage"] = {**rows[0]["linkage"], "stale": True}        # 1.000001, 3 hours old
    rows[6]["payment"] = {**rows[6]["payment"], "stale": True}        # 1.000007
    report = build_report(rows, TARGETS, basis=basis, as_of=AS_OF, now=NOW)
    if basis == "verified":
        assert indicator(report, "dvcqg_integration_rate")["numerator"] == 1   # only 1.000005
        assert indicator(report, "online_payment_rate")["numerator"] == 0
    assert report["freshness"]["unverified"] == 6   # 1.000001 joins 2, 3, 6, 7, 8
