"""The office console in headless Chromium: an officer finds a member by typing a name without
diacritics, issues and prints a card, registers a member and prints a batch, checks a roster
with a dry run and imports it with a live progress bar, and one pass in English."""

from __future__ import annotations

import re
from typing import Any

from tests.app.roster_fixtures import people, to_csv
from tests.browser.conftest import check_page, sign_in


def test_officer_finds_a_member_without_diacritics_issues_and_prints_a_card(page: Any) -> None:
    page.goto("/console/")
    assert "/console/login" in page.url  # not signed in yet
    check_page(page, "login")
    sign_in(page)
    # typing without diacritics: the results follow the typing (no form submission)
    page.locator("#q").press_sequentially("nguyen thi kim", delay=40)
    result = page.locator("#results a", has_text="Nguyễn Thị Kim Yến")
    result.wait_for()
    assert "/console/members?q=" not in page.url  # found by the script, not by submitting
    check_page(page, "search")
    result.click()
    page.wait_for_url(re.compile(r".*/console/members/\d+$"))
    assert page.locator("h1", has_text="Nguyễn Thị Kim Yến").is_visible()
    assert page.get_by_text("Đã liên kết").or_(page.get_by_text("Chưa liên kết")).count() >= 1
    check_page(page, "member")
    # issuing asks first
    page.locator("a.button.primary", has_text="thẻ").click()
    page.wait_for_url(re.compile(r".*/issue$"))
    check_page(page, "confirm-issue")
    page.get_by_role("button", name="Đồng ý, cấp thẻ").click()
    code = page.locator("#activation-code")
    code.wait_for()
    assert re.fullmatch(r"[A-Z0-9-]{6,}", code.inner_text().strip())
    preview = page.locator("img.card-preview")
    preview.wait_for()
    page.wait_for_load_state("load")  # images included (polling by eval would break the CSP)
    assert preview.evaluate("img => img.complete && img.naturalWidth") > 0
    check_page(page, "card-issued")
    # printing: the card's PDF, with this browser session's cookie
    pdf_link = page.get_by_role("link", name="In thẻ (PDF)")
    pdf = page.request.get(pdf_link.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    # the member page lists the new card and the superseded one; suspending asks first
    page.get_by_role("link", name="Quay lại hồ sơ đoàn viên").click()
    page.locator("a", has_text="Tạm khóa").first.click()
    check_page(page, "confirm-suspend")
    page.select_option("#reason", "investigation")
    page.get_by_role("button", name="Đồng ý, tạm khóa").click()
    page.wait_for_url(re.compile(r".*/console/members/\d+$"))
    assert page.locator("td .badge", has_text="tạm khóa").count() == 1


def test_officer_registers_a_member_and_prints_a_batch(page: Any) -> None:
    sign_in(page)
    page.get_by_role("link", name="Đăng ký", exact=True).click()
    check_page(page, "register")
    page.fill("#full_name", "Đỗ Thị Thu Hằng")
    page.fill("#birth_date", "1996-04-21")
    page.select_option("#sex", "F")
    page.fill("#personal_id", "027196004321")
    page.select_option("#union_code", "CDCS-24-YENPHONG")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url(re.compile(r".*/console/members/\d+$"))
    assert page.locator("h1", has_text="Đỗ Thị Thu Hằng").is_visible()
    page.get_by_role("link", name="In thẻ theo lô").click()
    page.select_option("#union_code", "CDCS-24-YENPHONG")
    check_page(page, "batch")
    page.get_by_role("button", name="Bắt đầu in lô").click()
    sheet = page.locator("a", has_text="Tờ 1 (PDF)")
    sheet.wait_for(timeout=60_000)
    check_page(page, "batch-done")
    pdf = page.request.get(sheet.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")


def test_officer_checks_a_roster_with_a_dry_run_then_imports_it(page: Any, tmp_path: Any) -> None:
    rows = people(40, "CDCS-24-QUEVO1", seed=12)
    rows[5]["personal_id"] = "12345"  # a row the dry run must report
    roster = tmp_path / "danh-sach.csv"
    roster.write_text(to_csv(rows), encoding="utf-8")
    sign_in(page)
    page.get_by_role("link", name="Nhập danh sách").click()
    check_page(page, "import")
    page.set_input_files("#file", str(roster))
    assert page.locator("#dry").is_checked()
    page.get_by_role("button", name="Tải lên").click()
    page.wait_for_url(re.compile(r".*/console/jobs/\w+$"))
    assert page.locator("progress#bar").count() == 1
    report = page.locator("#report")
    report.wait_for(timeout=60_000)  # the page reloads itself once the job has finished
    first = report.locator("tbody tr").first
    assert first.locator("td").first.inner_text().strip() == "7"  # header + 6th data row
    # the service's reason, in the page's language
    assert first.locator("td").last.inner_text().strip() == "Số CCCD phải có đúng 12 chữ số."
    bar = page.locator("progress#bar")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    check_page(page, "import-dry-run")
    # now for real: the valid rows are created (the checked file, not chosen again)
    page.get_by_role("button", name="Nhập thật tệp này").click()
    page.wait_for_url(re.compile(r".*/console/jobs/\w+$"))
    page.locator("dl.counts").wait_for(timeout=60_000)
    counts = page.locator("dl.counts").inner_text()
    assert re.search(r"Đoàn viên mới\s+39", counts), counts
    check_page(page, "import-done")


def test_one_pass_in_english(page: Any) -> None:
    sign_in(page)
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/console/members")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1", has_text="Find a member").is_visible()
    page.locator("#q").press_sequentially("tran", delay=40)
    page.locator("#results li").first.wait_for()
    check_page(page, "search-en")
    page.locator("#results a").first.click()
    page.get_by_role("heading", name="Cards").wait_for()
    check_page(page, "member-en")
    page.get_by_role("link", name="Dashboard").click()
    page.locator("svg.chart").first.wait_for()  # count() does not wait for the new page
    assert page.locator("svg.chart").count() == 4
    assert page.get_by_role("heading", name="By province").is_visible()
    check_page(page, "dashboard-en")
    page.get_by_role("button", name="Tiếng Việt").click()
    page.get_by_role("heading", name="Mức bao phủ").wait_for()
    check_page(page, "dashboard")
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url("**/console/login")
