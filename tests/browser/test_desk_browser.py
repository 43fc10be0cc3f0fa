"""The clinic reception's whole day at the desk page (issue 20), online, in headless Chromium:
the card and the phone's presence code in either order, a wrong PIN and the right one without
scanning again, a keyboard-wedge QR reader (typed text + Enter), continuous scanning of three
cards by the fake camera, a revoked and a suspended card's verdict, in Vietnamese and English;
every desk page axe-clean (no violation of any impact) and light (≤ 150 KB transferred with
its scripts and styles); the time from a code read to its verdict on screen, printed."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, SITE_APP, WIDTHS, check_page
from tests.browser.desk_scene import (
    DEMO_MEMBER,
    DEMO_PIN,
    DemoCard,
    as_video,
    card_of,
    demo_cards,
    presence_code,
    qr_png,
    reissue,
    suspend,
)
from tests.browser.portal_scene import CLINIC_CODE

#: The assertion's bound on a code read → verdict on screen (ms): generous, so a loaded
#: machine does not fail the test; the measured p50/p95 are printed (the README's table).
BUDGET_MS = 2000.0
#: No desk page may weigh more than this, transferred, scripts and styles included.
PAGE_MAX_BYTES = 150 * 1024
DESKTOP = dict(zip(("width", "height"), WIDTHS["desktop"], strict=True))
_WAIT_CHECKS = "n => window.deskScanner && window.deskScanner.timings.length >= n"


def check_desk_page(page: Any, name: str) -> None:
    """axe-core finds no violation of any impact at phone and desktop widths; screenshots."""
    check_page(page, name, any_impact=True)


def _desk_refusal(message: Any) -> bool:
    """Chromium's note on a desk answer of 4xx (a refusal the test asked for: a wrong PIN,
    not a card), fetched by the page's script; anything else logged as an error counts."""
    return (message.text.startswith("Failed to load resource: the server responded with a "
                                    "status of 4")
            and "/clinic/" in str(message.location.get("url")))


class Desk:
    """A clinic desk signed in, in a browser context of its own."""

    def __init__(self, browser: Any, site: str, *, lang: str = "vi",
                 javascript: bool = True, **options: Any) -> None:
        self.context = browser.new_context(base_url=site, viewport=DESKTOP,
                                           locale="vi-VN" if lang == "vi" else "en-GB",
                                           java_script_enabled=javascript, **options)
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and not _desk_refusal(m) else None)
        self.lang = lang

    def sign_in(self) -> Desk:
        page = self.page
        page.goto("/clinic/login")
        if self.lang == "en":
            page.get_by_role("button", name="English").click()
            page.wait_for_load_state()
        page.fill("#client_id", f"clinic-{CLINIC_CODE}-demo")
        page.fill("#client_secret", f"demo-clinic-{CLINIC_CODE}-2026")
        page.locator("main button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/clinic/$"))
        assert page.locator("html").get_attribute("lang") == self.lang
        return self

    def checks(self) -> int:
        return int(self.page.evaluate("window.deskScanner.timings.length"))

    def wedge(self, text: str) -> None:
        """A handheld QR reader: it types the code into the focused field, then Enter; waits
        for the verdict (or the desk's word on what it still needs) on screen."""
        page = self.page
        before = self.checks()
        page.focus("#uc1")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        if text.upper().startswith("UCP1:") and not page.evaluate(
                "window.deskScanner.state.card"):
            return  # the phone's code first: kept until the card is scanned
        page.wait_for_function(_WAIT_CHECKS, arg=before + 1)

    def submit(self, selector: str) -> None:
        """Send a form of the verdict shown in the page (the PIN, the phone's code)."""
        before = self.checks()
        self.page.locator(f"{selector} button[type=submit]").click()
        self.page.wait_for_function(_WAIT_CHECKS, arg=before + 1)

    def timings(self) -> list[float]:
        return [float(t["ms"]) for t in self.page.evaluate("window.deskScanner.timings")]

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"script errors or CSP violations in the browser: {self.errors}"


