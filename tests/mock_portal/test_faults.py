"""Every fault over real sockets, per upstream, path, service and procedure code; seeded."""
from __future__ import annotations

import pytest
import requests

from mock_portal import create_app
from mock_portal.faults import FaultError, profile_names
from tests.mock_portal.helpers import UNIT, init_message, paygov_order

LIST = "/dvcqg/api/v1/submitting/formality/list-all-public-formality-by-citizen"


def _catalog(portal):
    return portal.post(LIST, json={"limit": 5, "q": ""})


def _deep_link(portal):
    return portal.get("/dvcqg/dich-vu-cong-truc-tuyen/1.000001/nop-ho-so")


def _adapter(portal):
    return portal.post("/adapter/share", json={"session": portal.session(), "madonvi": UNIT,
                                                "service": "LayDVC", "maTTHC": "1.000001"})


def _payment(portal):
    return portal.post("/payment/init", json=init_message("1.000001", "HS-F"))


def _lgsp(portal):
    return portal.post("/lgsp/token", data={"grant_type": "client_credentials",
                                            "client_id": "tthc", "client_secret": "lgsp-secret"})


def _paygov(portal):
    token = portal.token()
    return portal.post("/paygov/create", json=paygov_order("1.000002", "ORD-F"),
                       headers={"Authorization": f"Bearer {token}", "lgspaccesstoken": token})


# (upstream, the path the rule targets, a call that reaches it; the call's other requests,
# such as logging in, go to other paths and stay clean)
CALLS = [("dvcqg", LIST, _catalog), ("dvcqg", "/dvcqg/dich-vu-cong-truc-tuyen/*", _deep_link),
         ("adapter", "/adapter/share", _adapter), ("payment", "/payment/init", _payment),
         ("lgsp", "/lgsp/token", _lgsp), ("paygov", "/paygov/create", _paygov)]
IDS = ["catalog", "deep_link", "adapter", "payment", "lgsp", "paygov"]


def faulted(start_portal, path, **rule):
    return start_portal(faults=[{"name": "f", "path": path, **rule}])


@pytest.mark.parametrize("upstream, path, call, status",
                         [c + (s,) for c, s in zip(CALLS, (500, 502, 503, 504, 500, 503))],
                         ids=IDS)
def test_http_error(start_portal, upstream, path, call, status):
    resp = call(faulted(start_portal, path, kind="http_error", status=status))
    assert resp.status_code == status


@pytest.mark.parametrize("upstream, path, call", CALLS, ids=IDS)
def test_rate_limit_with_retry_after(start_portal, upstream, path, call):
    resp = call(faulted(start_portal, path, kind="rate_limit", retry_after=7))
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"


@pytest.mark.parametrize("upstream, path, call", CALLS, ids=IDS)
def test_connection_reset(start_portal, upstream, path, call):
    portal = faulted(start_portal, path, kind="reset")
    with pytest.raises(requests.ConnectionError) as info:
        call(portal)
    assert "reset" in repr(info.value).lower()
    (entry,) = portal.journal(path=path)
    assert entry["reset"] is True and entry["status"] is None and entry["faults"] == ["f"]


@pytest.mark.parametrize("upstream, path, call", CALLS, ids=IDS)
def test_malformed_json(start_portal, upstream, path, call):
    resp = call(faulted(start_portal, path, kind="malformed"))
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        resp.json()


@pytest.mark.parametrize("upstream, path, call", CALLS, ids=IDS)
def test_maintenance_page_with_http_200(start_portal, upstream, path, call):
    resp = call(faulted(start_portal, path, kind="maintenance"))
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert "bảo trì" in resp.text and "1.000001" not in resp.text


@pytest.mark.parametrize("upstream, path, call, check", [
    ("dvcqg", LIST, _catalog, lambda r: r.json()["code"] == "ERROR"),
    ("dvcqg", "/dvcqg/dich-vu-cong-truc-tuyen/*", _deep_link, lambda r: r.status_code == 500),
    ("adapter", "/adapter/share", _adapter, lambda r: r.json()["error_code"] == "99"),
    ("payment", "/payment/init", _payment, lambda r: r.json()["MaLoi"] == "99"),
    ("lgsp", "/lgsp/token", _lgsp, lambda r: r.status_code == 500),
    ("paygov", "/paygov/create", _paygov, lambda r: r.json()["error_code"] == "FAILED"),
], ids=IDS)
def test_business_error(start_portal, upstream, path, call, check):
    assert check(call(faulted(start_portal, path, kind="error", message="lỗi giả lập")))


def test_response_slower_than_client_timeout(start_portal):
    portal = faulted(start_portal, "/adapter/auth", kind="timeout", delay=5, times=1)
    with pytest.raises(requests.Timeout):
        portal.post("/adapter/auth", json={"username": "hanoi", "password": "hanoi-secret"},
                    timeout=0.3)
    # the rule fired once; the next call is answered normally
    assert portal.session()


@pytest.mark.parametrize("rule, low, high", [
    ({"distribution": "fixed", "ms": 30}, 30, 30),
    ({"distribution": "uniform", "min_ms": 5, "max_ms": 25}, 5, 25),
    ({"distribution": "long_tail", "ms": 10, "alpha": 1.2, "max_ms": 80}, 10, 80),
])
def test_latency_draws(start_portal, rule, low, high):
    portal = faulted(start_portal, "/dvcqg/*", kind="latency", **rule)
    for _ in range(8):
        assert _catalog(portal).json()["code"] == "OK"  # latency alone answers normally
    delays = [e["delay_ms"] for e in portal.journal()]
    assert len(delays) == 8 and all(low <= d <= high for d in delays)
    if rule["distribution"] != "fixed":
        assert len(set(delays)) > 1


