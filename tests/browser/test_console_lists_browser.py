"""The console's lists to work from, who and which, and the landing page, in headless Chromium
at 1280×900, in Vietnamese and in an English-locale browser: from the landing page to the
console; from each dashboard figure to its list; each list filtered by union with the keyboard
(Reload and Back keep the filter; a union of another province is said inline) and exported,
the CSV parsed back (BOM, header, a union named like a formula and the phones kept as text);
the member history with names, the union's name and the live search's status badge. axe must
report no violation of any impact on every page visited, at phone and desktop widths."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import OFFICER, SITE_APP, WIDTHS, check_page

#: A union named like a spreadsheet formula (a name the union API would refuse, put straight
#: into the database here): the CSV must keep it as text.
HOSTILE_UNION = ("CDCS-24-GUARD", '=HYPERLINK("http://x.example") CĐCS Thử')
LISTS = {"no-card": ("Đoàn viên chưa có thẻ", "Members without a card"),
         "not-activated": ("Thẻ chưa kích hoạt", "Cards not activated"),
         "exam-due": ("Đến hạn khám sức khỏe định kỳ", "Occupational exam due"),
         "not-linked": ("Chưa liên kết hồ sơ sức khỏe", "Health record not linked")}
WORDS = {
    "vi": {"english": None, "export": "Tải về dạng CSV", "show": "Xem", "number": "Số thẻ đoàn viên",
           "officer": "Trần Văn Minh (LĐLĐ Bắc Ninh)", "other": "cán bộ của tỉnh khác",
           "active": "đang hoạt động", "landing": "Văn phòng công đoàn"},
    "en": {"english": "English", "export": "Download as CSV", "show": "Show",
           "number": "Member number", "officer": "Trần Văn Minh (LĐLĐ Bắc Ninh)",
           "other": "an officer of another province", "active": "active",
           "landing": "Văn phòng công đoàn"},
}


def strict_check(page: Any, name: str) -> None:
    """axe-core finds no violation of any impact at phone and desktop widths; screenshots."""
    check_page(page, name, any_impact=True)


@pytest.fixture(scope="module")
def prepared(site: str) -> dict[str, Any]:
    """Two members without a card in a union named like a formula, and history entries by the
    Bắc Ninh officer, the Hồ Chí Minh officer and the member herself on the demo member."""
    from sqlalchemy import select

    from app.composition import data_cipher
    from app.extensions import db
    from app.models import Member, Union, User
    from app.services import audit
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.registry.members import MemberRegistry

    app = SITE_APP["app"]
    with app.app_context():
        session = db.session
        if session.scalar(select(Union.id).where(Union.code == HOSTILE_UNION[0])) is None:
            session.add(Union(code=HOSTILE_UNION[0], name=HOSTILE_UNION[1], province_code="24",
                              employer="", industrial_park=""))
            session.flush()
        registry = MemberRegistry(session, data_cipher(), actor="test")
        national = Scope(Principal("user", 0, "admin"))
        for name, born, sex, pid, phone in (
                ("Đinh Thị Lụa", "1995-06-01", "F", "027195004411", "0912345601"),
                ("Đinh Văn Mạnh", "1990-02-02", "M", "027090004412", "0912345602")):
            if registry.find_by_personal_id(pid) is None:
                registry.create(national, {"full_name": name, "birth_date": born, "sex": sex,
                                           "personal_id": pid, "phone": phone,
                                           "union_code": HOSTILE_UNION[0]})
        yen = session.scalar(select(Member).where(Member.full_name == "Nguyễn Thị Kim Yến"))
        assert yen is not None
        users = {u.username: u for u in session.scalars(select(User))}
        for who in (f"user:{users[OFFICER[0]].id}", f"user:{users['officer.hcm'].id}",
                    f"member:{yen.id}"):
            audit.record(session, actor=who, action="member.update", object_type="member",
                         object_id=yen.id, province_code="24")
        session.commit()
        return {"yen": yen.id}


def _sign_in(page: Any, language: str) -> None:
    page.fill("#username", OFFICER[0])
    page.fill("#password", OFFICER[1])
    page.locator("main button[type=submit]").press("Enter")
    page.wait_for_url("**/console/members")
    if WORDS[language]["english"]:
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state("load")
        assert page.locator("html").get_attribute("lang") == "en"


def _export(page: Any, words: dict[str, Any]) -> list[list[str]]:
    """Download the list's CSV as the officer does and read it back as Excel would."""
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(words["export"])).click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    text = data.decode("utf-8")[1:]
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == words["number"]
    return rows


