"""The member's access log in headless Chromium on a phone (390×844): a clinic's desk visit
(the card checked, a wrong PIN, the PIN, the record opened — through the clinic API) is ONE
entry saying what was shown; an emergency access stands out; the log is filtered by clinic and
period (kept in the URL, through a reload); the entry's steps open on demand; the member
reports the visit ("I don't recognise this") with a slip on the way, keeping what she typed;
the national administrator works the report to closed in the console (desktop); the member
reads the outcome. Every page is checked with axe-core, failing on a violation of ANY impact,
and photographed at phone and desktop widths in Vietnamese and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import SITE_APP, WIDTHS, check_page, sign_in
from tests.browser.portal_scene import fill_activation, new_letter

PASSWORD = "nhat-ky-truy-cap-2026"
PIN = "592614"
#: The demo clinics of this test (no other browser test uses them): a desk visit at the
#: first, an emergency access at the second.
DESK = ("27016", "clinic-27016-demo", "demo-clinic-27016-2026")
HOSPITAL = ("01045", "clinic-01045-demo", "demo-clinic-01045-2026")
ADMIN = ("admin", "demo-national-2026")
NOTE = "Hôm đó tôi nghỉ phép, không đến trạm y tế."


def strict_axe(page: Any, name: str) -> None:
    """axe-core at phone and desktop widths: no violation of any impact (minor included)."""
    from axe_playwright_python.sync_playwright import Axe

    size = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        violations = Axe().run(page).response["violations"]
        found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                 for v in violations]
        assert found == [], f"{name} ({label}): accessibility violations {found}"
    page.set_viewport_size(size)


def look(page: Any, name: str) -> None:
    """Strict axe, then the screenshots at both widths (``check_page``)."""
    size = page.viewport_size
    strict_axe(page, name)
    check_page(page, name)
    page.set_viewport_size(size)


def _watched(context: Any) -> tuple[Any, list[str]]:
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error"
           and not (m.text.startswith("Failed to load resource: the server responded with a "
                                      "status of 4") and m.location.get("url") == tab.url)
           else None)
    return tab, errors


@pytest.fixture
def phone(browser: Any, site: str) -> Iterator[Any]:
    """The member's phone: a fresh profile at 390×844, in Vietnamese."""
    context = browser.new_context(base_url=site, locale="vi-VN", viewport=dict(zip(
        ("width", "height"), WIDTHS["phone"], strict=True)), has_touch=True)
    context.set_default_timeout(15_000)
    tab, errors = _watched(context)
    yield tab
    context.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def _card_text(serial: str) -> str:
    from app.composition import card_desk_for
    from app.extensions import db
    from app.models import Card

    app = SITE_APP["app"]
    with app.app_context(), db.new_session(app) as session:
        card = session.scalar(select(Card).where(Card.serial == serial))
        assert card is not None
        return str(card_desk_for(app, session, "user:0").text(card))


def _share_allergies_with_the_station(serial: str) -> None:
    """The member shares her allergies with the health station, for treatment (as on her
    sharing page; done through the service: the sharing page is another test's)."""
    from app.extensions import db
    from app.models import Card
    from app.services.health.consent import ConsentService, Evidence, Grantee, add_months

    app = SITE_APP["app"]
    with app.app_context(), db.new_session(app, write=True) as session:
        card = session.scalar(select(Card).where(Card.serial == serial))
        assert card is not None
        service = ConsentService(session)
        service.grant(card.member_id, "allergies", Grantee("facility", DESK[0]), "treatment",
                      Evidence(method="app", actor=f"member:{card.member_id}"),
                      ends_at=add_months(service.clock(), 1))
        session.commit()