@pytest.fixture
def desk(browser: Any, site: str, request: pytest.FixtureRequest) -> Iterator[Desk]:
    lang = getattr(request, "param", "vi")
    opened = Desk(browser, site, lang=lang).sign_in()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def member() -> DemoCard:
    """The demo member with an account (PIN) who shares allergies with every clinic."""
    return card_of(SITE_APP["app"], DEMO_MEMBER)


@pytest.fixture(scope="module")
def others(site: str) -> list[DemoCard]:
    """Eight other demo members' cards (no account: their verdict needs no presence)."""
    return demo_cards(SITE_APP["app"], 8, skip=(DEMO_MEMBER,))


@pytest.fixture(scope="module")
def revoked_and_suspended(others: list[DemoCard]) -> tuple[DemoCard, DemoCard]:
    """A card superseded by a newer one (revoked), and a card suspended by its office."""
    old = others[6]
    reissue(SITE_APP["app"], old)
    suspend(SITE_APP["app"], others[7], "investigation")
    return old, others[7]


@pytest.fixture
def generous_card_limit() -> Iterator[None]:
    """The per-card verify limit raised for a test that checks the same cards many times."""
    config = SITE_APP["app"].config
    kept = config["VERIFY_CARD_RATE_LIMIT"]
    config["VERIFY_CARD_RATE_LIMIT"] = "1000 per minute"
    yield
    config["VERIFY_CARD_RATE_LIMIT"] = kept


def _figures(label: str, timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"\n{label}: code read -> verdict on screen, n={len(ordered)}: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms")
    return p50, p95


# -- the card and the phone's code, in either order ------------------------------------------
@pytest.mark.parametrize("desk", ["vi", "en"], indirect=True)
def test_the_card_then_the_phones_code(desk: Desk, member: DemoCard) -> None:
    page = desk.page
    desk.wedge(member.text)
    result = page.locator("#desk-result")
    assert page.locator("#verdict").get_attribute("data-status") == "valid"
    assert result.get_attribute("data-needs") == "presence"
    need = page.locator("#desk-status").inner_text()
    assert ("PIN" in need) and ("phone" in need if desk.lang == "en" else "điện thoại" in need)
    for check in ("#check-purpose", "#check-expiry", "#check-issuer", "#check-time",
                  "#compare-id"):
        assert page.locator(check).inner_text().strip()
    assert "Bắc Ninh" in page.locator("#check-issuer").inner_text()
    assert page.locator("h1").count() == 1  # the verdict's heading is under the page's
    check_desk_page(page, f"desk-verdict-{desk.lang}")
    desk.wedge(presence_code(SITE_APP["app"], member.serial))
    page.locator("#record").wait_for()
    assert page.locator("#section-allergies").count() == 1
    assert result.get_attribute("data-opened") == "1"
    check_desk_page(page, f"desk-record-{desk.lang}")


def test_the_phones_code_then_the_card(desk: Desk, member: DemoCard) -> None:
    page = desk.page
    desk.wedge(presence_code(SITE_APP["app"], member.serial))
    assert desk.checks() == 0  # nothing to check without the card
    assert "điện thoại" in page.locator("#desk-status").inner_text()
    check_desk_page(page, "desk-phone-code-first-vi")
    desk.wedge(member.text)
    page.locator("#record").wait_for()  # opened at once: the card with the phone's code
    assert page.locator("#section-allergies").count() == 1
    assert page.evaluate("window.deskScanner.log.length") == 1


@pytest.mark.parametrize("desk", ["vi", "en"], indirect=True)
def test_a_wrong_pin_keeps_the_card_and_says_the_tries_left(desk: Desk,
                                                            member: DemoCard) -> None:
    page = desk.page
    desk.wedge(member.text)
    page.fill("#pin", "000000")
    desk.submit("#pin-form")
    left = page.locator("#attempts-left").inner_text()
    assert "4" in left
    assert page.locator("#verdict").get_attribute("data-status") == "valid"  # still shown
    assert page.locator("#pin").get_attribute("aria-invalid") == "true"
    check_desk_page(page, f"desk-wrong-pin-{desk.lang}")
    page.fill("#pin", DEMO_PIN)
    desk.submit("#pin-form")
    page.locator("#record").wait_for()
    assert page.evaluate("window.deskScanner.log.length") == 1  # the card was read once