def _filter_by_union(page: Any, union: str) -> None:
    """Choose a union with the keyboard and send the filter (Tab to the button, Enter)."""
    page.locator("#union").focus()
    page.select_option("#union", union)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*union={re.escape(union)}.*"))


@pytest.mark.parametrize("language", ["vi", "en"])
def test_from_the_landing_page_each_dashboard_figure_leads_to_its_list_filtered_and_exported(
        browser: Any, site: str, prepared: dict[str, Any], language: str) -> None:
    words = WORDS[language]
    context = browser.new_context(base_url=site, locale="vi-VN" if language == "vi" else "en-US",
                                  viewport=dict(zip(("width", "height"), WIDTHS["desktop"],
                                                    strict=True)), accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # the landing page links the three parts, each with its line
        page.goto("/")
        links = {page.get_by_role("link", name=name).get_attribute("href")
                 for name in ("Văn phòng công đoàn", "Trang của đoàn viên",
                              "Quầy tiếp đón cơ sở y tế")}
        assert links == {"/console/", "/me/", "/clinic/"}
        strict_check(page, f"landing-{language}")
        page.get_by_role("link", name="Văn phòng công đoàn").click()
        page.wait_for_url(re.compile(r".*/console/login.*"))
        _sign_in(page, language)
        # live search keeps the union's name and the status badge
        page.locator("#q").press_sequentially("nguyen thi kim", delay=30)
        result = page.locator("#results li", has_text="Nguyễn Thị Kim Yến")
        result.wait_for()
        assert result.locator(".badge.status-active").inner_text() == words["active"]
        assert "CĐCS Công ty TNHH Điện tử Quế Võ" in result.inner_text()
        assert "/console/members?q=" not in page.url
        strict_check(page, f"lists-search-{language}")
        # the history names who did it, within the officer's scope
        result.locator("a").click()
        page.wait_for_url(re.compile(r".*/console/members/\d+$"))
        history = page.locator("section", has=page.locator("h2", has_text=re.compile(
            "Lịch sử|History"))).inner_text()
        assert words["officer"] in history and words["other"] in history
        assert "Lê Thị Hồng" not in history  # the other province's officer is not named
        assert not re.search(r"\b(user|member):\d+", history)
        assert "Nguyễn Thị Kim Yến" in history
        assert "CĐCS Công ty TNHH Điện tử Quế Võ" in page.locator("dl.facts").first.inner_text()
        strict_check(page, f"lists-history-{language}")
        # each dashboard figure leads to its list
        for kind, titles in LISTS.items():
            page.goto("/console/dashboard")
            if kind == list(LISTS)[0]:
                strict_check(page, f"lists-dashboard-{language}")
            tile = page.locator(f"#tile-{kind}")
            tile.focus()
            page.keyboard.press("Enter")
            page.wait_for_url(f"**/console/lists/{kind}")
            assert page.locator("h1").inner_text() == titles[0 if language == "vi" else 1]
            union = HOSTILE_UNION[0] if kind in ("no-card", "not-linked", "exam-due") \
                else "CDCS-24-YENPHONG"
            _filter_by_union(page, union)
            page.reload()  # Reload keeps the filter: it is in the URL
            assert page.locator("#union").input_value() == union
            names = page.locator("table tbody th").all_inner_texts()
            if kind == "not-activated":
                assert names and "Nguyễn Thị Kim Yến" not in names
            else:
                assert set(names) >= {"Đinh Thị Lụa", "Đinh Văn Mạnh"}
            strict_check(page, f"lists-{kind}-{language}")
            rows = _export(page, words)
            assert sorted(r[1] for r in rows[1:]) == sorted(names)
            for row in rows[1:]:
                assert row[3] == "" or row[3].startswith("'+84")  # a phone stays text
                if union == HOSTILE_UNION[0]:
                    assert row[4] == "'" + HOSTILE_UNION[1]  # the formula guard
            page.go_back()  # Back: the list as it was (the filter kept)
            page.wait_for_url(re.compile(rf".*/console/lists/{kind}.*"))
        # a slip: a union of another province in the address is said inline, nothing listed
        page.goto("/console/lists/no-card?union=CDCS-79-TANTHUAN")
        assert page.locator("#union-error").is_visible()
        assert page.locator("#union").get_attribute("aria-invalid") == "true"
        assert page.locator("table").count() == 0
        strict_check(page, f"lists-slip-{language}")
    finally:
        context.close()
    assert errors == []
