"""The Cảnh báo page in Debian's chromium (Playwright): it fits a phone, and an editor subscribes with it."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from registry import alerts, create_app
from registry.auth import add_user
from registry.store import open_store
from tests.dashboard.helpers import EDITOR
from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(hanoi_db: Path, tmp_path: Path):
    path = tmp_path / "registry.db"
    shutil.copyfile(hanoi_db, path)
    with open_store(path) as store:
        add_user(store, EDITOR.username, EDITOR.password, EDITOR.role, EDITOR.agencies, actor="test")
        code = next(p["code"] for p in store.all_procedures() if p["agency"] == "Sở Tư pháp")
        for verdict in ("integrated", "link_broken", "link_broken"):
            store.record_attempts([{"code": code, "dimension": "linkage", "verdict": verdict, "run_id": None,
                                    "checked_at": "2026-12-01T09:00:00+07:00"}])
        alerts.detect(store, {"ALERT_CONFIRMATIONS": 2, "STALENESS_DAYS": 7.0, "ALERT_DIGEST_HOUR": 7})
    app = create_app({"DATABASE": str(path), "TESTING": True, "SECRET_KEY": "t"})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{srv.server_port}", "db": path, "code": code}
    srv.shutdown()
    thread.join(timeout=10)


def test_the_page_fits_a_phone_and_an_editor_subscribes(browser, server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(server["url"] + "/alerts")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.get_by_role("cell", name="Liên thông Cổng DVCQG bị hỏng").is_visible()
        sign_in(page, server["url"], EDITOR)
        page.goto(server["url"] + "/alerts")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.get_by_label("Phạm vi theo dõi").select_option("agency")
        page.get_by_label("Cơ quan (khi theo dõi một cơ quan)").select_option("Sở Tư pháp")
        page.get_by_label("Địa chỉ thư điện tử hoặc URL webhook").fill("tuphap@hanoi.gov.vn")
        page.get_by_label("Cách gửi").select_option("digest")
        page.get_by_role("button", name="Đăng ký", exact=True).click()
        page.wait_for_url(server["url"] + "/alerts")
        assert page.get_by_text("Đã đăng ký nhận cảnh báo.").is_visible()
        assert page.get_by_role("cell", name="tuphap@hanoi.gov.vn").is_visible()
        page.get_by_role("button", name="Hủy đăng ký #1").click()
        page.wait_for_url(server["url"] + "/alerts")
        assert page.get_by_text("Đã hủy đăng ký #1.").is_visible()
    finally:
        context.close()
    with open_store(server["db"]) as store:
        [sub] = store.list_subscriptions(active=None)
    assert (sub["owner"], sub["mode"], sub["active"]) == (EDITOR.username, "digest", False)
