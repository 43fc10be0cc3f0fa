"""Browser tests (issue 22): roster imports that explain themselves, and dates as dd/mm/yyyy.

An officer uploads a roster with wrong headers and reads the missing columns by name (the mode
she chose kept); checks a roster big enough for several batches with a dry run, downloads the
report as CSV (parsed back, BOM present), imports the checked file for real without choosing it
again while the progress bar moves through intermediate values, and follows the links to the
imported members and to printing their cards. In an English-locale browser (en-US), where a
date input would show mm/dd/yyyy, the member form takes and shows dates as dd/mm/yyyy, with an
inline error for an impossible one. Every page is axe-clean (no violation of any impact), with
screenshots in Vietnamese and English."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.roster_fixtures import EN_HEADERS, people, to_csv
from tests.browser.conftest import SITE_APP, WIDTHS, check_page, sign_in

#: This test's own union (no other test prints a batch of its thousands of members).
UNION = "CDCS-24-C2IMPORT"
#: Rows per committed batch while these tests run (the progress bar must move between them).
BATCH = 50
ROWS = 3000


def check_all(page: Any, name: str) -> None:
    """axe-core finds no violation of any impact at phone and desktop widths; screenshots."""
    check_page(page, name, any_impact=True)


@pytest.fixture
def small_batches(site: str) -> Iterator[None]:
    """Imports commit ``BATCH`` rows at a time while the test runs (read when a job starts)."""
    app = SITE_APP["app"]
    before = app.config["IMPORT_BATCH_SIZE"]
    app.config["IMPORT_BATCH_SIZE"] = BATCH
    yield
    app.config["IMPORT_BATCH_SIZE"] = before


@pytest.fixture
def own_union(site: str) -> str:
    """A union of Bắc Ninh for this module's members."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Union

    app = SITE_APP["app"]
    with app.app_context():
        session = db.new_session(app, write=True)
        if session.scalar(select(Union.id).where(Union.code == UNION)) is None:
            session.add(Union(code=UNION, province_code="24", name="CĐCS Công ty TNHH Dệt Quế Võ",
                              employer="Công ty TNHH Dệt Quế Võ", industrial_park="KCN Quế Võ"))
            session.commit()
        session.close()
    return UNION