@pytest.mark.parametrize("desk", ["vi", "en"], indirect=True)
def test_a_revoked_and_a_suspended_cards_verdict(
        desk: Desk, revoked_and_suspended: tuple[DemoCard, DemoCard]) -> None:
    page = desk.page
    old, suspended = revoked_and_suspended
    desk.wedge(old.text)
    shown = page.locator("#desk-result")
    assert shown.get_attribute("data-status") == "revoked", shown.inner_text()
    step = page.locator("#next-step").inner_text()
    assert re.search(r"\d\d/\d\d/\d{4}", step)  # a newer card was issued on …
    assert ("newer card" in step) if desk.lang == "en" else ("thẻ mới" in step)
    check_desk_page(page, f"desk-revoked-{desk.lang}")
    desk.wedge(suspended.text)
    assert shown.get_attribute("data-status") == "suspended", shown.inner_text()
    text = shown.inner_text()
    assert "investigation" not in text.lower() and "điều tra" not in text.lower()
    assert page.locator("#verdict-reason").inner_text().strip()
    check_desk_page(page, f"desk-suspended-{desk.lang}")


# -- the handheld reader, the camera, the upload: speed ------------------------------------
def test_a_keyboard_wedge_reader_scans_patient_after_patient_quickly(
        desk: Desk, others: list[DemoCard], generous_card_limit: None) -> None:
    page = desk.page
    cards = others[:5]
    for _round in range(6):
        for card in cards:
            desk.wedge(card.text)
            assert page.locator("#verdict").get_attribute("data-status") == "valid"
            assert card.full_name in page.locator("#checks").inner_text()
            assert page.evaluate("document.activeElement.id") == "uc1"  # ready for the next
    # a photo upload too (of the card's QR, as a phone camera takes it)
    for card in cards:
        before = desk.checks()
        page.set_input_files("#photo", files=[{"name": "card.png", "mimeType": "image/png",
                                               "buffer": qr_png(card.text)}])
        page.wait_for_function(_WAIT_CHECKS, arg=before + 1)
        assert card.full_name in page.locator("#checks").inner_text()
    timings = desk.timings()
    _, wedge_p95 = _figures("keyboard wedge (online)", timings[:30])
    _, upload_p95 = _figures("photo upload (online)", timings[30:])
    assert wedge_p95 <= BUDGET_MS and upload_p95 <= BUDGET_MS


def test_continuous_scanning_of_three_cards_with_the_camera(
        playwright: Any, site: str, others: list[DemoCard], tmp_path: Path) -> None:
    three = others[:3]
    video = as_video([qr_png(c.text, scale=4) for c in three], tmp_path / "three.y4m",
                     size=(1280, 720), fps=1)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
        "--autoplay-policy=no-user-gesture-required"])
    try:
        desk = Desk(browser, site, permissions=["camera"]).sign_in()
        page = desk.page
        page.check("#continuous")
        page.click("#camera-start")
        page.wait_for_function("() => window.deskScanner.log.length >= 3", timeout=120_000)
        page.wait_for_function(_WAIT_CHECKS, arg=3)
        log = page.evaluate("window.deskScanner.log.map(e => e.card)")
        # each card checked once although the camera saw it in several frames
        assert log[:3] == [c.text for c in three], [entry[:12] for entry in log]
        assert page.evaluate("window.deskScanner.beeps") >= 3
        assert page.locator("video#camera").evaluate("v => v.srcObject !== null")  # still on
        assert three[2].full_name in page.locator("#checks").inner_text()
        _, p95 = _figures("camera frame decoded (online)", desk.timings()[:3])
        assert p95 <= BUDGET_MS
        desk.close()
    finally:
        browser.close()


