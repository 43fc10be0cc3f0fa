"""The console's lists to work from (no card, not activated, exam due, health record not
linked: filtered, paginated, exported as safe CSV, in scope), the member history with names
instead of ``user:2``, union names instead of codes, the live search's status, and the landing
page's links to the three parts."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import HealthLink, MemberAccount
from app.services import audit
from app.services.csv_out import BOM
from tests.app.cards_helpers import desk
from tests.web.test_console import desk_office  # noqa: F401


def _rows(answer: Any) -> list[list[str]]:
    text = answer.get_data(as_text=True)
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:])))


def _link(session: Session, member: Any) -> None:
    session.add(HealthLink(member_id=member.id, province_code=member.province_code,
                           health_id_encrypted=b"x", health_id_hash=f"h{member.id:063d}",
                           linked_by="test"))
    session.commit()


def test_each_list_holds_exactly_who_still_needs_it(desk_office: dict[str, Any],  # noqa: F811
                                                    app: Flask, session: Session,
                                                    client: FlaskClient) -> None:
    yen, binh = desk_office["yen"], desk_office["binh"]
    desk(app, session).issue_for(yen)
    session.commit()
    _link(session, binh)

    def names(kind: str) -> set[str]:
        html = client.get(f"/console/lists/{kind}").get_data(as_text=True)
        return {n for n in ("Nguyễn Thị Kim Yến", "Trần Văn Bình") if n in html}

    assert names("no-card") == {"Trần Văn Bình"}
    assert names("not-activated") == {"Nguyễn Thị Kim Yến"}
    assert names("not-linked") == {"Nguyễn Thị Kim Yến"}
    assert names("exam-due") == {"Nguyễn Thị Kim Yến", "Trần Văn Bình"}
    session.add(MemberAccount(member_id=yen.id, province_code="24", password_hash="x",
                              pin_hash="x", activated_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    session.commit()
    assert names("not-activated") == set()
    assert client.get("/console/lists/everyone").status_code == 404


def test_lists_are_filtered_in_scope_paginated_and_exported_safely(
        desk_office: dict[str, Any], factory: Any, client: FlaskClient) -> None:  # noqa: F811
    other = factory.union("CDCS-01-XA", "01", name="Công đoàn ngoài phạm vi")
    factory.member(other, full_name="Phạm Văn Xa")
    second = factory.union("CDCS-24-HAI", "24", name="CĐCS Công ty May Hai")
    factory.member(second, full_name="Lê Thị Hai", phone="+84912345678")
    html = client.get("/console/lists/no-card").get_data(as_text=True)
    assert "Phạm Văn Xa" not in html and "Công đoàn ngoài phạm vi" not in html  # another province
    assert "Lê Thị Hai" in html and "CĐCS Công ty May Hai" in html  # the union's name
    only = client.get("/console/lists/no-card?union=CDCS-24-HAI").get_data(as_text=True)
    assert "Lê Thị Hai" in only and "Trần Văn Bình" not in only
    # another province's union or province: the page says so (422), never a 500 or its members
    foreign = client.get("/console/lists/no-card?union=CDCS-01-XA")
    assert foreign.status_code == 422 and "Phạm Văn Xa" not in foreign.get_data(as_text=True)
    assert client.get("/console/lists/no-card?province=01").status_code == 422
    assert client.get("/console/lists/no-card?page=abc").status_code == 200
    assert client.get("/console/lists/no-card.csv?province=01").status_code == 422
    # the CSV: BOM, header, union names, a phone kept as text (the formula guard)
    answer = client.get("/console/lists/no-card.csv?union=CDCS-24-HAI")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers[
        "Content-Disposition"]
    rows = _rows(answer)
    assert rows[0][:2] == ["Số thẻ đoàn viên", "Họ và tên"]
    assert [r[1] for r in rows[1:]] == ["Lê Thị Hai"]
    assert rows[1][3] == "'+84912345678" and rows[1][4] == "CĐCS Công ty May Hai"
    everyone = _rows(client.get("/console/lists/no-card.csv"))
    assert sorted(r[1] for r in everyone[1:]) == ["Lê Thị Hai", "Nguyễn Thị Kim Yến",
                                                  "Trần Văn Bình"]


def test_pages_and_the_export_read_in_chunks(desk_office: dict[str, Any], factory: Any,  # noqa: F811
                                             session: Session) -> None:
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.registry import worklists

    union = desk_office["union"]
    for given in ("An", "Bảo", "Cúc", "Dũng", "Giang", "Hà", "Khoa"):
        factory.member(union, full_name=f"Đoàn Văn {given}")
    scope = Scope(Principal("user", desk_office["officer"].id, "officer", province_code="24"))
    today = date(2026, 12, 7)
    first = worklists.page_of(session, scope, "no-card", worklists.WorkFilters(per_page=4),
                              today=today)
    second = worklists.page_of(session, scope, "no-card",
                               worklists.WorkFilters(per_page=4, page=3), today=today)
    assert first.total == 9 and first.pages == 3 and len(first.rows) == 4
    assert len(second.rows) == 1
    every = [r.full_name for r in worklists.every_row(session, scope, "no-card",
                                                      worklists.WorkFilters(), today=today,
                                                      chunk=2)]
    assert len(every) == 9 == len(set(every))
    assert worklists.count(session, scope, "no-card", today=today) == (9, True)


def test_history_names_who_did_it_within_scope(desk_office: dict[str, Any], factory: Any,  # noqa: F811
                                               session: Session, client: FlaskClient) -> None:
    yen = desk_office["yen"]
    here = factory.user("officer", "24", full_name="Trần Văn Minh")
    away = factory.user("officer", "79", full_name="Lê Thị Hồng")
    boss = factory.user("admin", full_name="Quản trị viên")
    for who in (f"user:{here.id}", f"user:{away.id}", f"user:{boss.id}", f"member:{yen.id}",
                "system", "user:999999"):
        audit.record(session, actor=who, action="member.update", object_type="member",
                     object_id=yen.id, province_code="24")
    session.commit()
    html = client.get(f"/console/members/{yen.id}").get_data(as_text=True)
    assert "Trần Văn Minh" in html and "Quản trị viên" in html
    assert "Lê Thị Hồng" not in html and "cán bộ của tỉnh khác" in html
    assert f"user:{here.id}" not in html and f"member:{yen.id}" not in html
    assert "CĐCS Công ty TNHH Điện tử Quế Võ" in html  # the union's name, not only its code


def test_live_search_carries_the_union_name_and_the_status(desk_office: dict[str, Any],  # noqa: F811
                                                           client: FlaskClient) -> None:
    found = client.get("/console/members/search.json?q=nguyen thi kim").get_json()
    item = found["items"][0]
    assert item["union"] == "CĐCS Công ty TNHH Điện tử Quế Võ"
    assert item["union_code"] == "CDCS-24-QUEVO1"
    assert item["status"] == "active" and item["status_label"] == "đang hoạt động"


def test_dashboard_figures_link_to_the_lists(desk_office: dict[str, Any],  # noqa: F811
                                             client: FlaskClient) -> None:
    html = client.get("/console/dashboard").get_data(as_text=True)
    for kind in ("no-card", "not-activated", "not-linked", "exam-due"):
        assert f'href="/console/lists/{kind}"' in html


def test_the_landing_page_links_all_three_parts(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    for path in ('href="/console/"', 'href="/me/"', 'href="/clinic/"'):
        assert path in html


def test_a_national_administrator_filters_by_any_union(factory: Any, client: FlaskClient,
                                                       monkeypatch: Any) -> None:
    """The union choices list 500 at most; a union beyond them is still a valid filter."""
    from app.services.registry import unions
    from tests.web.test_console import sign_in

    far = factory.union("CDCS-31-XA", "31", name="CĐCS Hải Phòng xa")
    factory.member(far, full_name="Vũ Thị Xa")
    admin = factory.user("admin")
    assert sign_in(client, admin.username).status_code == 303
    monkeypatch.setattr(unions, "list_unions", lambda *a, **k: ([], 0))  # as if beyond 500
    answer = client.get("/console/lists/no-card?union=CDCS-31-XA")
    assert answer.status_code == 200 and "Vũ Thị Xa" in answer.get_data(as_text=True)
    assert client.get("/console/lists/no-card?union=CDCS-31-XA&province=24").status_code == 422
