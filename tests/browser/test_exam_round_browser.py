"""A whole exam round through the pages in Chromium (issue 26's "Done when"): the Bắc Ninh
officer plans a round for the members due in one union (a slip in the form first), a member
confirms in the portal, the clinic's desk checks three workers in by handheld-scanner input
(typed text and Enter, one after another), the clinic records one result on the desk's page
and two by the FHIR API while the national health record's FHIR server (a real process
started here) is down, the member sees hers in her record page, the server comes back and the
results' outbox delivers, the round page shows three examined and three delivered, and the
dashboard's coverage moved. Every page is checked with axe (no violation of any impact) and
photographed (docs/screenshots/exam-*.png with UNIONCARD_REFRESH_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import re
import secrets
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.browser.conftest import SITE_APP, WIDTHS, check_page, sign_in
from tests.browser.desk_scene import card_of
from tests.browser.portal_scene import CLINIC_CODE
from tests.fhir_server.process import fhir_server as fhir_server  # the fixture

UNION = "CDCS-24-QUEVO1"
#: The demo members linked to their health record in that union (app/services/demo.py): the
#: first has a portal account.
WORKERS = ("Nguyễn Thị Kim Yến", "Trần Văn Hùng", "Lê Thị Hoa")
MEMBER_LOGIN = ("2400000001", "demo-member-2026")
CLINIC_LOGIN = (f"clinic-{CLINIC_CODE}-demo", f"demo-clinic-{CLINIC_CODE}-2026")


def _context(browser: Any, site: str, errors: list[str]) -> Any:
    context = browser.new_context(base_url=site, locale="vi-VN", viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)))
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and not (
        m.text.startswith("Failed to load resource: the server responded with a status of 4")
    ) else None)
    return tab


def _member_numbers() -> dict[str, str]:
    from app.extensions import db
    from app.models import Member

    app = SITE_APP["app"]
    with app.app_context(), db.new_session(app) as session:
        return {name: number for name, number in session.execute(
            select(Member.full_name, Member.member_number).where(
                Member.full_name.in_(WORKERS), Member.union_code == UNION))}


def _deliver(server: Any, *, later: timedelta = timedelta()) -> Any:
    """One run of the exam results' outbox (the worker's exam-results duty) to ``server``,
    at a clock ``later`` than now (past a retry's backoff)."""
    from app.clock import now as utc_now
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services.exams.delivery import Delivery
    from app.services.health.fhir_client import FhirPullClient

    app = SITE_APP["app"]
    with app.app_context():
        return Delivery(lambda: db.new_session(app, write=True), cipher_for_config(app.config),
                        lambda: FhirPullClient(server.base_url, timeout=1.0, retries=0,
                                               backoff=0.0),
                        clock=lambda: utc_now() + later).run()


def _api(site: str, path: str, *, token: str | None = None, body: Any = None,
         form: dict[str, str] | None = None, media: str = "application/json") -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = media
    request = urllib.request.Request(site + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _counts(page: Any) -> dict[str, str]:
    html = page.locator("#round-counts").inner_html()
    return dict(re.findall(r'data-state="([a-z-]+)">(\d+)</td>', html))


def _examined_share(page: Any) -> str:
    cell = page.locator(f'#targets-unions tr[data-code="{UNION}"] td[data-share="examined"]')
    return " ".join(cell.inner_text().split())


def test_a_whole_exam_round_through_the_pages(browser: Any, site: str, page: Any,
                                              fhir_server: Any) -> None:
    from app.clock import today_in_vietnam
    from tests.app.exam_scene import fhir_result

    errors: list[str] = []
    today = today_in_vietnam().strftime("%d/%m/%Y")
    title = f"Khám định kỳ KCN Quế Võ {secrets.token_hex(2)}"
    numbers = _member_numbers()
    assert sorted(numbers) == sorted(WORKERS)

    # -- the office: the dashboard before, then plan the round (a slip first) --------------
    sign_in(page)
    page.goto("/console/dashboard")
    share_before = _examined_share(page)
    page.locator("nav a[href='/console/exam-rounds']").click()
    page.wait_for_url("**/console/exam-rounds")
    page.locator("#plan-round").click()
    page.fill("#title", title)
    page.select_option("#kind", "periodic")
    page.select_option("#clinic_code", CLINIC_CODE)
    page.fill("#first_day", "31/02/2026")  # no such day
    page.fill("#last_day", today)
    page.check(f"#union-{UNION}")
    page.check("#members_due")
    page.locator("#round-form button[type=submit]").click()
    page.wait_for_selector("#first_day-error")
    assert page.input_value("#title") == title and page.is_checked("#members_due")
    assert page.locator("#first_day").get_attribute("aria-invalid") == "true"
    check_page(page, "exam-plan-slip", any_impact=True)
    page.fill("#first_day", today)
    page.locator("#round-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/console/exam-rounds/\d+$"))
    round_id = int(page.url.rsplit("/", 1)[1])
    planned = _counts(page)
    invited = int(planned["invited"])
    assert invited >= 3 and planned["examined"] == "0"
    for name in WORKERS:
        assert page.get_by_role("link", name=name).count() == 1
    page.reload()  # survives a reload
    assert _counts(page) == planned
    check_page(page, "exam-round-planned", any_impact=True)

    # -- the member confirms in the portal ----------------------------------------------------
    member = _context(browser, site, errors)
    member.goto("/me/login")
    member.fill("#login", MEMBER_LOGIN[0])
    member.fill("#password", MEMBER_LOGIN[1])
    member.locator("main button[type=submit]").click()
    member.wait_for_url(re.compile(r".*/me/card$"))
    notice = member.locator("#exam-notice a")
    assert title in notice.inner_text()
    notice.click()
    member.wait_for_url("**/me/exam-rounds")
    section = member.locator(f"#round-{round_id}")
    assert section.locator(".my-state").get_attribute("data-state") == "invited"
    check_page(member, "exam-portal-invitation", any_impact=True)
    section.locator("button[value=confirm]").focus()  # by the keyboard
    member.keyboard.press("Enter")
    member.wait_for_selector("#answered")
    assert member.locator(f"#round-{round_id} .my-state").get_attribute(
        "data-state") == "confirmed"
    check_page(member, "exam-portal-confirmed", any_impact=True)

    # -- the desk: the round's check-in mode, three workers by handheld-scanner input ------------
    desk = _context(browser, site, errors)
    desk.goto("/clinic/login")
    desk.fill("#client_id", CLINIC_LOGIN[0])
    desk.fill("#client_secret", CLINIC_LOGIN[1])
    desk.locator("main button[type=submit]").click()
    desk.wait_for_url(re.compile(r".*/clinic/$"))
    desk.locator("nav a[href='/clinic/exam-rounds']").click()
    desk.get_by_role("link", name=title).click()
    desk.wait_for_url(f"**/clinic/exam-rounds/{round_id}")
    cards = [card_of(SITE_APP["app"], numbers[name]) for name in WORKERS]
    desk.focus("#uc1")
    for card in cards:  # a handheld reader types each code and its Enter, one after another
        desk.keyboard.type(card.text)
        desk.keyboard.press("Enter")
    desk.wait_for_function("() => document.getElementById('checkin-count').textContent === '3'")
    desk.wait_for_function("() => window.examDesk.answered === 3")
    timings = desk.evaluate("window.examDesk.timings")
    assert len(timings) == 3 and max(timings) < 3000, timings  # seconds each, at most
    listed = desk.locator("#checkin-list tbody").inner_text()
    for name in WORKERS:
        assert name in listed
    assert desk.evaluate("document.activeElement.id") == "uc1"  # ready for the next card
    assert desk.input_value("#uc1") == ""
    check_page(desk, "exam-desk-checkin", any_impact=True)
    # a card of someone not in the round: said so, nothing checked in
    outsider = next(c for c in (card_of(SITE_APP["app"], n) for n in _outsiders())
                    if c is not None)
    desk.focus("#uc1")
    desk.keyboard.type(outsider.text)
    desk.keyboard.press("Enter")
    desk.wait_for_selector("#checkin-refused")
    assert desk.locator("#checkin-count").inner_text() == "3"
    check_page(desk, "exam-desk-not-in-round", any_impact=True)
    desk.reload()  # survives a reload: today's list is the service's
    assert desk.locator("#checkin-count").inner_text() == "3"

    # -- results: the FHIR server is down; one by the desk's page, two by the FHIR API ----------
    fhir_server.stop()
    desk.get_by_role("link", name=re.compile(re.escape(WORKERS[0]) + "$")).click()
    desk.wait_for_selector("#result-form")
    desk.select_option("#health_class", "II")
    desk.select_option("#fitness", "fit-with-restrictions")
    desk.fill("#fitness_text", "Không làm việc ở nơi ồn trên 85 dB")
    desk.fill("#hazards", "noise Tiếng ồn")
    desk.fill("#findings", "H83 Điếc nghề nghiệp do tiếng ồn\nH9 sai mã")  # a slip
    desk.fill("#recommendations", "Đeo nút tai chống ồn; đo thính lực sau 6 tháng")
    desk.fill("#practitioner", "BS. Trần Thị Mai")
    desk.locator("#result-form button[type=submit]").click()
    desk.wait_for_selector("#findings-error")
    assert "H9 sai mã" in desk.input_value("#findings")  # kept as typed
    check_page(desk, "exam-desk-result-slip", any_impact=True)
    desk.fill("#findings", "H83.3 Điếc nghề nghiệp do tiếng ồn")
    desk.locator("#result-form button[type=submit]").click()
    desk.wait_for_selector("#result-recorded")
    check_page(desk, "exam-desk-result-recorded", any_impact=True)

    token = _api(site, "/api/v1/auth/token", form={
        "grant_type": "client_credentials", "client_id": CLINIC_LOGIN[0],
        "client_secret": CLINIC_LOGIN[1]})["access_token"]
    participants = _api(site, f"/api/v1/clinic/exam-rounds/{round_id}/participants",
                        token=token)
    by_number = {p["member_number"]: p["participant_id"] for p in participants}
    for name in WORKERS[1:]:
        recorded = _api(site, f"/api/v1/clinic/exam-rounds/{round_id}/participants/"
                              f"{by_number[numbers[name]]}/result", token=token,
                        body=fhir_result(numbers[name]), media="application/fhir+json")
        assert recorded["state"] == "examined" and recorded["delivery"] == "pending"
    down = _deliver(fhir_server)
    assert down.sent == 0 and down.retrying >= 1  # the server is down: kept, backed off

    # -- the member sees hers in her record page at once ---------------------------------------
    member.goto("/me/health")
    exams = member.locator("#part-occ-exam-summary").inner_text()
    assert "Không làm việc ở nơi ồn trên 85 dB" in exams and "Đeo nút tai chống ồn" in exams
    check_page(member, "exam-portal-record", any_impact=True)

    # -- the office's round page while the server is down, then after it came back ------------
    page.reload()
    counts = _counts(page)
    assert (counts["checked-in"], counts["examined"], counts["delivered"]) == ("3", "3", "0")
    fhir_server.start()
    sent = 0
    for _attempt in range(3):  # past the backoff of the failed tries
        sent += _deliver(fhir_server, later=timedelta(hours=2)).sent
        if sent >= 3:
            break
    assert sent == 3
    page.reload()
    counts = _counts(page)
    assert (counts["examined"], counts["delivered"], counts["confirmed"]) == ("3", "3", "0")
    assert page.locator("body").inner_text().count("H83.3") == 0  # never a result
    check_page(page, "exam-round-delivered", any_impact=True)

    # -- the dashboard's coverage moved ---------------------------------------------------------
    page.goto("/console/dashboard")
    share_after = _examined_share(page)
    assert int(share_after.split()[0]) == int(share_before.split()[0]) + 3, (
        share_before, share_after)
    moves = page.locator("#round-moves").inner_text()
    assert title in moves
    page.locator("#targets").scroll_into_view_if_needed()
    check_page(page, "exam-dashboard-targets", any_impact=True)
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def _outsiders() -> list[str]:
    """Member numbers of active demo members with an active card in another union."""
    from app.extensions import db
    from app.models import Card, CardStatus, Member, MemberStatus

    app = SITE_APP["app"]
    with app.app_context(), db.new_session(app) as session:
        return list(session.scalars(
            select(Member.member_number).join(Card, Card.member_id == Member.id)
            .where(Member.union_code == "CDCS-24-YENPHONG", Card.status == CardStatus.ACTIVE,
                   Member.status == MemberStatus.ACTIVE).order_by(Member.member_number)
            .limit(1)))