def english(page: Any) -> None:
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "en"


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_roster_with_wrong_headers_names_the_missing_columns(
        page: Any, tmp_path: Any, language: str) -> None:
    rows = people(3, "CDCS-24-QUEVO1", seed=31)
    headers = EN_HEADERS if language == "en" else None
    text = to_csv(rows, headers)
    # drop the personal ID and sex columns: the file as a whole is refused
    lines = [next(csv.reader([line])) for line in text.strip().split("\r\n")]
    keep = [i for i, h in enumerate(lines[0]) if h not in ("Số CCCD", "Giới tính",
                                                          "personal_id", "sex")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in lines:
        writer.writerow([line[i] for i in keep])
    roster = tmp_path / "thieu-cot.csv"
    roster.write_text(out.getvalue(), encoding="utf-8")
    sign_in(page)
    if language == "en":
        english(page)
    page.goto("/console/imports")
    page.set_input_files("#file", str(roster))
    page.check("#real")  # the officer's choice survives the refusal
    page.locator("main button[type=submit]").click()
    alert = page.locator("#file-error")
    alert.wait_for()
    said = alert.inner_text()
    if language == "vi":
        assert "Thiếu cột bắt buộc: Giới tính, Số CCCD." in said, said
    else:
        assert "Missing required columns: sex, personal_id." in said, said
    assert "some details" not in said.lower() and "không hợp lệ" not in said.lower()
    assert page.locator("#real").is_checked()
    assert page.locator("#file").get_attribute("aria-invalid") == "true"
    check_all(page, f"import-missing-columns-{language}")
    # an unknown column is named too
    roster.write_text("Họ và tên,Ngày sinh,Giới tính,Số CCCD,Mã công đoàn cơ sở,Lương\r\n"
                      "Nguyễn Văn An,01/02/1990,Nam,027090000001,CDCS-24-QUEVO1,5000000\r\n",
                      encoding="utf-8")
    page.set_input_files("#file", str(roster))
    page.locator("main button[type=submit]").click()
    page.locator("#file-error").wait_for()
    said = page.locator("#file-error").inner_text()
    assert "“Lương” (" in said and ("cột 6" in said if language == "vi" else "column 6" in said), said


def test_dry_run_then_import_for_real_with_a_moving_progress_bar(
        page: Any, tmp_path: Any, small_batches: None, own_union: str) -> None:
    rows = people(ROWS, UNION, seed=2207)
    for i in range(ROWS):  # numbers outside the fixture's serials: no clash with other tests
        rows[i]["personal_id"] = rows[i]["personal_id"][:6] + f"{700000 + i:06d}"
    rows[3]["personal_id"] = "12345"  # reported by the dry run
    rows[8]["full_name"] = "=HYPERLINK(1)"  # a formula in a cell: neutralised in the CSV
    roster = tmp_path / "danh-sach-lon.csv"
    roster.write_text(to_csv(rows), encoding="utf-8")
    sign_in(page)
    page.get_by_role("link", name="Nhập danh sách").click()
    page.set_input_files("#file", str(roster))
    assert page.locator("#dry").is_checked()
    page.locator("main button[type=submit]").focus()
    page.keyboard.press("Enter")  # by the keyboard
    page.wait_for_url(re.compile(r".*/console/jobs/\w+$"))
    dry_url = page.url
    page.locator("#report").wait_for(timeout=120_000)
    check_all(page, "console-import-report")
    # the report as CSV: UTF-8 with a BOM, parsed back, formula neutralised
    with page.expect_download() as waiting:
        page.locator("#report-csv").click()
    download = waiting.value
    with open(download.path(), "rb") as saved:
        raw = saved.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["Dòng", "Cột", "Giá trị", "Mức độ", "Lý do"], table[0]
    assert ["5", "Số CCCD"] == table[1][:2] and table[1][3] == "lỗi", table[1]
    assert table[1][4] == "Số CCCD phải có đúng 12 chữ số.", table[1]
    phone = [r for r in table[1:] if r[0] == "10"]
    assert phone and phone[0][2].startswith("'="), phone
    # import for real: the checked file, never chosen again (a double click starts one job)
    page.get_by_role("button", name="Nhập thật tệp này").dblclick()
    page.wait_for_url(lambda url: url != dry_url and re.search(r"/console/jobs/\w+$", url))
    real_url = page.url
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if page.locator("#imported, #report").count():
                break
            value = page.evaluate("() => { const b = document.getElementById('bar');"
                                  " return b ? [b.value, b.max] : null; }")
        except Exception:  # the page reloads itself once the job has finished
            time.sleep(0.05)
            continue
        if value and (not seen or seen[-1] != (int(value[0]), int(value[1]))):
            seen.append((int(value[0]), int(value[1])))
        time.sleep(0.05)
    page.locator("#imported").wait_for(timeout=60_000)
    middle = [v for v, top in seen if 0 < v < top]
    print(f"progress values seen: {seen}")
    assert len(middle) >= 2, f"the bar did not move through the batches: {seen}"
    counts = page.locator("dl.counts").inner_text()
    assert re.search(r"Đoàn viên mới\s+2998", counts), counts
    check_all(page, "import-done-vi")
    assert real_jobs("danh-sach-lon.csv") == 1
    page.reload()  # Reload: the same finished job, nothing done again
    assert re.search(r"Đoàn viên mới\s+2998", page.locator("dl.counts").inner_text())
    assert real_jobs("danh-sach-lon.csv") == 1
    # the results: the imported members, and a batch to print their cards
    imported = page.locator("#imported")
    assert re.search(r"CDCS-24-C2IMPORT\s+2998", imported.locator("tbody").inner_text())
    first = imported.locator("ul a").first
    name = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r".*/console/members/\d+$"))
    assert page.locator("h1", has_text=name).is_visible()
    page.go_back()
    page.locator("#imported").get_by_role("link", name=re.compile(UNION)).click()
    page.wait_for_url(re.compile(r".*/console/batches/new\?union_code=CDCS-24-C2IMPORT"))
    assert page.locator("#union_code").input_value() == UNION
    # Back to the dry run: its file was used once, importing it again says so
    page.go_back()
    page.wait_for_url(real_url)
    page.go_back()
    page.wait_for_url(dry_url)
    assert page.get_by_role("button", name="Nhập thật tệp này").count() == 0
    assert page.get_by_text("Tệp đã kiểm tra không còn được giữ").count() == 1
    assert real_jobs("danh-sach-lon.csv") == 1
    # the same pages in English
    english(page)
    page.goto(dry_url)
    assert page.get_by_text("The checked file is no longer kept").count() == 1
    assert page.locator("#report caption").inner_text().startswith("Problems by row")
    check_all(page, "import-dry-run-en")
    page.goto(real_url)
    assert re.search(r"New members\s+2998", page.locator("dl.counts").inner_text())
    assert page.get_by_role("link", name=f"Print the cards of {UNION}").count() == 1
    check_all(page, "import-done-en")


