"""Contract section 4 over real sockets: LGSP token (expiring), PayGov create, citizen page."""
from __future__ import annotations

import pytest

from tests.mock_portal.helpers import paygov_order
from tests.mock_portal.test_adapter import FakeClock

# printf '%s' 'paygov-secretpaygov-accessHNIORD-1REQ-1150000' | sha256sum
LITERAL_CHECKSUM = "7d541d7dc3f3efd9472c8c1c5aae087ebc960282cb1b450c215cba44fca7dbe7"


def create(portal, body, token=None, lgsp=None):
    token = token if token is not None else portal.token()
    headers = {"Authorization": f"Bearer {token}", "lgspaccesstoken": lgsp or token}
    return portal.post("/paygov/create", json=body, headers=headers)


@pytest.mark.parametrize("form, status, error", [
    ({"grant_type": "client_credentials", "client_id": "tthc", "client_secret": "lgsp-secret"},
     200, None),
    ({"grant_type": "client_credentials", "client_id": "tthc", "client_secret": "bad"},
     401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "other", "client_secret": "lgsp-secret"},
     401, "invalid_client"),
    ({"grant_type": "password", "client_id": "tthc", "client_secret": "lgsp-secret"},
     400, "unsupported_grant_type"),
])
def test_lgsp_token(portal, form, status, error):
    resp = portal.post("/lgsp/token", data=form)
    assert resp.status_code == status
    body = resp.json()
    if error:
        assert body["error"] == error
    else:
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["access_token"] and body["scope"]


def test_create_with_literal_checksum(portal):
    body = paygov_order("1.000002", "ORD-1")
    body["requestCode"] = "REQ-1"
    body["checksum"] = LITERAL_CHECKSUM
    resp = create(portal, body)
    assert resp.status_code == 200
    answer = resp.json()
    assert answer["error_code"] == "SUCCESSFUL"
    assert answer["data"]["url"].startswith(portal.url + "/paygov/pay/")


@pytest.mark.parametrize("changes, error", [
    ({"checksum": "0" * 64}, "SIGNATURE_WRONG"),
    ({"amount": "150001"}, "SIGNATURE_WRONG"),           # signed field changed after signing
    ({"accessKey": "other"}, "PARTNER_NOT_FOUND"),
    ({"partnerCode": "XYZ"}, "PARTNER_NOT_FOUND"),
    ({"amount": 150000}, "INVALID_REQUEST"),             # every value must be a string
    ({"serviceCode": ""}, "INVALID_REQUEST"),
])
def test_create_refusals(portal, changes, error):
    body = paygov_order("1.000002", "ORD-2")
    body.update(changes)
    answer = create(portal, body).json()
    assert answer["error_code"] == error


@pytest.mark.parametrize("code, order_info, error", [
    ("1.000001", None, "SERVICE_NOT_CONFIGURED"),   # configured for DVCQG payment only
    ("1.000002", "Nộp lệ phí", "INVALID_REQUEST"),  # accents must be stripped
])
def test_create_business_refusals(portal, code, order_info, error):
    body = paygov_order(code, "ORD-3")
    if order_info:
        body["orderInfo"] = order_info
    assert create(portal, body).json()["error_code"] == error


def test_duplicate_order(portal):
    first = create(portal, paygov_order("1.000002", "ORD-4")).json()
    assert first["error_code"] == "SUCCESSFUL"
    assert create(portal, paygov_order("1.000002", "ORD-4")).json() == first  # a replay
    other = paygov_order("1.000002", "ORD-4", amount="99000")
    assert create(portal, other).json()["error_code"] == "DUPLICATE_ORDER"


@pytest.mark.parametrize("token, lgsp", [("forged", None), ("", None), (None, "forged")])
def test_create_without_valid_token_is_401(portal, token, lgsp):
    good = portal.token()
    resp = create(portal, paygov_order("1.000002", "ORD-5"),
                  token=good if token is None else token, lgsp=lgsp)
    assert resp.status_code == 401


def test_expired_token_is_401_then_new_token_works(start_portal):
    clock = FakeClock()
    portal = start_portal(TOKEN_TTL=30, CLOCK=clock)
    token = portal.token()
    assert create(portal, paygov_order("1.000002", "A"), token=token).status_code == 200
    clock.now += 30
    assert create(portal, paygov_order("1.000002", "B"), token=token).status_code == 401
    assert create(portal, paygov_order("1.000002", "B")).status_code == 200


def test_citizen_pays_and_returns(portal):
    url = create(portal, paygov_order("1.000002", "ORD-6")).json()["data"]["url"]
    path = url[len(portal.url):]
    assert "ORD-6" in portal.get(path).text
    done = portal.post(path, data={"action": "pay"})
    assert done.status_code == 200
    assert "http://127.0.0.1:9/return?orderId=ORD-6" in done.text
    (p,) = portal.admin("GET", "/payments")["payments"]
    assert (p["channel"], p["state"], p["reference"]) == ("paygov", "paid", "ORD-6")
