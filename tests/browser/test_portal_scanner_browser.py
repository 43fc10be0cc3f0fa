"""The member portal and the clinic scanner in headless Chromium: a member activates their
account with the card letter's code, shares three parts of the record and withdraws one; a
clinic desk scans the member's card through the camera (Chromium's fake camera playing the
card image the service rendered), takes the PIN and sees only the parts still shared; the
member then reads the clinic's visits in the access log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, SITE_APP, WIDTHS, check_page
from tests.browser.portal_scene import (
    CLINIC_CODE,
    as_y4m,
    card_png,
    fill_activation,
    new_letter,
    withdraw_all,
)

PASSWORD = "tram-xanh-bac-ninh-2026"
PIN = "481379"
SHARED = ("allergies", "conditions", "medications")


def _member_activates_and_shares(page: Any) -> Any:
    letter = new_letter(SITE_APP["app"])
    withdraw_all(SITE_APP["app"], letter.member_number)  # other tests' shares of the demo site
    page.goto("/me/")
    assert "/me/login" in page.url
    check_page(page, "portal-login")
    page.locator("a[href$='/me/activate']").first.click()
    page.wait_for_url("**/me/activate")
    fill_activation(page, letter, PASSWORD, PIN)
    check_page(page, "portal-activate")
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/me/welcome")  # the first sign-in's guidance, then her card
    page.goto("/me/card")
    qr = page.locator("#presence-qr")
    assert (qr.get_attribute("src") or "").startswith("data:image/png;base64,")
    page.wait_for_function(
        "() => document.getElementById('presence-left').textContent.match(/\\d/)")
    check_page(page, "portal-card")

    page.goto("/me/consents")
    for scope in SHARED:
        page.check(f"#scope-{scope}")
    page.check("#grantee-all-accredited")
    page.check("#purpose-treatment")
    page.check("#read_notice")
    page.locator("#share-continue").click()
    page.locator("#share-confirm").click()  # the confirmation's one sentence, then saved
    page.wait_for_url("**/me/consents?done=granted")
    assert page.locator("li.consent.status-active").count() == len(SHARED)
    stopped_before = page.locator("li.consent.status-withdrawn").count()  # other tests' too
    check_page(page, "portal-consents")
    # stopping is asked first (the notice's version and hash go with it as evidence)
    medications = page.locator("li.consent.status-active", has_text="thuốc").or_(
        page.locator("li.consent.status-active", has_text="Medicines"))
    medications.locator("a.danger").click()
    page.locator("#stop-confirm").click()
    page.wait_for_url("**/me/consents?done=withdrawn*")
    assert page.locator("li.consent.status-active").count() == len(SHARED) - 1
    assert page.locator("li.consent.status-withdrawn").count() == stopped_before + 1
    return letter


def _clinic_scans_with_the_camera(playwright: Any, video: Path, site: str) -> None:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    context = browser.new_context(base_url=site, locale="vi-VN", permissions=["camera"],
                                  viewport=dict(zip(("width", "height"),
                                                    WIDTHS["desktop"], strict=True)))
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/clinic/")
    assert "/clinic/login" in page.url
    check_page(page, "scanner-login")
    page.fill("#client_id", f"clinic-{CLINIC_CODE}-demo")
    page.fill("#client_secret", f"demo-clinic-{CLINIC_CODE}-2026")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/clinic/$"))
    check_page(page, "scanner-scan")
    page.click("#camera-start")
    verdict = page.locator("#verdict")
    verdict.wait_for()  # the camera's frame was read and checked: the verdict in the page
    assert verdict.get_attribute("data-status") == "valid"
    check_page(page, "scanner-verdict")
    page.fill("#pin", PIN)
    page.locator("form:has(#pin) button[type=submit]").click()
    page.locator("#record").wait_for()
    for scope in ("allergies", "conditions"):
        assert page.locator(f"#section-{scope}").count() == 1
    for scope in ("medications", "immunizations", "vitals-labs"):
        assert page.locator(f"#section-{scope}").count() == 0  # simply absent
    assert page.locator("#withheld").is_visible()
    check_page(page, "scanner-record")
    context.close()
    browser.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def test_member_shares_clinic_scans_by_camera_member_reads_the_log(
        page: Any, site: str, playwright: Any, tmp_path: Path) -> None:
    letter = _member_activates_and_shares(page)
    video = as_y4m(card_png(SITE_APP["app"], letter.card_serial), tmp_path / "card.y4m")
    _clinic_scans_with_the_camera(playwright, video, site)
    page.goto("/me/access-log")
    rows = page.locator("tbody tr")
    assert rows.count() >= 3  # the camera's verify, the verify with the PIN, the pull
    assert page.locator("li.visit", has_text="Quế Võ").count() >= 1  # a visit: one entry
    check_page(page, "portal-access-log")
    page.goto("/me/data")
    with page.expect_download() as download:
        page.locator("a.button.primary").click()
    assert download.value.suggested_filename == "unioncard-export.json"
    check_page(page, "portal-data")


@pytest.mark.parametrize("path", ["/me/card", "/clinic/"])
def test_pages_need_signing_in(page: Any, path: str) -> None:
    page.goto(path)
    # the sign-in form, which brings the browser back to the page asked for
    assert re.search(r"/(me|clinic)/login\?next=", page.url)
    assert page.url.endswith(f"next={path}")


def _english(page: Any) -> None:
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"


def test_one_pass_in_english(page: Any, browser: Any, site: str) -> None:
    """The member portal and the clinic scanner in English, refusals included."""
    letter = new_letter(SITE_APP["app"])
    page.goto("/me/login")
    _english(page)
    page.get_by_role("heading", name="Sign in").wait_for()
    page.goto("/me/activate")
    fill_activation(page, letter, PASSWORD, "111111")
    page.locator("main button[type=submit]").click()
    assert page.locator(".field-error", has_text="The PIN must not be one digit repeated."
                        ).is_visible()
    check_page(page, "portal-activate-refused-en")
    page.fill("#password", PASSWORD)
    page.fill("#pin", PIN)
    page.fill("#pin_again", PIN)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/me/welcome")
    page.goto("/me/card")
    page.wait_for_function(
        "() => document.getElementById('presence-left').textContent.match(/\\d/)")
    assert page.locator("html").get_attribute("lang") == "en"  # kept across signing in
    check_page(page, "portal-card-en")
    page.goto("/me/consents")
    page.get_by_role("heading", name="Sharing my health record").wait_for()
    page.check("#scope-allergies")
    page.check("#grantee-all-accredited")
    page.check("#purpose-treatment")
    page.check("#read_notice")
    page.locator("#share-continue").click()
    page.locator("#share-confirm").click()
    page.wait_for_url("**/me/consents?done=granted")
    check_page(page, "portal-consents-en")

    context = browser.new_context(base_url=site, locale="en-GB", viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)))
    context.set_default_timeout(30_000)
    desk = context.new_page()
    desk.goto("/clinic/login")
    _english(desk)
    desk.fill("#client_id", f"clinic-{CLINIC_CODE}-demo")
    desk.fill("#client_secret", f"demo-clinic-{CLINIC_CODE}-2026")
    desk.locator("main button[type=submit]").click()
    desk.wait_for_url(re.compile(r".*/clinic/$"))
    check_page(desk, "scanner-scan-en")
    desk.fill("#uc1", "UC1:NOT-A-CARD")  # a damaged code: the refusal says why, in English
    desk.get_by_role("button", name="Check the card").click()
    assert "damaged" in desk.get_by_role("alert").inner_text()
    assert desk.get_by_role("heading", name="The card could not be read.").is_visible()
    check_page(desk, "scanner-invalid-en")
    photo = {"name": "card.png", "mimeType": "image/png",
             "buffer": card_png(SITE_APP["app"], letter.card_serial)}

    def scan_the_photo() -> None:
        desk.goto("/clinic/")
        desk.set_input_files("#photo", files=[photo])
        desk.get_by_role("button", name="Check the card").click()
        assert desk.locator("#verdict").get_attribute("data-status") == "valid"
        assert "VALID" in desk.locator("#verdict").inner_text()

    scan_the_photo()
    desk.fill("#pin", "000000")
    desk.locator("form:has(#pin) button[type=submit]").click()
    desk.locator("#attempts-left").wait_for()  # the answer shows in the page
    assert desk.get_by_role("alert").filter(has_text="The PIN is wrong.").is_visible()
    # the card stays read: the PIN is asked again beside the verdict, with the tries left
    assert "Tries left before the PIN locks: 4." in desk.locator("#attempts-left").inner_text()
    check_page(desk, "scanner-wrong-pin-en")
    desk.fill("#pin", PIN)
    desk.locator("form:has(#pin) button[type=submit]").click()
    desk.locator("#record").wait_for()
    assert desk.locator("#section-allergies").count() == 1
    assert "chose not to share" in desk.locator("#withheld").inner_text()
    check_page(desk, "scanner-record-en")
    context.close()

    page.goto("/me/access-log")
    assert page.locator("tbody", has_text="was refused").count() >= 1  # other tests refused her too
    assert page.locator("tbody", has_text="The PIN is wrong.").count() >= 1
    check_page(page, "portal-access-log-en")
