"""End-to-end: Debian's chromium driven by Playwright against a real server on a free port."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from .helpers import EDITOR, Account, fold

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason="/usr/bin/chromium is absent (apt-get install chromium)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(dash_app):
    """The dashboard on 127.0.0.1, a free port, in a thread; yields its base URL."""
    srv = make_server("127.0.0.1", 0, dash_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def number(text: str) -> int:
    """A Vietnamese-formatted integer ('1.685') as an int."""
    return int(re.sub(r"[^\d]", "", text))


def sign_in(page, base: str, account: Account) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(account.username)
    page.get_by_label("Mật khẩu").fill(account.password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("button", name="Đăng xuất").is_visible()


def test_editor_registers_a_procedure_and_the_overview_changes(page, server):
    page.goto(server + "/")
    total, online = number(page.inner_text("#total-procedures")), number(page.inner_text("#total-online"))
    sign_in(page, server, EDITOR)
    page.get_by_role("link", name="Đăng ký thủ tục").first.click()
    page.get_by_label("Mã thủ tục").fill("2.999201.H26")
    page.get_by_label("Tên thủ tục").fill("Đăng ký khai sinh trực tuyến thí điểm")
    assert page.locator("#agency option").all_inner_texts() == list(EDITOR.agencies)  # own agencies only
    page.get_by_label("Lĩnh vực").fill("Hộ tịch")
    page.get_by_label("Mức độ dịch vụ công trực tuyến").select_option("4")
    page.get_by_label("Đã tích hợp Cổng DVCQG").check()
    page.get_by_role("button", name="Đăng ký").click()
    page.wait_for_url(f"{server}/procedures/2.999201.H26")
    assert "Đã đăng ký thủ tục 2.999201.H26" in page.inner_text("main")
    page.get_by_role("link", name="Tổng quan").click()
    assert number(page.inner_text("#total-procedures")) == total + 1
    assert number(page.inner_text("#total-online")) == online + 1


def test_search_without_diacritics_finds_the_procedure(page, server):
    page.goto(server + "/procedures")
    page.get_by_label("Tìm (không cần dấu)").fill("dang ky khai sinh")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*q=dang\+ky\+khai\+sinh.*"))
    link = page.get_by_role("link", name="Thủ tục đăng ký khai sinh", exact=True)
    assert link.is_visible()
    names = page.locator("#procedure-table tbody tr td:nth-child(2) a").all_inner_texts()
    for name in names:  # every result has each word, with or without its marks, as a word prefix
        words = re.findall(r"\w+", fold(name))
        assert all(any(w.startswith(q) for w in words) for q in ("dang", "ky", "khai", "sinh")), name
    link.click()
    assert page.locator("h1").inner_text().endswith("Thủ tục đăng ký khai sinh")


def test_upload_with_a_bad_row_names_it_and_changes_nothing(page, server, tmp_path):
    page.goto(server + "/")
    total = number(page.inner_text("#total-procedures"))
    sign_in(page, server, EDITOR)
    bad = tmp_path / "tu-phap.csv"
    bad.write_text("code,name,agency,service_level\n"
                   "2.999301,Thủ tục hợp lệ,Sở Tư pháp,3\n"
                   "2.999302,Thủ tục sai mức,Sở Tư pháp,7\n", encoding="utf-8")
    page.goto(server + "/imports")
    page.get_by_label("Tệp cần nhập").set_input_files(str(bad))
    page.get_by_role("button", name="Tải lên và nhập").click()
    alert = page.get_by_role("alert").filter(has_text="Không nhập")
    assert "Không có dòng nào được ghi" in alert.inner_text()
    row = page.locator("#import-errors tbody tr")
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "2.999302" and "service_level" in cells[2]
    page.goto(server + "/procedures?q=2.999301")
    assert page.inner_text("#result-count").startswith("0 thủ tục")
    page.goto(server + "/")
    assert number(page.inner_text("#total-procedures")) == total


def test_editing_another_agencys_procedure_is_refused(page, server, dash_store):
    rows, _ = dash_store.list_procedures(filters={"agency": "Sở Xây dựng"}, limit=1)
    code = rows[0]["code"]
    sign_in(page, server, EDITOR)
    page.goto(f"{server}/procedures/{code}")
    assert page.get_by_role("link", name="Sửa thủ tục").count() == 0  # no control shown
    assert page.get_by_role("button", name="Bãi bỏ thủ tục").count() == 0
    response = page.goto(f"{server}/procedures/{code}/edit")  # typed by hand
    assert response.status == 403
    assert "Bạn không có quyền thay đổi thủ tục của cơ quan: Sở Xây dựng" in page.inner_text("#error-message")
    assert dash_store.get_procedure(code)["version"] == rows[0]["version"]


def test_keyboard_only_skip_link_and_login(page, server):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Bỏ qua, tới nội dung chính"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(server + "/login")
    # The user name field takes the focus on arrival (autofocus); wait for it before typing.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    page.keyboard.type(EDITOR.username)
    page.keyboard.press("Tab")
    page.keyboard.type(EDITOR.password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/")
    assert page.get_by_role("button", name="Đăng xuất").is_visible()


PHONE_PAGES = ["/", "/breakdowns", "/procedures", "/procedures/1.001193", "/probes", "/login"]


@pytest.mark.parametrize("path", PHONE_PAGES)
def test_pages_fit_a_phone_screen_and_label_every_control(browser, server, path):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    pg = context.new_page()
    pg.goto(server + path)
    # Wide tables scroll inside their own box; the page itself never scrolls sideways.
    assert pg.evaluate("document.documentElement.scrollWidth") <= 360
    assert pg.evaluate("document.documentElement.lang") == "vi"
    unlabelled = pg.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && e.type !== 'submit')
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.name)""")
    assert unlabelled == []
    font_px = pg.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_px >= 16
    context.close()