def real_jobs(file_name: str) -> int:
    """How many imports for real (not dry runs) of ``file_name`` the service has."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Job
    from app.services.registry import imports

    app = SITE_APP["app"]
    session = db.new_session(app)
    try:
        return sum(1 for job in session.scalars(select(Job).where(Job.kind == imports.KIND))
                   if job.params.get("file_name") == file_name and not job.params.get("dry_run"))
    finally:
        session.close()


def test_english_locale_dates_are_day_first(browser: Any, site: str, own_union: str) -> None:
    context = browser.new_context(base_url=site, locale="en-US", viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)))
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page)
        english(page)
        page.get_by_role("link", name="Register", exact=True).click()
        birth = page.locator("#birth_date")
        assert birth.get_attribute("type") == "text"
        assert birth.get_attribute("inputmode") == "numeric"
        assert "dd/mm/yyyy" in page.locator("#birth_date-hint").inner_text()
        page.fill("#full_name", "Phạm Thị Mai Anh")
        birth.press_sequentially("31/02/1990")  # no such day: the server says so inline
        page.select_option("#sex", "F")
        page.fill("#personal_id", "027190004322")
        page.select_option("#union_code", UNION)
        page.locator("#join_date").press_sequentially("1.3.2012")  # dots, one digit
        page.keyboard.press("Tab")  # leaving the field writes it day first with slashes
        assert page.locator("#join_date").input_value() == "01/03/2012"
        page.locator("main button[type=submit]").click()
        page.locator("#birth_date-error").wait_for()
        assert "31/02/1990" in page.locator("#birth_date-error").inner_text()
        assert page.locator("#birth_date").get_attribute("aria-invalid") == "true"
        assert page.locator("#full_name").input_value() == "Phạm Thị Mai Anh"  # kept
        assert page.locator("#join_date").input_value() == "01/03/2012"
        check_all(page, "member-date-error-en")
        page.fill("#birth_date", "12/05/1990")  # 12 May 1990, whatever the browser's locale
        page.locator("main button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/console/members/\d+$"))
        facts = page.locator("main").inner_text()
        assert "12/05/1990" in facts and "01/03/2012" in facts, facts
        page.get_by_role("link", name="Edit details").click()
        assert page.locator("#birth_date").input_value() == "12/05/1990"
        assert page.locator("#join_date").input_value() == "01/03/2012"
        check_all(page, "member-edit-dates-en")
        page.fill("#join_date", "2013-04-02")  # ISO accepted too
        page.locator("main button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/console/members/\d+$"))
        assert "02/04/2013" in page.locator("main").inner_text()
        # and in Vietnamese
        page.get_by_role("button", name="Tiếng Việt").click()
        page.get_by_role("link", name="Sửa thông tin").click()
        assert page.locator("#birth_date").input_value() == "12/05/1990"
        check_all(page, "member-edit-dates-vi")
    finally:
        context.close()
    assert errors == []