# -- every desk page: without JavaScript too, axe-clean and light --------------------------
def _weight(page: Any, document: Any) -> int:
    """The bytes a cold browser transfers for the page shown: the document and every
    stylesheet, script, icon and manifest it names (bodies, as served)."""
    names = page.evaluate("""() => Array.from(document.querySelectorAll(
        'link[rel=stylesheet], link[rel=icon], link[rel=manifest], script[src]'),
        (e) => e.href || e.src)""")
    return len(document.body()) + sum(len(page.request.get(url).body()) for url in names)


def _native(page: Any, selector: str) -> Any:
    """Send a form as the browser does without the page's script; the answer page."""
    with page.expect_navigation() as answer:
        page.evaluate("s => HTMLFormElement.prototype.submit.call(document.querySelector(s))",
                      selector)
    return answer.value


def test_the_desk_pages_work_without_javascript(browser: Any, site: str,
                                                member: DemoCard) -> None:
    plain = Desk(browser, site, javascript=False).sign_in()
    page = plain.page
    page.fill("#uc1", member.text)
    page.press("#uc1", "Enter")  # a QR reader's Enter sends the form
    assert page.locator("#verdict").get_attribute("data-status") == "valid"
    page.fill("#pin", "000000")
    page.press("#pin", "Enter")
    assert "4" in page.locator("#attempts-left").inner_text()
    page.fill("#pin", DEMO_PIN)
    page.press("#pin", "Enter")
    page.locator("#record").wait_for()
    # the phone's code first, then the card, each a page of its own
    page.goto("/clinic/")
    page.fill("#uc1", presence_code(SITE_APP["app"], member.serial))
    page.press("#uc1", "Enter")
    assert page.locator("#desk-need").is_visible()
    page.fill("#uc1", member.text)
    page.press("#uc1", "Enter")
    page.locator("#record").wait_for()
    plain.close()


def test_every_desk_page_is_axe_clean_and_light(
        browser: Any, site: str, member: DemoCard, others: list[DemoCard],
        revoked_and_suspended: tuple[DemoCard, DemoCard]) -> None:
    weights: dict[str, int] = {}
    desk = Desk(browser, site)
    page = desk.page
    weights["sign-in"] = _weight(page, page.goto("/clinic/login"))
    check_desk_page(page, "desk-sign-in")
    desk.sign_in()
    weights["scan"] = _weight(page, page.goto("/clinic/"))
    check_desk_page(page, "desk-scan")

    def scan(text: str, name: str) -> None:
        page.goto("/clinic/")
        page.fill("#uc1", text)
        weights[name] = _weight(page, _native(page, "#scan-form"))
        assert page.locator("h1").count() == 1
        check_desk_page(page, f"desk-page-{name}")

    scan(member.text, "verdict")
    page.fill("#pin", "000000")
    weights["wrong-pin"] = _weight(page, _native(page, "#pin-form"))
    check_desk_page(page, "desk-page-wrong-pin")
    page.fill("#pin", DEMO_PIN)
    weights["record"] = _weight(page, _native(page, "#pin-form"))
    page.locator("#record").wait_for()
    check_desk_page(page, "desk-page-record")
    scan(presence_code(SITE_APP["app"], member.serial), "phone-code-first")
    scan("UC1:NOT-A-CARD", "refusal")
    scan(revoked_and_suspended[0].text, "revoked")
    scan(revoked_and_suspended[1].text, "suspended")
    scan(others[0].text, "verdict-no-consent")
    page.locator("#emergency summary").click()
    page.select_option("#reason", "trauma")
    page.fill("#emergency-text", "Ngã từ giàn giáo")
    weights["emergency"] = _weight(page, _native(page, "#emergency form"))
    assert page.locator("#verdict").get_attribute("data-status") == "emergency"
    check_desk_page(page, "desk-page-emergency")
    desk.close()
    print("\ndesk page weights (document, styles, scripts, icon and manifest): "
          + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in weights.items()))
    assert max(weights.values()) <= PAGE_MAX_BYTES, weights
