"""The single-page app in a real browser (Debian's chromium via Playwright): the deep link shows
the code, the name and the "Nộp hồ sơ" button exactly when the linkage probe says it works."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.mock_portal.helpers import SMALL_WORLD

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


@pytest.mark.parametrize("code, works", [
    ("1.000001", True),    # integrated, the link works
    ("2.000004", False),   # broken: the catalogue detail is missing
    ("2.000005", False),   # broken: INACTIVE
    ("2.000006", False),   # broken: no ONLINE submission method
    ("9.999999", False),   # not in the catalogue at all
])
def test_the_app_shows_the_procedure_exactly_when_the_link_works(browser, start_portal, code, works):
    portal = start_portal(world=SMALL_WORLD, STYLE="spa")
    page = browser.new_page()
    try:
        page.goto(f"{portal.url}/dvcqg/dich-vu-cong-truc-tuyen/{code}/nop-ho-so")
        page.wait_for_selector("#code, #not-found", timeout=20_000)
        if works:
            assert page.inner_text("#code") == code
            assert page.inner_text("#submit") == "Nộp hồ sơ"
            assert "Đăng ký khai sinh" in page.inner_text("h1")
        else:
            assert page.inner_text("#not-found") == "Không tìm thấy thủ tục"
            assert page.query_selector("#submit") is None and code not in page.inner_text("body")
    finally:
        page.close()