def _clinic_token(api: Any, client_id: str, secret: str) -> dict[str, str]:
    answer = api.post("/api/v1/auth/token", form={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert answer.ok, answer.text()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _desk_visit(api: Any, text: str) -> None:
    """At the health station's desk: the card checked, a wrong PIN, the PIN, the record."""
    headers = _clinic_token(api, DESK[1], DESK[2])
    body = {"uc1": text, "purpose": "treatment"}
    assert api.post("/api/v1/verify", data=body, headers=headers).ok
    wrong = api.post("/api/v1/verify", headers=headers,
                     data={**body, "presence": {"pin": "111999"}})
    assert wrong.status == 422, wrong.text()
    verified = api.post("/api/v1/verify", headers=headers, data={**body, "presence": {"pin": PIN}})
    assert verified.ok, verified.text()
    grant = verified.json()["grant"]
    assert grant is not None, verified.json()
    pulled = api.get("/api/v1/pull", headers={**headers, "X-Pull-Grant": grant["token"]})
    assert pulled.ok, pulled.text()


def _emergency(api: Any, text: str) -> None:
    headers = _clinic_token(api, HOSPITAL[1], HOSPITAL[2])
    answer = api.post("/api/v1/emergency-access", headers=headers, data={
        "uc1": text, "reason": "trauma", "text": "Tai nạn lao động, bất tỉnh tại xưởng."})
    assert answer.ok, answer.text()


def _activate(page: Any, letter: Any) -> None:
    page.goto("/me/activate")
    fill_activation(page, letter, PASSWORD, PIN)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/me/(?!activate).*"))


def _entries(page: Any, clinic: str) -> Any:
    return page.locator("li.visit", has=page.locator("h2", has_text=f"({clinic})"))


def _english(page: Any) -> None:
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"


def _vietnamese(page: Any) -> None:
    page.get_by_role("button", name="Tiếng Việt").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "vi"


def test_a_visit_is_one_entry_reported_and_worked_to_closed(phone: Any, browser: Any,
                                                             site: str, playwright: Any) -> None:
    letter = new_letter(SITE_APP["app"])
    _activate(phone, letter)
    api = playwright.request.new_context(base_url=site)
    text = _card_text(letter.card_serial)
    _share_allergies_with_the_station(letter.card_serial)
    _desk_visit(api, text)
    _emergency(api, text)
    api.dispose()

    # the whole log on the phone: the desk visit is one entry; the emergency stands out
    phone.goto("/me/access-log")
    desk = _entries(phone, DESK[0])
    assert desk.count() == 1
    assert desk.locator(".shown").inner_text().strip() != "không phần nào trong hồ sơ của bạn"
    assert "Dị ứng" in desk.locator(".shown").inner_text()
    assert desk.locator(".emergency-banner").count() == 0
    emergency = _entries(phone, HOSPITAL[0])
    assert emergency.count() == 1
    banner = emergency.locator(".emergency-banner")
    assert banner.is_visible() and "TRUY CẬP KHẨN CẤP" in banner.inner_text().upper()
    colour = banner.evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(160, 0, 28)"
    assert "Tai nạn lao động" in emergency.inner_text()
    look(phone, "portal-access-log")

    # filter by clinic with the keyboard: the choice goes in the URL and survives a reload
    phone.focus("#filter-clinic")
    phone.select_option("#filter-clinic", DESK[0])
    phone.keyboard.press("Tab")
    phone.keyboard.press("Tab")
    phone.keyboard.press("Tab")
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(rf".*clinic={DESK[0]}.*"))
    phone.reload()
    assert phone.locator("li.visit").count() == 1 and _entries(phone, DESK[0]).count() == 1
    # a period: the dates as typed stay; a backwards period is said, not a 500
    phone.goto(f"/me/access-log?clinic={DESK[0]}&from=2030-01-02&to=2030-01-01")
    assert phone.locator("#filter-to-error").is_visible()
    assert phone.locator("#filter-to").get_attribute("aria-invalid") == "true"
    look(phone, "portal-access-log-filter-error")
    phone.goto(f"/me/access-log?clinic={DESK[0]}&from=2000-01-01")
    entry = _entries(phone, DESK[0])
    assert entry.count() == 1

    # the steps behind the entry, opened with the keyboard
    steps = entry.locator("details.steps")
    steps.locator("summary").focus()
    phone.keyboard.press("Enter")
    rows = steps.locator("tbody tr")
    rows.first.wait_for()
    assert rows.count() == 4  # checked, wrong PIN, checked with the PIN, record opened
    look(phone, "portal-access-log-steps")

    # "I don't recognise this": a slip (no reason) keeps the note typed, then the report
    report = entry.locator("details.report")
    report.locator("summary").focus()
    phone.keyboard.press("Enter")
    note = report.locator("textarea")
    note.fill(NOTE)
    report.locator("button[type=submit]").focus()
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/me/access-log/report")
    entry = _entries(phone, DESK[0])
    assert entry.locator("details.report textarea").input_value() == NOTE
    assert entry.locator("details.report .field-error").is_visible()
    look(phone, "portal-access-log-report-slip")
    entry.locator("input[value=not-there]").focus()
    phone.keyboard.press("Space")
    entry.locator("details.report button[type=submit]").focus()
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(r".*done=reported.*"))
    assert f"clinic={DESK[0]}" in phone.url and "from=2000-01-01" in phone.url
    phone.reload()
    entry = _entries(phone, DESK[0])
    assert entry.locator(".badge.status-open").is_visible()
    assert entry.locator("details.report").count() == 0
    look(phone, "portal-access-log-reported")
    _english(phone)
    assert _entries(phone, DESK[0]).locator(".badge.status-open").inner_text() == \
        "received, waiting to be looked at"
    phone.goto("/me/access-log")
    assert "EMERGENCY ACCESS" in _entries(phone, HOSPITAL[0]).inner_text()
    look(phone, "portal-access-log-en")
    _vietnamese(phone)

    # the data-protection contact at the console, on a desktop
    context = browser.new_context(base_url=site, locale="vi-VN", viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)))
    context.set_default_timeout(15_000)
    desk_tab, errors = _watched(context)
    sign_in(desk_tab, *ADMIN)
    desk_tab.get_by_role("link", name="Báo cáo truy cập").click()
    desk_tab.wait_for_url("**/console/access-reports")
    desk_tab.select_option("#status", "open")
    desk_tab.fill("#clinic", DESK[0])
    desk_tab.locator("main button[type=submit]").click()
    desk_tab.wait_for_url(re.compile(r".*status=open.*"))
    look(desk_tab, "console-access-reports")
    desk_tab.locator("tbody a").first.click()
    desk_tab.wait_for_url(re.compile(r".*/console/access-reports/\d+$"))
    body = desk_tab.locator("main").inner_text()
    assert NOTE in body and letter.member_number in body
    for secret in ("Dị ứng", "allergies", "Tai nạn", "Trần Văn Hùng"):
        assert secret not in body  # the events and the clinic, no health content, no name
    assert desk_tab.locator("tbody tr").count() == 4
    look(desk_tab, "console-access-report")
    desk_tab.select_option("#status", "investigating")
    desk_tab.fill("#note", "Đang hỏi trạm y tế KCN Yên Phong.")
    desk_tab.locator("main button[type=submit]").click()
    desk_tab.wait_for_url(re.compile(r".*done=saved$"))
    # a slip: closing without a note keeps the choice and says what is missing
    desk_tab.select_option("#status", "closed")
    desk_tab.fill("#note", "")
    desk_tab.locator("main button[type=submit]").click()
    desk_tab.locator("#note-error").wait_for()
    assert desk_tab.locator("#status").input_value() == "closed"
    look(desk_tab, "console-access-report-slip")
    desk_tab.fill("#note", "Trạm y tế quét nhầm thẻ của chị; đã nhắc nhở và ghi nhận.")
    desk_tab.locator("main button[type=submit]").click()
    desk_tab.wait_for_url(re.compile(r".*done=saved$"))
    assert desk_tab.locator("h1 .badge.status-closed").is_visible()
    assert desk_tab.locator("form textarea").count() == 0
    _english(desk_tab)
    look(desk_tab, "console-access-report-en")
    context.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"

    # the member reads the outcome on her log
    phone.goto(f"/me/access-log?clinic={DESK[0]}")
    entry = _entries(phone, DESK[0])
    assert entry.locator(".badge.status-closed").is_visible()
    assert "Trạm y tế quét nhầm thẻ của chị" in entry.locator(".report-status").inner_text()
    look(phone, "portal-access-log-closed")
