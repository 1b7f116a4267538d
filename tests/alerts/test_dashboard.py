"""The dashboard's "Cảnh báo" page: the feed for everyone, subscriptions for staff, all in Vietnamese."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from registry import alerts, create_app
from registry.auth import add_user
from registry.store import open_store
from tests.dashboard.helpers import ADMIN, EDITOR, csrf_of, login


@pytest.fixture(scope="module")
def template(hanoi_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alerts-dash") / "registry.db"
    shutil.copyfile(hanoi_db, path)
    with open_store(path) as store:
        for acc in (EDITOR, ADMIN):
            add_user(store, acc.username, acc.password, acc.role, acc.agencies, actor="test")
    return path


@pytest.fixture
def app(template: Path, tmp_path: Path):
    path = tmp_path / "registry.db"
    shutil.copyfile(template, path)
    return create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t"})


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _break_one(app) -> str:
    cfg = app.config["TTHC"]
    with open_store(cfg["DATABASE"]) as store:
        code = next(p["code"] for p in store.all_procedures() if p["agency"] == "Sở Tư pháp")
        for verdict in ("integrated", "link_broken", "link_broken"):
            store.record_attempts([{"code": code, "dimension": "linkage", "verdict": verdict, "run_id": None,
                                    "checked_at": "2026-12-01T09:00:00+07:00"}])
        alerts.detect(store, cfg)
    return code


def test_the_feed_is_public_vietnamese_and_downloadable(app):
    code = _break_one(app)
    client = app.test_client()
    resp = client.get("/alerts")
    html = _text(resp)
    assert resp.status_code == 200 and '<html lang="vi">' in html
    assert 'aria-current="page">Cảnh báo<' in html
    assert "Liên thông Cổng DVCQG bị hỏng" in html and code in html and "đã tích hợp → liên kết hỏng" in html
    assert "Không có người nhận" in html
    assert 'id="subscribe-form"' not in html and "đăng nhập" in html
    rows = json.loads(_text(client.get("/alerts?format=json")))
    assert rows[0]["type"] == "linkage.broken" and rows[0]["code"] == code
    assert client.get("/alerts?format=csv").mimetype == "text/csv"


def test_an_editor_subscribes_for_their_agency_and_unsubscribes(app):
    client = app.test_client()
    login(client, EDITOR)
    html = _text(client.get("/alerts"))
    assert 'id="subscribe-form"' in html
    assert 'value="all"' not in html  # only admins may follow everything
    token = csrf_of(client, "/alerts")
    resp = client.post("/alerts", data={"csrf_token": token, "scope": "agency", "agency": "Sở Tư pháp",
                                        "channel": "email", "address": "tuphap@hanoi.gov.vn", "mode": "digest"})
    assert resp.status_code == 302
    html = _text(client.get("/alerts"))
    assert "Đã đăng ký nhận cảnh báo." in html and "tuphap@hanoi.gov.vn" in html
    assert "Một thư tổng hợp mỗi ngày" in html
    resp = client.post("/alerts", data={"csrf_token": token, "scope": "agency", "agency": "Sở Tư pháp",
                                        "channel": "webhook", "address": "https://it.tuphap.example/hook"})
    secret = re.search(r"chỉ hiển thị một lần này: ([0-9a-f]{64})", _text(client.get("/alerts")))
    assert resp.status_code == 302 and secret
    with open_store(app.config["TTHC"]["DATABASE"]) as store:
        subs = store.list_subscriptions()
    assert [(s["owner"], s["channel"]) for s in subs] == [("tuphap", "email"), ("tuphap", "webhook")]
    assert subs[1]["secret"] == secret.group(1)
    resp = client.post(f"/alerts/{subs[0]['id']}/remove", data={"csrf_token": token})
    assert resp.status_code == 302
    assert "tuphap@hanoi.gov.vn" not in _text(client.get("/alerts"))


@pytest.mark.parametrize("data, status, message", [
    ({"scope": "agency", "agency": "Sở Tư pháp", "channel": "email", "address": "không-phải-thư"}, 422,
     "Địa chỉ không hợp lệ"),
    ({"scope": "agency", "channel": "email", "address": "a@b.vn"}, 422, "Hãy chọn một cơ quan"),
    ({"scope": "agency", "agency": "Sở Xây dựng", "channel": "email", "address": "a@b.vn"}, 403,
     "chỉ được theo dõi các cơ quan mình phụ trách"),
    ({"scope": "all", "channel": "email", "address": "a@b.vn"}, 403, "Chỉ quản trị viên"),
    ({"scope": "agency", "agency": "Sở Tư pháp", "channel": "webhook", "address": "https://x.example/h",
      "mode": "digest"}, 422, "thư tổng hợp hằng ngày chỉ dành cho thư điện tử"),
])
def test_bad_subscriptions_are_explained_in_vietnamese_and_store_nothing(app, data, status, message):
    client = app.test_client()
    login(client, EDITOR)
    resp = client.post("/alerts", data={"csrf_token": csrf_of(client, "/alerts"), **data})
    html = _text(resp)
    assert resp.status_code == status
    assert message in html and "Chưa đăng ký" in html
    assert "not a valid" not in html and "required" not in html  # no English leaks from the schema
    with open_store(app.config["TTHC"]["DATABASE"]) as store:
        assert store.list_subscriptions(active=None) == []


def test_anonymous_visitors_cannot_subscribe_and_admins_follow_everything(app):
    client = app.test_client()
    token = csrf_of(client, "/login")
    resp = client.post("/alerts", data={"csrf_token": token, "scope": "all", "channel": "email", "address": "a@b.vn"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    login(client, ADMIN)
    resp = client.post("/alerts", data={"csrf_token": csrf_of(client, "/alerts"), "scope": "all",
                                        "channel": "email", "address": "city@hanoi.gov.vn"})
    assert resp.status_code == 302
    assert "Mọi sự kiện" in _text(client.get("/alerts"))


def test_the_page_passes_the_dashboards_accessibility_checks(app):
    from tests.dashboard.test_accessibility import check
    _break_one(app)
    client = app.test_client()
    check(_text(client.get("/alerts")), "/alerts (anonymous)")
    login(client, EDITOR)
    client.post("/alerts", data={"csrf_token": csrf_of(client, "/alerts"), "scope": "agency",
                                 "agency": "Sở Tư pháp", "channel": "email", "address": "tuphap@hanoi.gov.vn"})
    check(_text(client.get("/alerts")), "/alerts (editor, one subscription)")
    check(_text(client.post("/alerts", data={"csrf_token": csrf_of(client, "/alerts"), "scope": "agency",
                                             "channel": "email", "address": "x"})), "/alerts (errors)")


def test_a_field_in_error_is_marked_for_screen_readers(app):
    client = app.test_client()
    login(client, EDITOR)
    html = _text(client.post("/alerts", data={"csrf_token": csrf_of(client, "/alerts"), "scope": "agency",
                                              "agency": "Sở Tư pháp", "channel": "email", "address": "x"}))
    assert 'id="address" name="address" value="x" autocomplete="off" aria-invalid="true" ' \
           'aria-describedby="err-address"' in html
    assert 'id="err-address"' in html