def test_adapter_session_expiry(start_portal):
    portal = faulted(start_portal, "/adapter/share", kind="session_expiry", times=1)
    session = portal.session()
    body = {"session": session, "madonvi": UNIT, "service": "LayDVC"}
    assert portal.post("/adapter/share", json=body).json()["error_code"] == "03"
    # the session really is gone: the next call (fault spent) still fails until a new login
    assert portal.post("/adapter/share", json=body).json()["error_code"] == "03"
    body["session"] = portal.session()
    assert portal.post("/adapter/share", json=body).json()["error_code"] == "00"


def test_paygov_token_expiry(start_portal):
    portal = faulted(start_portal, "/paygov/create", kind="session_expiry", times=1)
    token = portal.token()
    headers = {"Authorization": f"Bearer {token}", "lgspaccesstoken": token}
    order = paygov_order("1.000002", "ORD-X")
    assert portal.post("/paygov/create", json=order, headers=headers).status_code == 401
    assert portal.post("/paygov/create", json=order, headers=headers).status_code == 401
    assert _paygov(portal).status_code == 200


@pytest.mark.parametrize("rule, faulted_code, clean_code", [
    ({"codes": ["1.000002"]}, "1.000002", "1.000001"),
    ({"service": "LayThuTuc"}, None, "1.000001"),
])
def test_rule_targets_codes_and_services(start_portal, rule, faulted_code, clean_code):
    portal = start_portal(faults=[{"kind": "http_error", "status": 503, **rule}])
    session = portal.session()

    def lay_dvc(code):
        return portal.post("/adapter/share", json={"session": session, "madonvi": UNIT,
                                                    "service": "LayDVC", "maTTHC": code})
    assert lay_dvc(clean_code).status_code == 200
    if faulted_code:
        assert lay_dvc(faulted_code).status_code == 503
        assert portal.get(f"/dvcqg/dich-vu-cong-truc-tuyen/{faulted_code}").status_code == 503
        assert portal.get(f"/dvcqg/dich-vu-cong-truc-tuyen/{clean_code}").status_code == 200
    else:
        resp = portal.post("/adapter/share", json={"session": session, "madonvi": UNIT,
                                                    "service": "LayThuTuc", "maTTHC": clean_code})
        assert resp.status_code == 503


def test_upstream_and_method_filters(start_portal):
    portal = start_portal(faults=[{"kind": "http_error", "upstream": "dvcqg", "methods": ["GET"]}])
    assert _deep_link(portal).status_code == 503
    assert _catalog(portal).status_code == 200   # POST
    assert _adapter(portal).status_code == 200   # another upstream


def test_times_and_rate_zero(start_portal):
    portal = start_portal(faults=[{"name": "twice", "kind": "http_error", "times": 2},
                                  {"name": "never", "kind": "reset", "rate": 0}])
    assert [_catalog(portal).status_code for _ in range(4)] == [503, 503, 200, 200]
    rules = {r["name"]: r for r in portal.admin("GET", "/faults")["rules"]}
    counters = (rules["twice"]["fired"], rules["never"]["fired"], rules["never"]["matched"])
    assert counters == (2, 0, 4)


def sequence(portal, n=40):
    """Which requests a 50% rule faulted, as the journal recorded it."""
    for _ in range(n):
        _catalog(portal)
    return ["coin" in e["faults"] for e in portal.journal()]


RULES = [{"name": "coin", "kind": "http_error", "rate": 0.5},
         {"name": "slow", "kind": "latency", "distribution": "uniform", "min_ms": 0, "max_ms": 3}]


def test_same_seed_same_fault_sequence(start_portal):
    a = sequence(start_portal(faults=RULES, seed=42))
    b = sequence(start_portal(faults=RULES, seed=42))
    c = sequence(start_portal(faults=RULES, seed=43))
    assert a == b and a != c
    assert 5 < sum(a) < 35


def test_reset_restarts_the_sequence_and_reseeds(start_portal):
    portal = start_portal(faults=RULES, seed=7)
    first = sequence(portal)
    delays = [e["delay_ms"] for e in portal.journal()]
    portal.admin("POST", "/reset")
    assert sequence(portal) == first
    assert [e["delay_ms"] for e in portal.journal()] == delays
    portal.admin("POST", "/reset", json={"seed": 8})
    assert sequence(portal) != first


@pytest.mark.parametrize("name", ["none", "flaky", "down", "slow", "maintenance", "expiring"])
def test_shipped_profiles_load(name):
    app = create_app(world={"catalog": {"source": None}}, faults=name)
    rules = app.extensions["mock_portal"].faults.list()
    assert (rules == []) is (name == "none")
    assert name in profile_names()


def test_down_profile_fails_every_upstream_but_not_admin(start_portal):
    portal = start_portal(faults="down")
    assert {call(portal).status_code for _, _, call in CALLS if call is not _adapter
            and call is not _paygov} == {503}
    assert portal.get("/_admin/health").json()["status"] == "ok"


def test_flaky_profile_never_serves_a_maintenance_page_on_deep_links(start_portal):
    portal = start_portal(faults="flaky", seed=1)
    for _ in range(30):
        try:
            resp = _deep_link(portal)
        except requests.ConnectionError:
            continue
        assert resp.status_code != 200 or "1.000001" in resp.text


def test_unknown_profile():
    with pytest.raises(FaultError):
        create_app(world={"catalog": {"source": None}}, faults="no-such-profile")


def test_citizen_pages_are_never_faulted(start_portal):
    portal = start_portal(faults=[{"kind": "http_error", "upstream": "payment",
                                   "path": "/payment/pay/*"}])
    url = _payment(portal).json()["UrlThanhToan"]
    assert portal.get(url[len(portal.url):]).status_code == 200
