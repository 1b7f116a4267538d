"""CONFIRM and IPN delivery over real sockets, the receiver being pytest-httpserver."""
from __future__ import annotations

import json

import pytest
from werkzeug import Response

from tests.mock_portal.helpers import SMALL_WORLD, confirm_is_signed, init_message, \
    ipn_is_signed, paygov_order
from tests.mock_portal.test_paygov import create


def settled_callbacks(portal):
    return portal.admin("GET", "/callbacks", params={"wait": 10})["callbacks"]


@pytest.mark.parametrize("first", [
    Response("boom", status=500),
    Response(json.dumps({"MaLoi": "99", "MoTaLoi": "busy"}), content_type="application/json"),
    Response("<html>maintenance</html>", content_type="text/html"),
])
def test_confirm_is_acknowledged_exactly_once_after_a_failed_delivery(
        start_portal, httpserver_ipv4, first):
    receiver = httpserver_ipv4
    receiver.expect_ordered_request("/confirm", method="POST").respond_with_response(first)
    receiver.expect_ordered_request("/confirm", method="POST").respond_with_json(
        {"MaLoi": "00", "MoTaLoi": "Thành công"})
    portal = start_portal(DVCQG_CALLBACK_URL=receiver.url_for("/confirm"))
    url = portal.post("/payment/init", json=init_message("1.000001", "HS-1")).json()["UrlThanhToan"]
    portal.post(url[len(portal.url):], data={"action": "pay"})  # the citizen pays
    (cb,) = settled_callbacks(portal)
    assert cb["state"] == "acknowledged" and cb["kind"] == "confirm"
    assert [a["acknowledged"] for a in cb["attempts"]] == [False, True]
    receiver.check_assertions()
    bodies = [req.get_json() for req, _ in receiver.log]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    body = bodies[0]
    assert confirm_is_signed(body)
    assert (body["LoaiBanTin"], body["MaLoi"], body["MaThamChieu"], body["SoTien"]) == \
        ("CONFIRM", "00", "HS-1", "50000")
    query_id = portal.admin("GET", "/payments")["payments"][0]["transaction_no"]
    assert body["MaGiaoDich"] == query_id
    # nothing more is sent once acknowledged
    assert len(settled_callbacks(portal)[0]["attempts"]) == 2 and len(receiver.log) == 2


def test_failed_payment_sends_signed_confirm_with_99(start_portal, httpserver_ipv4):
    httpserver_ipv4.expect_request("/confirm").respond_with_json({"MaLoi": "00"})
    portal = start_portal(DVCQG_CALLBACK_URL=httpserver_ipv4.url_for("/confirm"))
    portal.post("/payment/init", json=init_message("1.000002", "HS-2"))
    portal.admin("POST", "/payments/HS-2/fail")
    (cb,) = settled_callbacks(portal)
    assert cb["state"] == "acknowledged"
    body = httpserver_ipv4.log[0][0].get_json()
    assert body["MaLoi"] == "99" and confirm_is_signed(body)


def test_ipn_is_acknowledged_exactly_once_after_a_failed_delivery(start_portal, httpserver_ipv4):
    receiver = httpserver_ipv4
    receiver.expect_ordered_request("/ipn").respond_with_data("unavailable", status=503)
    receiver.expect_ordered_request("/ipn").respond_with_json(
        {"error_code": "SUCCESSFUL", "error_message": "ok"})
    portal = start_portal(PAYGOV_IPN_URL=receiver.url_for("/ipn"))
    create(portal, paygov_order("1.000002", "ORD-1", amount="150000"))
    portal.admin("POST", "/payments/ORD-1/pay")
    (cb,) = settled_callbacks(portal)
    assert (cb["kind"], cb["state"], len(cb["attempts"])) == ("ipn", "acknowledged", 2)
    receiver.check_assertions()
    body = receiver.log[1][0].get_json()
    assert ipn_is_signed(body)
    assert (body["orderId"], body["amount"], body["errorCode"], body["requestCode"]) == \
        ("ORD-1", "150000", "00", "REQ-ORD-1")
    assert set(body) == {"amount", "orderId", "orderInfo", "requestCode", "transactionNo",
                         "payDate", "paygate", "errorCode", "type", "transactionCode", "checksum"}


@pytest.mark.parametrize("reply", [{"error_code": "SIGNATURE_WRONG"}, {"MaLoi": "00"}])
def test_delivery_gives_up_after_max_attempts(start_portal, httpserver_ipv4, reply):
    httpserver_ipv4.expect_request("/cb").respond_with_json(reply)
    portal = start_portal(CALLBACK_MAX_ATTEMPTS=3, PAYGOV_IPN_URL=httpserver_ipv4.url_for("/cb"))
    create(portal, paygov_order("1.000002", "ORD-2"))
    portal.admin("POST", "/payments/ORD-2/pay")
    (cb,) = settled_callbacks(portal)
    assert cb["state"] == "gave_up" and len(cb["attempts"]) == 3
    assert len(httpserver_ipv4.log) == 3


def test_connection_refused_counts_as_failed_attempt(start_portal, httpserver_ipv4):
    httpserver_ipv4.expect_request("/cb").respond_with_json({"MaLoi": "00"})
    portal = start_portal(CALLBACK_MAX_ATTEMPTS=2, DVCQG_CALLBACK_URL="http://127.0.0.1:9/cb")
    portal.post("/payment/init", json=init_message("1.000001", "HS-3"))
    portal.admin("POST", "/payments/HS-3/pay")
    (cb,) = settled_callbacks(portal)
    assert cb["state"] == "gave_up"
    assert all(a["error"] and a["status"] is None for a in cb["attempts"])


@pytest.mark.parametrize("source", ["world", "config", "admin"])
def test_callback_url_sources(start_portal, httpserver_ipv4, source):
    httpserver_ipv4.expect_request("/from-" + source).respond_with_json({"MaLoi": "00"})
    url = httpserver_ipv4.url_for("/from-" + source)
    world = json.loads(json.dumps(SMALL_WORLD))
    config = {}
    if source == "world":
        world["credentials"] = {"dvcqg_payment": {"HNI": {"secret": "dvcqg-secret",
                                                          "callback_url": url}}}
    elif source == "config":
        config["DVCQG_CALLBACK_URL"] = url
    portal = start_portal(world=world, **config)
    if source == "admin":
        assert portal.admin("PUT", "/callback-urls",
                            json={"dvcqg_payment": {"HNI": url}})["dvcqg_payment"]["HNI"] == url
    assert portal.admin("GET", "/callback-urls")["dvcqg_payment"]["HNI"] == url
    portal.post("/payment/init", json=init_message("1.000001", "HS-4"))
    portal.admin("POST", "/payments/HS-4/pay")
    assert settled_callbacks(portal)[0]["state"] == "acknowledged"
    httpserver_ipv4.check_assertions()


def test_no_callback_url_is_recorded(portal):
    portal.post("/payment/init", json=init_message("1.000001", "HS-5"))
    portal.admin("POST", "/payments/HS-5/pay")
    (cb,) = settled_callbacks(portal)
    assert cb["state"] == "no_url" and cb["attempts"] == []
