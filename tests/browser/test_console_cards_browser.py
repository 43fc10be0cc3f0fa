"""Issue 22 in headless Chromium, in Vietnamese and in English (a browser with an English
locale in Los Angeles' time zone, the language switched on the page; dates stay Vietnam's): an officer issues a card — a double click on the
confirmation sends the form twice and still makes one card — prints it in a new tab, goes Back
and Reloads (no new card, the printed one still active, the activation code shown only once);
gives the member a new activation code whose letter (PDF) activates her account in the portal
while her card stays valid, and the member page then says she activated it and when; prints a
batch whose activation letters (one PDF, read with pdfium) activate its members in the portal,
downloaded once. Every page visited: axe reports no violation of any impact, at phone and
desktop widths, with screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from tests.browser.conftest import SITE_APP, WIDTHS, check_page, sign_in

PASSWORD = "lotus pond at dawn 22"
PIN = "804615"
CODE_RE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
PEOPLE = [("Đặng Thị Thu Hà", date(1991, 4, 9), "F"), ("Lương Văn Tùng", date(1986, 11, 2), "M"),
          ("Mai Thị Ngọc Ánh", date(1999, 7, 23), "F")]


def check_strict(page: Any, name: str) -> None:
    """axe-core finds no violation of any impact at phone and desktop widths; screenshots."""
    check_page(page, name, any_impact=True)


@pytest.fixture(scope="module")
def scene(site: str) -> Iterator[dict[str, Any]]:
    """Per language a union of Bắc Ninh with three members and no cards: the first gets her
    card by hand, the other two by a batch."""
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.models import Union
    from app.services.access.scope import Principal, Scope
    from app.services.registry.members import MemberRegistry
    from tests.conftest import make_cccd

    app = SITE_APP["app"]
    made: dict[str, Any] = {}
    with app.app_context():
        session = db.new_session(app, write=True)
        registry = MemberRegistry(session, cipher_for_config(app.config), actor="test")
        national = Scope(Principal("user", 0, "admin"))
        for lang in ("vi", "en"):
            code = f"CDCS-24-C1{lang.upper()}"
            session.add(Union(code=code, province_code="24", name=f"CĐCS Công ty TNHH Kính Thuận Thành {lang.upper()}",
                              employer="Công ty TNHH Kính Thuận Thành", industrial_park="KCN Thuận Thành"))
            session.flush()
            members = []
            for name, birth, sex in PEOPLE:
                member, _warnings = registry.create(national, {
                    "full_name": name, "birth_date": birth, "sex": sex,
                    "personal_id": make_cccd(birth, sex), "union_code": code})
                members.append({"id": member.id, "number": member.member_number,
                                "name": name, "birth": birth})
            made[lang] = {"union": code, "members": members}
        session.commit()
        session.close()
    yield made


@pytest.fixture
def tab(request: Any, browser: Any, site: str) -> Iterator[Any]:
    """A desktop tab: for "vi" a Vietnamese browser; for "en" a browser with an English
    locale in Los Angeles' time zone (the pages still say Vietnam's dates and times)."""
    lang = request.node.callspec.params["lang"]
    context = browser.new_context(
        base_url=site, viewport=dict(zip(("width", "height"), WIDTHS["desktop"], strict=True)),
        locale="vi-VN" if lang == "vi" else "en-US",
        timezone_id="Asia/Ho_Chi_Minh" if lang == "vi" else "America/Los_Angeles")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "status of 409" not in msg.text else None)
    yield page
    context.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def _vietnam_today() -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")


def _english(page: Any) -> None:
    page.get_by_role("button", name="English").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")  # an arrow (CSP)


def _tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element ``selector`` has the keyboard focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)",
                         selector):
            return
    raise AssertionError(f"{selector} never got the focus by Tab")


def _card_rows(page: Any, member_id: int) -> list[tuple[str, str]]:
    page.goto(f"/console/members/{member_id}")
    rows = page.locator("table.stack tbody tr").filter(has=page.locator("code"))
    out = []
    for n in range(rows.count()):
        row = rows.nth(n)
        if row.locator("td .badge").count():
            out.append((row.locator("code").first.inner_text().strip(),
                        row.locator("td .badge").first.get_attribute("class") or ""))
    return out


def _activate(browser: Any, site: str, member: dict[str, Any], code: str) -> None:
    """The member activates her account in the portal with the code of her letter."""
    context = browser.new_context(base_url=site, locale="vi-VN")
    try:
        tab = context.new_page()
        tab.goto("/me/activate")
        tab.fill("#member_number", member["number"])
        tab.fill("#activation_code", code)
        tab.fill("#birth_date", member["birth"].isoformat())
        tab.fill("#password", PASSWORD)
        tab.fill("#pin", PIN)
        tab.fill("#pin_again", PIN)
        tab.locator("main button[type=submit]").click()
        tab.wait_for_url(re.compile(r".*/me/(?!activate).*"))
        assert "/me/activate" not in tab.url
    finally:
        context.close()


def _pdf_pages(data: bytes) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return [document[n].get_textpage().get_text_range() for n in range(len(document))]
    finally:
        document.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_issue_print_back_reload_and_a_new_activation_code(
        tab: Any, browser: Any, site: str, scene: dict[str, Any], lang: str,
        tmp_path: Any) -> None:
    page = tab
    member = scene[lang]["members"][0]
    sign_in(page)
    if lang == "en":
        _english(page)
    page.goto(f"/console/members/{member['id']}")
    check_strict(page, f"c1-member-{lang}")
    page.locator("a.button.primary[href$='/issue']").click()
    page.wait_for_url(re.compile(r".*/issue$"))
    check_strict(page, f"c1-confirm-issue-{lang}")
    form = {name: page.locator(f"main form input[name={name}]").input_value()
            for name in ("csrf_token", "form_token")}
    # a slip: the confirmation clicked twice sends the form twice; one card is made
    page.locator("main form button[type=submit]").dblclick()
    page.wait_for_url(re.compile(r".*/console/cards/[A-Z0-9]+/issued$"))
    issued_url = page.url
    serial = re.search(r"/cards/([A-Z0-9]+)/issued", issued_url).group(1)  # type: ignore[union-attr]
    code = page.locator("#activation-code").inner_text().strip()
    assert CODE_RE.fullmatch(code) and code not in page.url
    page.wait_for_load_state("load")
    check_strict(page, f"c1-card-issued-{lang}")
    # the same form sent once more (as a browser resubmitting it would): the first result
    again = page.request.post(f"/console/members/{member['id']}/issue", form=form,
                              max_redirects=0)
    assert again.status == 303 and again.headers["location"].endswith(f"/cards/{serial}/issued")
    # printing opens the PDF in a new tab; this page stays
    link = page.locator("#print-card")
    assert link.get_attribute("target") == "_blank"
    with page.context.expect_page() as opened:
        link.click()
    pdf_tab = opened.value
    pdf_tab.wait_for_load_state("commit")
    assert pdf_tab.url.endswith(f"/cards/{serial}/print/card.pdf")
    pdf_tab.close()
    assert page.url == issued_url
    # Back, then Reload: the confirmation page again, nothing issued
    page.go_back()
    page.wait_for_url(re.compile(r".*/issue$"))
    page.reload()
    page.wait_for_url(re.compile(r".*/issue$"))
    # the confirmation now names the card just issued, with when, as the one a reissue revokes
    assert page.locator("main li code", has_text=serial).is_visible()
    check_strict(page, f"c1-confirm-reissue-{lang}")
    # forward to the card and Reload: the card, no code any more, nothing issued
    page.go_forward()
    page.wait_for_url(issued_url)
    page.reload()
    assert page.locator("#activation-code").count() == 0
    assert page.locator("#activation-code-shown").is_visible()
    check_strict(page, f"c1-card-issued-again-{lang}")
    rows = _card_rows(page, member["id"])
    assert len(rows) == 1 and rows[0][0] == serial and "status-active" in rows[0][1]
    # the member page says she has not activated her account; a new activation code
    assert page.locator("#account-activated").inner_text().strip() in ("Chưa", "Not yet")
    # by the keyboard: Tab to "New activation code", Enter; Tab to the confirmation, Enter
    _tab_to(page, "#new-code")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/activation-code$"))
    check_strict(page, f"c1-confirm-new-code-{lang}")
    _tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/activation-code/new$"))
    new_code = page.locator("#activation-code").inner_text().strip()
    assert CODE_RE.fullmatch(new_code) and new_code != code
    check_strict(page, f"c1-new-code-{lang}")
    _tab_to(page, "#print-letter")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    letter = (tmp_path / "letter.pdf")
    download.value.save_as(letter)
    pages = _pdf_pages(letter.read_bytes())
    assert len(pages) == 1 and new_code in pages[0] and "Thư kích hoạt" in pages[0]
    assert f"{site}/me/activate" in pages[0].replace("\r", "").replace("\n", "")
    page.reload()  # shown once
    assert page.locator("#activation-code").count() == 0
    # the letter's code activates her account; the old one would not; the card is the same
    _activate(browser, site, member, CODE_RE.search(pages[0]).group(1))  # type: ignore[union-attr]
    rows = _card_rows(page, member["id"])
    assert len(rows) == 1 and rows[0][0] == serial and "status-active" in rows[0][1]
    activated = page.locator("#account-activated").inner_text()
    assert _vietnam_today() in activated  # Vietnam's date, whatever the browser's zone
    assert page.locator("#account-pin").inner_text().strip() in ("không bị khóa", "not locked")
    check_strict(page, f"c1-member-activated-{lang}")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_batch_with_its_activation_letters(tab: Any, browser: Any, site: str,
                                             scene: dict[str, Any], lang: str,
                                             tmp_path: Any) -> None:
    page = tab
    union = scene[lang]["union"]
    sign_in(page)
    if lang == "en":
        _english(page)
    page.goto("/console/batches/new")
    page.select_option("#union_code", union)
    check_strict(page, f"c1-batch-form-{lang}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/console/jobs/[^/]+$"))
    job_url = page.url
    for _ in range(60):
        if page.locator("#letters").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator("#download-letters").is_visible()
    check_strict(page, f"c1-batch-letters-{lang}")
    _tab_to(page, "#download-letters")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    saved = tmp_path / "letters.pdf"
    download.value.save_as(saved)
    # a slip: the same button again (the same form): "already done", no second download
    page.locator("#download-letters").click()
    page.wait_for_url(re.compile(r".*/letters\.pdf$"))
    assert page.locator("h1").inner_text().strip() in ("Đã thực hiện rồi", "Already done")
    check_strict(page, f"c1-already-done-{lang}")
    page.go_back()
    page.wait_for_url(job_url)
    pages = _pdf_pages(saved.read_bytes())
    # the first member already had her card (or none yet in this run): one page a new card
    batch_members = [m for m in scene[lang]["members"][1:]]
    assert len(pages) >= len(batch_members)
    for member in batch_members:
        page_text = next(p for p in pages if member["number"] in p)
        assert member["name"] in page_text and f"{site}/me/activate" in page_text.replace(
            "\r", "").replace("\n", "")
        _activate(browser, site, member, CODE_RE.search(page_text).group(1))  # type: ignore[union-attr]
    # the letters were handed out once: Reload says so; the form sent again does nothing
    page.reload()
    assert page.url == job_url and page.locator("#letters-taken").is_visible()
    check_strict(page, f"c1-batch-letters-taken-{lang}")
    page.goto(f"/console/members/{batch_members[0]['id']}")
    assert re.search(r"\d{4}", page.locator("#account-activated").inner_text())
