"""Callbacks that cannot be re-cut, replayed under a new name, forged into choosing a procedure,
or used to fill the disk (issue 10, items 2, 3 and 5). Each test failed on the code before.

Checksums are computed here with hashlib from the contract's text (v2: fields joined by `|`,
secret last), independently of `connectors.checksums`."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.store import open_store

from .conftest import make_app

CODE, OTHER = "1.000028", "1.000025"
IPN_URL, CONFIRM_URL = "/api/v1/payments/paygov/ipn", "/api/v1/payments/dvcqg/confirm"
SECRET = "paygov-secret"
V2_FIELDS = ("orderId", "requestCode", "amount", "errorCode", "transactionNo", "payDate", "orderInfo")


def signed(**fields: str) -> dict[str, str]:
    """An IPN signed as PayGov signs it (contract v2)."""
    body = {"amount": "120000", "orderId": f"ORD-{CODE}-77", "orderInfo": "Le phi TTHC", "requestCode": "REQ77",
            "transactionNo": "PG20261122000009", "payDate": "20261122101500", "paygate": "PAYGOV",
            "errorCode": "00", "type": "PAYMENT", "transactionCode": "FT000009", **fields}
    text = "|".join([body[k] for k in V2_FIELDS] + [SECRET])
    body["checksum"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return body


def v1_checksum(body: dict[str, str]) -> str:
    return hashlib.sha256((SECRET + "".join(body[k] for k in V2_FIELDS[:5])).encode("utf-8")).hexdigest()


def state(db: Path) -> dict[str, Any]:
    with open_store(db) as store:
        return {"payments": store.list_payments(), "rejections": store.list_callback_rejections(),
                "audit": store.list_audit(entity="payment", limit=1000),
                "verdicts": {c: store.verdicts_for(c) for c in (CODE, OTHER)}}


@pytest.fixture
def client(db: Path) -> Any:
    with open_store(db) as store:  # both procedures exist in the fixture
        assert {p["code"] for p in store.procedures_by_code([CODE, OTHER])} == {CODE, OTHER}
    return make_app(db, "http://127.0.0.1:9").test_client()


def test_a_genuine_v2_ipn_is_counted(client, db):
    assert client.post(IPN_URL, json=signed()).get_json()["error_code"] == "SUCCESSFUL"
    assert [(p["code"], p["status"]) for p in state(db)["payments"]] == [(CODE, "paid")]


def test_a_v1_signed_ipn_is_refused(client, db):
    body = signed()
    body["checksum"] = v1_checksum(body)
    assert client.post(IPN_URL, json=body).get_json()["error_code"] == "SIGNATURE_WRONG"
    assert state(db)["payments"] == []


@pytest.mark.parametrize("genuine, recut, status", [
    # The boundary between orderId and requestCode moved: the v1 string is unchanged.
    ({}, {"orderId": f"ORD-{CODE}-77R", "requestCode": "EQ77"}, "paid"),
    # A failed payment re-cut as "paid, amount 1200": amount+errorCode+transactionNo unchanged.
    ({"errorCode": "99"}, {"amount": "1200", "errorCode": "00", "transactionNo": "99PG20261122000009"}, "failed"),
])
def test_a_recut_ipn_is_refused_and_a_failed_one_cannot_become_paid(client, db, genuine, recut, status):
    genuine = signed(**genuine)
    forged = {**genuine, **recut}
    assert v1_checksum(forged) == v1_checksum(genuine)  # the attack that worked on v1
    assert client.post(IPN_URL, json=genuine).get_json()["error_code"] == "SUCCESSFUL"
    assert client.post(IPN_URL, json=forged).get_json()["error_code"] == "SIGNATURE_WRONG"
    after = state(db)
    assert [(p["status"], p["amount"]) for p in after["payments"]] == [(status, "120000")]


def test_a_failed_payment_stays_failed_even_when_a_signed_paid_one_follows(client, db):
    assert client.post(IPN_URL, json=signed(errorCode="99")).get_json()["error_code"] == "SUCCESSFUL"
    # Another transaction claiming the same order was paid (signed or not) does not flip it.
    reply = client.post(IPN_URL, json=signed(errorCode="00", transactionNo="PG20261122000010", amount="1"))
    assert reply.get_json()["error_code"] == "FAILED"
    after = state(db)
    assert [(p["status"], p["amount"]) for p in after["payments"]] == [("failed", "120000")]
    assert "payment" not in after["verdicts"][CODE]
    assert after["rejections"][0]["reason"].startswith("replay: reference")


def test_a_transaction_replayed_under_another_reference_counts_once(client, db):
    first = client.post(IPN_URL, json=signed())
    again = client.post(IPN_URL, json=signed(orderId=f"ORD-{OTHER}-78", requestCode="REQ78"))
    assert first.get_json()["error_code"] == "SUCCESSFUL" and again.get_json()["error_code"] == "FAILED"
    after = state(db)
    assert [(p["code"], p["transaction_no"]) for p in after["payments"]] == [(CODE, "PG20261122000009")]
    assert "payment" not in after["verdicts"][OTHER]
    assert "already counted under reference" in after["rejections"][0]["reason"]
    # The very same callback delivered again is still a harmless redelivery.
    assert client.post(IPN_URL, json=signed()).get_json() == {"error_code": "SUCCESSFUL",
                                                              "error_message": "Already received"}
    assert len(state(db)["payments"]) == 1


def test_a_forged_order_info_cannot_choose_the_procedure(client, db):
    # A genuine IPN of an order whose reference names no procedure, its text naming CODE.
    genuine = signed(orderId="ORD-20261122-0009", orderInfo=f"Le phi TTHC {CODE}")
    forged = {**genuine, "orderInfo": f"Le phi TTHC {OTHER}"}
    assert client.post(IPN_URL, json=forged).get_json()["error_code"] == "SIGNATURE_WRONG"
    assert client.post(IPN_URL, json=genuine).get_json()["error_code"] == "SUCCESSFUL"
    after = state(db)
    assert [p["code"] for p in after["payments"]] == [CODE]
    assert "payment" not in after["verdicts"][OTHER]


@pytest.mark.parametrize("info", ["Le phi TTHC", f"Le phi {CODE} va {OTHER}"])
def test_a_callback_whose_procedure_cannot_be_decided_is_refused_not_counted(client, db, info):
    reply = client.post(IPN_URL, json=signed(orderId="ORD-20261122-0010", orderInfo=info))
    assert reply.status_code == 200 and reply.get_json()["error_code"] == "FAILED"
    after = state(db)
    assert after["payments"] == []
    assert after["rejections"][0]["reason"].startswith("undecided")


def test_public_evidence_of_a_callback_is_redacted(client, db):
    body = signed(orderInfo="Nguyen Van A nop le phi")
    assert client.post(IPN_URL, json=body).get_json()["error_code"] == "SUCCESSFUL"
    history = client.get(f"/api/v1/procedures/{CODE}/probes").get_json()
    text = json.dumps(history, ensure_ascii=False)
    assert history["items"][0]["verdict"] == "payment_ready"
    assert body["checksum"] not in text and "Nguyen Van A" not in text and "checksum" not in text
    assert history["items"][0]["evidence"][0]["transaction_no"] == "PG20261122000009"
    page = client.get(f"/procedures/{CODE}").get_data(as_text=True)
    assert body["checksum"] not in page and "Nguyen Van A" not in page
    for table in ("payments", "probes"):
        download = client.get(f"/procedures/{CODE}?format=json&table={table}").get_data(as_text=True)
        assert "PG20261122000009" in download
        assert body["checksum"] not in download and "Nguyen Van A" not in download
    audit = client.get("/api/v1/audit?entity=payment").get_data(as_text=True)
    assert body["checksum"] not in audit and "Nguyen Van A" not in audit


# -- rejected callbacks cannot fill the disk ------------------------------------
def test_a_19_mib_forged_callback_is_refused_before_parsing_and_kept_bounded(db, registry_server):
    server = registry_server(make_app(db, "http://127.0.0.1:9"))
    body = b'{"orderId": "' + b"A" * (19 * 1024 * 1024) + b'"}'
    size_before = db.stat().st_size
    for _ in range(3):
        resp = httpx.post(server.url + IPN_URL, content=body, headers={"Content-Type": "application/json"},
                          timeout=60)
        assert resp.status_code == 413 and resp.json()["error_code"] == "FAILED"
    rejections = state(db)["rejections"]
    assert len(rejections) == 1  # identical refusals are counted, not stored again
    record = rejections[0]
    assert record["count"] == 3 and record["size"] == len(body) and len(record["payload"]) <= 4096
    assert record["reason"].startswith("too large") and record["source"] == "127.0.0.1"
    assert len(record["body_sha256"]) == 64
    wal = db.with_name(db.name + "-wal")
    grown = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0) - size_before
    assert grown < 1024 * 1024


def test_a_rejection_keeps_the_head_hash_size_and_address(client, db):
    body = json.dumps({**signed(), "amount": "1", "padding": "x" * 10000}).encode()
    assert client.post(IPN_URL, data=body, content_type="application/json",
                       environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()["error_code"] == "SIGNATURE_WRONG"
    record = state(db)["rejections"][0]
    assert record["payload"] == body[:4096].decode() and record["size"] == len(body)
    assert record["body_sha256"] == hashlib.sha256(body).hexdigest() and record["source"] == "203.0.113.9"
    assert record["reference"] == f"ORD-{CODE}-77"


@pytest.mark.parametrize("url", [IPN_URL, CONFIRM_URL])
@pytest.mark.parametrize("payload, status", [
    (b"[" * 100_000 + b"]" * 100_000, 413),          # 100k levels: over the limit, never parsed
    (b"[" * 30_000 + b"]" * 30_000, 400),            # deep, but under 64 KiB: parsed and refused
    (b'{"orderId": ' + b"9" * 5001 + b"}", 400),     # a 5,001-digit integer
    (b'{"SoTien": 1' + b"0" * 5000 + b"}", 400),
    (b'{"orderId": "\\ud800", "MaThamChieu": "\\udfff"}', 400),  # lone surrogates
    (b'{"\\udc80": "x"}', 400),                      # ... as a key
    (b"\xff\xfe{}", 400),                            # not UTF-8
])
def test_hostile_bodies_get_a_4xx_never_a_500(client, db, url, payload, status):
    resp = client.post(url, data=payload, content_type="application/json")
    assert resp.status_code == status
    assert resp.get_json()  # the contract's answer, still JSON
    after = state(db)
    assert after["payments"] == [] and len(after["rejections"]) == 1
    assert len(after["rejections"][0]["payload"]) <= 4096
