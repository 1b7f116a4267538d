"""The engine's own rules, on small data: what gets probed, how channels combine, what is a
discrepancy, how evidence reads, and edge cases against a scripted portal (pytest-httpserver)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors import Verdict
from registry import probing
from registry.evidence import evidence_view
from registry.importer import parse
from registry.probing.runner import combine, trips_breaker
from registry.store import open_store

from .conftest import make_app

VN = timezone(timedelta(hours=7))
LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"


def proc(code: str, **fields: Any) -> dict[str, Any]:
    base = {"code": code, "name": f"Thủ tục {code}", "agency": "Sở Tư pháp", "service_level": 3,
            "has_fee": False, "dvcqg_integrated": False, "payment_channel": "none", "status": "active"}
    return {**base, **fields}


def small_db(path: Path, procedures: list[dict[str, Any]]) -> Path:
    lines = "".join(json.dumps({k: v for k, v in p.items() if k != "status"}, ensure_ascii=False) + "\n"
                    for p in procedures)
    parsed = parse(lines.encode("utf-8"), "few.jsonl")
    assert not parsed.errors
    with open_store(path) as store:
        store.apply_import(parsed.rows, actor="test", source="test")
    return path


# -- planning ------------------------------------------------------------------------
@pytest.mark.parametrize("fields, channels", [
    ({"has_fee": False, "payment_channel": "none"}, ()),
    ({"has_fee": True, "payment_channel": "dvcqg_payment"}, ("dvcqg_payment",)),
    ({"has_fee": True, "payment_channel": "paygov"}, ("paygov",)),
    ({"has_fee": True, "payment_channel": "none"}, ("dvcqg_payment", "paygov")),
])
def test_payment_is_probed_on_the_declared_channel_or_every_one(fields, channels):
    items = probing.plan_items([proc("1.000001", **fields)], "payment")
    assert [i.channels for i in items] == ([channels] if channels else [])


@pytest.mark.parametrize("kind, expected", [
    ("linkage", [("1.000001", "linkage"), ("1.000002", "linkage")]),
    ("payment", [("1.000002", "payment")]),
    ("all", [("1.000001", "linkage"), ("1.000002", "linkage"), ("1.000002", "payment")]),
])
def test_items_cover_active_procedures_per_kind(kind, expected):
    procedures = [proc("1.000002", has_fee=True, payment_channel="paygov", service_level=4),
                  proc("1.000001"), proc("1.000003", status="retired")]
    items = probing.plan_items(procedures, kind)
    assert [i.key for i in items] == expected
    if kind != "payment":
        assert {i.level for i in items if i.dimension == "linkage"} == {3, 4}


def test_finished_items_are_left_out():
    items = probing.plan_items([proc("1.000001", has_fee=True)], "all", {("1.000001", "linkage")})
    assert [i.key for i in items] == [("1.000001", "payment")]


def test_a_selection_of_unknown_or_retired_codes_is_refused():
    from registry.probing.plan import check_selection
    with pytest.raises(probing.SelectionError) as err:
        check_selection(["1.000001", "1.000002", "1.000009"],
                        [proc("1.000001"), proc("1.000002", status="retired")])
    assert err.value.codes == ["1.000009", "1.000002"]
    with pytest.raises(probing.SelectionError):
        probing.plan_items([proc("1.000001")], "everything")


# -- combining channels ---------------------------------------------------------------
def verdict(value: str, channel: str = "dvcqg_payment", cause: str | None = None) -> Verdict:
    return Verdict(kind="payment", code="1.000001", verdict=value, reason=value, checked_at="2026-11-22T10:00:00+07:00",
                   elapsed_ms=10.0, cause=cause, channel=channel)


@pytest.mark.parametrize("first, second, chosen", [
    ("payment_not_configured", "payment_ready", ("payment_ready", "paygov")),
    ("payment_not_configured", "payment_not_configured", ("payment_not_configured", "dvcqg_payment")),
    ("payment_rejected", "unknown", ("unknown", "paygov")),
    ("unknown", "payment_not_configured", ("unknown", "dvcqg_payment")),
])
def test_channels_tried_in_turn_make_one_verdict(first, second, chosen):
    v = combine([verdict(first), verdict(second, "paygov")])
    assert (v.verdict, v.channel) == chosen
    assert [t["channel"] for t in v.details["channels_tried"]] == ["dvcqg_payment", "paygov"]
    assert v.elapsed_ms == 20.0


@pytest.mark.parametrize("value, cause, trips", [
    ("unknown", "unavailable", True), ("unknown", "auth_failed", True), ("unknown", "unexpected", False),
    ("unknown", "refused", False), ("not_integrated", None, False)])
def test_breaker_opens_on_unavailable_or_refused_credentials(value, cause, trips):
    assert trips_breaker(verdict(value, cause=cause)) is trips


# -- discrepancies ------------------------------------------------------------------------
def ev(value: str, **details: Any) -> dict[str, Any]:
    return {"verdict": value, "checked_at": "2026-11-22T10:00:00+07:00", "stale": False, "details": details}


@pytest.mark.parametrize("fields, evidence, rows", [
    ({"dvcqg_integrated": True}, {"linkage": ev("not_integrated")},
     [("not_integrated", "integrated", "not_integrated")]),
    ({"dvcqg_integrated": True}, {"linkage": ev("not_listed")}, [("not_listed", "integrated", "not_listed")]),
    ({"dvcqg_integrated": True}, {"linkage": ev("integrated", portal_level=3)}, []),
    ({"dvcqg_integrated": True, "service_level": 4}, {"linkage": ev("integrated", portal_level=3)},
     [("level_mismatch", "4", "3")]),
    ({"dvcqg_integrated": True}, {"linkage": ev("link_broken", portal_level=3)},
     [("link_broken", "integrated", "link_broken")]),
    ({"dvcqg_integrated": False}, {"linkage": ev("integrated", portal_level=3)},
     [("undeclared_integrated", "not_integrated", "integrated")]),
    ({"dvcqg_integrated": False}, {"linkage": ev("not_integrated")}, []),
    ({"dvcqg_integrated": True}, {"linkage": ev("unknown")}, []),
    ({"dvcqg_integrated": True}, {}, []),
    ({"payment_channel": "paygov", "has_fee": True}, {"payment": ev("payment_not_configured")},
     [("payment_not_configured", "paygov", "payment_not_configured")]),
    ({"payment_channel": "dvcqg_payment", "has_fee": True}, {"payment": ev("payment_rejected")},
     [("payment_rejected", "dvcqg_payment", "payment_rejected")]),
    ({"payment_channel": "dvcqg_payment", "has_fee": True}, {"payment": ev("invalid_signature")},
     [("payment_invalid_signature", "dvcqg_payment", "invalid_signature")]),
    ({"payment_channel": "none", "has_fee": True}, {"payment": ev("payment_ready", channel="paygov")},
     [("undeclared_payment", "none", "paygov")]),
    ({"payment_channel": "none", "has_fee": True}, {"payment": ev("payment_not_configured")}, []),
    ({"payment_channel": "paygov", "has_fee": True}, {"payment": ev("payment_ready", channel="paygov")}, []),
    ({"dvcqg_integrated": True, "status": "retired"}, {"linkage": ev("not_listed")}, []),
])
def test_discrepancy_rules(fields, evidence, rows):
    found = probing.find_discrepancies([proc("1.000001", **fields)], {"1.000001": evidence})
    assert [(r["kind"], r["declared"], r["observed"]) for r in found] == rows
    for r in found:
        assert (r["code"], r["agency"], r["checked_at"]) == ("1.000001", "Sở Tư pháp", "2026-11-22T10:00:00+07:00")


def test_discrepancy_csv_has_the_documented_columns():
    rows = probing.find_discrepancies([proc("1.000001", dvcqg_integrated=True, name='Tên, "có" dấu')],
                                      {"1.000001": {"linkage": ev("not_listed")}})
    text = probing.to_csv(rows)
    assert text.splitlines()[0] == "code,name,agency,kind,declared,observed,checked_at"
    assert text.splitlines()[1] == ('1.000001,"Tên, ""có"" dấu",Sở Tư pháp,not_listed,integrated,not_listed,'
                                    "2026-11-22T10:00:00+07:00")


# -- evidence in the procedure body -----------------------------------------------------
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=VN)


@pytest.mark.parametrize("stored, staleness_days, expected", [
    ({}, 7, {"verdict": None, "checked_at": None, "stale": False}),
    ({"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": False}, 7,
     {"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": False}),
    ({"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": True}, 7,
     {"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": True}),
    ({"verdict": "integrated", "checked_at": "2026-11-15T12:00:00+07:00", "stale": False}, 7,
     {"verdict": "integrated", "checked_at": "2026-11-15T12:00:00+07:00", "stale": True}),
    ({"verdict": "integrated", "checked_at": "2026-11-15T12:00:01+07:00", "stale": False}, 7,
     {"verdict": "integrated", "checked_at": "2026-11-15T12:00:01+07:00", "stale": False}),
    ({"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": False}, 0.05,
     {"verdict": "integrated", "checked_at": "2026-11-22T10:00:00+07:00", "stale": True}),
])
def test_evidence_view(stored, staleness_days, expected):
    view = evidence_view({"linkage": {**stored, "details": {}}} if stored else {},
                         {"STALENESS_DAYS": staleness_days}, NOW)
    assert view["linkage"] == expected
    assert view["payment"] == {"verdict": None, "checked_at": None, "stale": False}


# -- against a scripted portal -------------------------------------------------------
def _catalogue(request: Request) -> Response:
    # Lists whatever code is asked for; the whole walk (empty q) lists 1.000001 to 1.000040.
    q = request.get_json()["q"]
    codes = [q] if q else [f"1.00{n:04d}" for n in range(1, 41)]
    items = [{"id": f"00000000-0000-0000-0000-{n:012d}", "code": code, "name": code, "type": "STANDARD",
              "categories": [], "departments": []} for n, code in enumerate(codes, 1)]
    return Response(json.dumps({"code": "OK", "message": "", "data": {"items": items, "lastId": ""}}),
                    content_type="application/json")


def test_refused_credentials_stop_the_sweep_as_failed(httpserver: HTTPServer, tmp_path: Path):
    codes = [f"1.00{n:04d}" for n in range(1, 41)]
    db = small_db(tmp_path / "r.db", [proc(c) for c in codes])
    httpserver.expect_request(LIST, method="POST").respond_with_handler(_catalogue)
    httpserver.expect_request("/adapter/auth", method="POST").respond_with_json(
        {"error_code": "01", "message": "Sai mật khẩu"})
    app = make_app(db, httpserver.url_for("/").rstrip("/"), PROBE_CONCURRENCY=1, PROBE_BREAKER=3)
    run = probing.sweep_now(app, kind="linkage", actor="test")
    assert run["status"] == "failed" and "credentials" in run["message"]
    assert run["done"] == 3 and run["counts"] == {"linkage.unknown": 3}
    with open_store(db) as store:
        causes = {a["details"]["cause"] for a in store.run_attempts(run["id"])}
    assert causes == {"auth_failed"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_payment_declared_none_but_live_on_paygov_is_found(httpserver: HTTPServer, tmp_path: Path):
    db = small_db(tmp_path / "r.db", [proc("1.000001", has_fee=True, payment_channel="none")])

    def init(request: Request) -> Response:
        body = request.get_json()
        answer = {"MaLoi": "02", "MoTaLoi": "chưa cấu hình", "UrlThanhToan": "", "MaThamChieu": body["MaThamChieu"]}
        answer["MaXacThuc"] = _sha(f"02|{body['MaThamChieu']}||dvcqg-secret")
        return Response(json.dumps(answer), content_type="application/json")

    httpserver.expect_request("/payment/init", method="POST").respond_with_handler(init)
    httpserver.expect_request("/lgsp/token", method="POST").respond_with_json(
        {"access_token": "tok", "token_type": "Bearer", "expires_in": 300, "scope": "paygov"})
    httpserver.expect_request("/paygov/create", method="POST").respond_with_json(
        {"error_code": "SUCCESSFUL", "data": {"url": "http://127.0.0.1/pay/x"}})
    app = make_app(db, httpserver.url_for("/").rstrip("/"))
    run = probing.sweep_now(app, kind="payment", actor="test")
    assert run["status"] == "completed" and run["counts"] == {"payment.payment_ready": 1}
    with open_store(db) as store:
        attempt = store.run_attempts(run["id"])[0]
        rows = probing.discrepancies(store)
    assert attempt["details"]["channel"] == "paygov"
    assert [t["verdict"] for t in attempt["details"]["channels_tried"]] == ["payment_not_configured", "payment_ready"]
    assert {c["upstream"] for c in attempt["evidence"]} == {"payment", "lgsp", "paygov"}
    assert [(r["kind"], r["observed"]) for r in rows] == [("undeclared_payment", "paygov")]
