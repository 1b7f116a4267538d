"""The IT officer's journey in Debian's chromium (issue 13 item 2): import the national Excel file
with "only my agencies", see the skipped count, retire with a reason, then restore."""
from __future__ import annotations

import re
from pathlib import Path

from .helpers import EDITOR
from .test_browser import browser, page, pytestmark, server, sign_in  # noqa: F401 (fixtures, marks)

BO_TU_PHAP = Path(__file__).resolve().parents[1] / "data" / "national-catalog" / "danh-sach-tthc-BoTuPhap.xlsx"


def test_officer_imports_own_rows_then_retires_with_a_reason_and_restores(page, server, dash_store):  # noqa: F811
    sign_in(page, server, EDITOR)
    page.get_by_role("link", name="Thủ tục của tôi").click()
    page.wait_for_url(f"{server}/procedures/mine")
    assert "Sở Tư pháp" in page.inner_text("#my-scope")

    page.get_by_role("link", name="Nhập tệp").first.click()
    assert page.get_by_label("Chỉ nhập các dòng của cơ quan tôi").is_checked()
    page.get_by_label("Tệp cần nhập").set_input_files(str(BO_TU_PHAP))
    page.get_by_role("button", name="Tải lên và nhập").click()
    result = page.get_by_role("status").filter(has_text="Đã nhập")
    assert "bỏ qua vì ngoài phạm vi cơ quan của bạn" in result.inner_text()
    skipped = int(page.inner_text("#skipped-count").replace(".", ""))
    assert skipped > 0
    assert page.locator("#import-skipped tbody tr").count() > 0
    assert "Không nhập" not in page.inner_text("main")  # nothing outside the scope is an error

    page.get_by_role("link", name="Thủ tục của tôi").click()
    first = page.locator("#procedure-table tbody tr td:first-child a").first
    code = first.inner_text()
    first.click()
    page.wait_for_url(f"{server}/procedures/{code}")
    page.get_by_role("link", name="Bãi bỏ thủ tục…").click()
    page.wait_for_url(f"{server}/procedures/{code}/retire")
    page.get_by_label("Lý do bãi bỏ (bắt buộc)").fill("Bãi bỏ theo Quyết định số 12/QĐ-BTP")
    page.get_by_label(re.compile("Tôi xác nhận bãi bỏ")).check()
    page.get_by_role("button", name="Bãi bỏ thủ tục").click()
    page.wait_for_url(f"{server}/procedures/{code}")
    assert "Đã bãi bỏ thủ tục" in page.inner_text("main")
    assert "Lý do: Bãi bỏ theo Quyết định số 12/QĐ-BTP" in page.inner_text("#audit ~ div")
    assert dash_store.get_procedure(code)["status"] == "retired"

    page.get_by_role("button", name="Khôi phục thủ tục").click()
    page.wait_for_url(f"{server}/procedures/{code}")
    assert "Đã khôi phục thủ tục" in page.inner_text("main")
    assert dash_store.get_procedure(code)["status"] == "active"
