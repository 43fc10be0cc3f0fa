"""The member register over the API: create, read, update, status, search, reveal."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.models import AuditEntry, Member


@pytest.fixture
def office(factory) -> dict[str, Any]:
    """An officer of Bắc Ninh with a union there."""
    union = factory.union("CDCS-24-QUEVO1", "24", name="CĐCS Công ty TNHH Điện tử Quế Võ",
                          industrial_park="KCN Quế Võ")
    officer = factory.user("officer", "24")
    return {"union": union, "officer": officer, "headers": factory.headers(officer)}


def payload(**overrides: Any) -> dict[str, Any]:
    body = {"full_name": "  Nguyễn   Thị Kim Yến ", "birth_date": "12/03/1994", "sex": "Nữ",
            "personal_id": "024194001234", "insurance_number": "2401234567",
            "phone": "091 234 5678", "union_code": "CDCS-24-QUEVO1", "join_date": "2015-06-01"}
    body.update(overrides)
    return body


def test_create_member_normalises_and_masks(client: FlaskClient, office) -> None:
    response = client.post("/api/v1/members", json=payload(), headers=office["headers"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["full_name"] == "Nguyễn Thị Kim Yến"
    assert body["name_ascii"] == "NGUYEN THI KIM YEN"
    assert body["birth_date"] == "1994-03-12" and body["sex"] == "F"
    assert body["phone"] == "+84912345678"
    assert body["personal_id_masked"] == "********1234"
    assert "024194001234" not in response.get_data(as_text=True)
    assert body["member_number"].startswith("24") and len(body["member_number"]) == 10
    assert body["province_code"] == "24" and body["status"] == "active"
    assert body["warnings"] == []


def test_personal_id_is_encrypted_at_rest(client: FlaskClient, office, session) -> None:
    client.post("/api/v1/members", json=payload(), headers=office["headers"])
    member = session.scalar(select(Member).where(Member.personal_id_last4 == "1234"))
    assert b"024194001234" not in member.personal_id_encrypted
    assert "024194001234" not in member.personal_id_hash


def test_member_numbers_are_sequential_per_province(client: FlaskClient, office) -> None:
    first = client.post("/api/v1/members", json=payload(), headers=office["headers"]).get_json()
    second = client.post("/api/v1/members", json=payload(
        personal_id="024088123456", birth_date="1988-01-01", sex="M", full_name="Trần Văn Bình"),
        headers=office["headers"]).get_json()
    assert int(second["member_number"]) == int(first["member_number"]) + 1


def test_given_member_number_is_kept(client: FlaskClient, office) -> None:
    body = client.post("/api/v1/members", json=payload(member_number="24-bn-000777"),
                       headers=office["headers"]).get_json()
    assert body["member_number"] == "24-BN-000777"


def test_every_invalid_field_is_reported_at_once(client: FlaskClient, office) -> None:
    response = client.post("/api/v1/members", json=payload(
        full_name="", birth_date="31/02/1994", sex="X", insurance_number="123",
        phone="0212345678", join_date="2099-01-01"), headers=office["headers"])
    assert response.status_code == 422
    fields = {e["field"]: e["detail"] for e in response.get_json()["errors"]}
    assert set(fields) == {"full_name", "birth_date", "sex", "insurance_number", "phone",
                           "join_date"}
    assert "not a real date" in fields["birth_date"]


def test_personal_id_must_agree_with_birth_and_sex(client: FlaskClient, office) -> None:
    response = client.post("/api/v1/members", json=payload(sex="Nam"), headers=office["headers"])
    assert response.status_code == 422
    error = response.get_json()["errors"][0]
    assert error["field"] == "personal_id" and "needs 0" in error["detail"]


def test_unknown_birth_province_is_accepted_with_a_warning(client: FlaskClient, office) -> None:
    response = client.post("/api/v1/members", json=payload(personal_id="099194001234"),
                           headers=office["headers"])
    assert response.status_code == 201
    assert response.get_json()["warnings"][0]["field"] == "personal_id"


def test_union_outside_scope_is_a_field_error(client: FlaskClient, office, factory) -> None:
    factory.union("CDCS-79-TANTHUAN", "79")
    response = client.post("/api/v1/members", json=payload(union_code="CDCS-79-TANTHUAN"),
                           headers=office["headers"])
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "union_code"


def test_duplicate_personal_id_is_409_pointing_to_the_member(client: FlaskClient, office) -> None:
    first = client.post("/api/v1/members", json=payload(), headers=office["headers"]).get_json()
    response = client.post("/api/v1/members", json=payload(personal_id="024 194 001 234"),
                           headers=office["headers"])
    assert response.status_code == 409
    body = response.get_json()
    assert body["existing_member_id"] == first["id"]
    assert body["existing_member"] == f"/api/v1/members/{first['id']}"


def test_duplicate_in_another_province_does_not_leak_it(client: FlaskClient, office,
                                                        factory) -> None:
    hcm_union = factory.union("CDCS-79-TANTHUAN", "79")
    factory.member(hcm_union, personal_id="024194001234", birth_date=date(1994, 3, 12), sex="F")
    response = client.post("/api/v1/members", json=payload(), headers=office["headers"])
    assert response.status_code == 409
    assert "existing_member_id" not in response.get_json()


def test_update_revalidates_and_audits(client: FlaskClient, office, session) -> None:
    created = client.post("/api/v1/members", json=payload(), headers=office["headers"]).get_json()
    url = f"/api/v1/members/{created['id']}"
    response = client.patch(url, json={"phone": "+84 38 123 4567", "full_name": "Nguyễn Thị Yến"},
                            headers=office["headers"])
    assert response.status_code == 200
    assert response.get_json()["phone"] == "+84381234567"
    assert response.get_json()["name_ascii"] == "NGUYEN THI YEN"
    bad = client.patch(url, json={"birth_date": "1995-03-12"}, headers=office["headers"])
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "personal_id"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.update"))
    assert entry.details == {"fields": ["full_name", "phone"]}


def test_status_changes_and_their_rules(client: FlaskClient, office) -> None:
    created = client.post("/api/v1/members", json=payload(), headers=office["headers"]).get_json()
    url = f"/api/v1/members/{created['id']}/status"
    response = client.put(url, json={"status": "suspended", "reason": "unpaid dues"},
                          headers=office["headers"])
    assert response.status_code == 200
    assert response.get_json()["status"] == "suspended"
    assert client.put(url, json={"status": "suspended"},
                      headers=office["headers"]).status_code == 409
    assert client.put(url, json={"status": "gone"}, headers=office["headers"]).status_code == 422
    assert client.put(url, json={"status": "left"}, headers=office["headers"]).status_code == 200


def test_reveal_is_for_officers_and_logged(client: FlaskClient, office, factory,
                                           session) -> None:
    created = client.post("/api/v1/members", json=payload(), headers=office["headers"]).get_json()
    url = f"/api/v1/members/{created['id']}/personal-id"
    response = client.post(url, json={"reason": "insurance claim"}, headers=office["headers"])
    assert response.status_code == 200
    assert response.get_json() == {"personal_id": "024194001234"}
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "member.personal-id.reveal")).all()
    assert [(e.actor, e.object_id, e.reason) for e in entries] == [
        (f"user:{office['officer'].id}", str(created["id"]), "insurance claim")]
    admin = factory.user("admin")
    assert client.post(url, json={}, headers=factory.headers(admin)).status_code == 403


def test_search_ignores_case_and_diacritics(client: FlaskClient, office, factory) -> None:
    union = office["union"]
    for name, birth, sex in [("Nguyễn Thị Yến", date(1990, 1, 2), "F"),
                             ("Nguyễn Thị Yên Ba", date(1991, 1, 2), "F"),
                             ("Nguyễn Văn Yên", date(1992, 1, 2), "M"),
                             ("Đỗ Thị Đào", date(1993, 1, 2), "F")]:
        factory.member(union, full_name=name, birth_date=birth, sex=sex)
    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/members?{query}", headers=office["headers"])
        assert response.status_code == 200, response.get_json()
        return [m["full_name"] for m in response.get_json()["items"]]
    assert names("q=nguyen thi yen") == ["Nguyễn Thị Yến", "Nguyễn Thị Yên Ba"]
    assert names("q=NGUYỄN") == ["Nguyễn Thị Yến", "Nguyễn Thị Yên Ba", "Nguyễn Văn Yên"]
    assert names("q=do thi dao") == ["Đỗ Thị Đào"]
    assert names("q=nguyen&sort=-name")[0] == "Nguyễn Văn Yên"
    page = client.get("/api/v1/members?q=nguyen&per_page=2&page=2",
                      headers=office["headers"]).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["page"] == 2


def test_search_by_personal_id_number_status_and_union(client: FlaskClient, office,
                                                       factory) -> None:
    member = factory.member(office["union"], personal_id="024194001234",
                            birth_date=date(1994, 3, 12), sex="F")
    other_union = factory.union("CDCS-24-YENPHONG", "24")
    factory.member(other_union, full_name="Lê Văn Tám", birth_date=date(1980, 1, 1), sex="M")
    h = office["headers"]
    by_id = client.get("/api/v1/members?personal_id=024194001234", headers=h).get_json()
    assert [m["id"] for m in by_id["items"]] == [member.id]
    by_number = client.get(f"/api/v1/members?member_number={member.member_number}",
                           headers=h).get_json()
    assert [m["id"] for m in by_number["items"]] == [member.id]
    by_union = client.get("/api/v1/members?union_code=CDCS-24-YENPHONG", headers=h).get_json()
    assert [m["full_name"] for m in by_union["items"]] == ["Lê Văn Tám"]
    assert client.get("/api/v1/members?status=left", headers=h).get_json()["total"] == 0
    assert client.get("/api/v1/members?sort=shoe", headers=h).status_code == 422


def test_an_office_cannot_take_another_provinces_numbers(client: FlaskClient, office,
                                                         factory) -> None:
    hcm_union = factory.union("CDCS-79-TANTHUAN", "79")
    hcm = factory.headers(factory.user("officer", "79"))
    taken = client.post("/api/v1/members", json=payload(
        union_code=hcm_union.code, member_number="2400000001"), headers=hcm)
    assert taken.status_code == 422
    assert [e["field"] for e in taken.get_json()["errors"]] == ["member_number"]
    own = client.post("/api/v1/members", json=payload(member_number="2400000002"),
                      headers=office["headers"])
    assert own.status_code == 201
    numbers = []
    for pid, birth, name in (("024088123456", "1988-01-01", "Trần Văn Bình"),
                             ("024087123456", "1987-01-01", "Lê Văn An")):
        created = client.post("/api/v1/members", json=payload(
            personal_id=pid, birth_date=birth, sex="M", full_name=name),
            headers=office["headers"])
        assert created.status_code == 201, created.get_json()
        numbers.append(created.get_json()["member_number"])
    assert numbers == ["2400000001", "2400000003"]  # the number taken by hand is skipped