@pytest.fixture
def small_registry(tmp_path, fixture_records):
    """A registry of 12 fixture procedures (a sweep of them takes a moment) and an admin."""
    from registry import auth
    from registry.importer import parse
    from registry.store import open_store

    from .helpers import ADMIN
    chosen = [r for r in fixture_records if r["service_level"] in (3, 4)][:12]
    body = "".join(__import__("json").dumps(r, ensure_ascii=False) + "\n" for r in chosen).encode()
    parsed = parse(body, "subset.jsonl")
    path = tmp_path / "small.db"
    with open_store(path) as store:
        store.apply_import(parsed.rows, actor="tests", source="fixture")
        auth.add_user(store, ADMIN.username, ADMIN.password, ADMIN.role, ADMIN.agencies, actor="tests")
    return path, chosen


def test_admin_starts_a_sweep_and_watches_it_finish(page, small_registry):
    from registry import create_app
    from registry.dashboard import sweeps

    from .helpers import ADMIN
    if not sweeps.can_start():
        pytest.skip("the probe engine offers no background sweep")
    mock_portal = pytest.importorskip("mock_portal.app")
    path, chosen = small_registry
    portal = make_server("127.0.0.1", 0, mock_portal.create_app("hanoi-2021"), threaded=True)
    portal_thread = threading.Thread(target=portal.serve_forever, daemon=True)
    portal_thread.start()
    app = create_app({"DATABASE": str(path), "SECRET_KEY": "t", "TESTING": True,
                      "PORTAL_URL": f"http://127.0.0.1:{portal.server_port}", "PROBE_RETRIES": 0})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_port}"
    try:
        sign_in(page, base, ADMIN)
        page.goto(base + "/probes")
        page.get_by_label("Kiểm tra").select_option("linkage")
        page.get_by_role("button", name="Bắt đầu lượt kiểm tra mọi thủ tục").click()
        page.wait_for_url(re.compile(r".*/probes/\d+$"))
        # The page refreshes itself while the run is running; wait (bounded) for the final status.
        page.wait_for_function(
            "document.querySelector('#run-status') && "
            "document.querySelector('#run-status').dataset.status !== 'running'", timeout=90000)
        assert page.get_attribute("#run-status", "data-status") == "completed"
        assert page.locator("#run-progress").get_attribute("value") == str(len(chosen))
        counted = page.locator("#run-counts li").all_inner_texts()
        assert counted and any("Đã tích hợp" in c for c in counted)
        page.goto(base + "/")
        assert "chưa có" not in page.inner_text("#freshness")
    finally:
        srv.shutdown()
        portal.shutdown()
        thread.join(timeout=10)
        portal_thread.join(timeout=10)
