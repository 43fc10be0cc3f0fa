"""Scope isolation: an officer of one province can neither see nor change another province's
members or unions, on every endpoint (404, never 403)."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def world(factory):
    bn_union = factory.union("CDCS-24-QUEVO1", "24")
    bn_union2 = factory.union("CDCS-24-YENPHONG", "24")
    hcm_union = factory.union("CDCS-79-TANTHUAN", "79")
    return {
        "bn_member": factory.member(bn_union, birth_date=date(1990, 1, 1), sex="F"),
        "bn_member2": factory.member(bn_union2, full_name="Phạm Văn Hùng",
                                     birth_date=date(1985, 1, 1), sex="M"),
        "hcm_member": factory.member(hcm_union, full_name="Lê Thị Hồng",
                                     birth_date=date(1992, 1, 1), sex="F"),
        "hcm_officer": factory.user("officer", "79"),
        "union_officer": factory.user("officer", "24", union="CDCS-24-QUEVO1"),
        "bn_officer": factory.user("officer", "24"),
    }


def _calls(member_id: int, union_code: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/api/v1/members/{member_id}", None),
        ("PATCH", f"/api/v1/members/{member_id}", {"phone": "0912345678"}),
        ("PUT", f"/api/v1/members/{member_id}/status", {"status": "suspended"}),
        ("POST", f"/api/v1/members/{member_id}/personal-id", {}),
        ("GET", f"/api/v1/unions/{union_code}", None),
        ("PATCH", f"/api/v1/unions/{union_code}", {"name": "Hijacked"}),
    ]


@pytest.mark.parametrize("call", range(6))
def test_other_province_is_404_everywhere(client: FlaskClient, factory, world, call: int) -> None:
    method, path, body = _calls(world["bn_member"].id, "CDCS-24-QUEVO1")[call]
    response = client.open(path, method=method, json=body,
                           headers=factory.headers(world["hcm_officer"]))
    assert response.status_code == 404, (method, path, response.get_json())
    missing_path = _calls(999999, "NO-SUCH")[call][1]
    missing = client.open(missing_path, method=method, json=body,
                          headers=factory.headers(world["hcm_officer"]))
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == response.get_json()["detail"]


@pytest.mark.parametrize("call", range(6))
def test_union_scoped_officer_is_404_outside_their_union(client: FlaskClient, factory, world,
                                                         call: int) -> None:
    method, path, body = _calls(world["bn_member2"].id, "CDCS-24-YENPHONG")[call]
    response = client.open(path, method=method, json=body,
                           headers=factory.headers(world["union_officer"]))
    assert response.status_code == 404


def test_lists_show_only_the_scope(client: FlaskClient, factory, world) -> None:
    def members(user) -> set[str]:
        body = client.get("/api/v1/members", headers=factory.headers(user)).get_json()
        return {m["full_name"] for m in body["items"]}
    def unions(user) -> set[str]:
        body = client.get("/api/v1/unions", headers=factory.headers(user)).get_json()
        return {u["code"] for u in body["items"]}
    assert members(world["hcm_officer"]) == {"Lê Thị Hồng"}
    assert members(world["bn_officer"]) == {"Nguyễn Thị Kim Yến", "Phạm Văn Hùng"}
    assert members(world["union_officer"]) == {"Nguyễn Thị Kim Yến"}
    assert unions(world["hcm_officer"]) == {"CDCS-79-TANTHUAN"}
    assert unions(world["union_officer"]) == {"CDCS-24-QUEVO1"}
    assert members(factory.user("admin")) >= {"Lê Thị Hồng", "Phạm Văn Hùng"}
    by_id = client.get("/api/v1/members?personal_id=" + "0" * 12,
                       headers=factory.headers(world["hcm_officer"])).get_json()
    assert by_id["total"] == 0


def test_cannot_create_in_another_province(client: FlaskClient, factory, world) -> None:
    headers = factory.headers(world["hcm_officer"])
    union = client.post("/api/v1/unions", json={"code": "CDCS-24-NEW", "name": "X",
                                                "province_code": "24"}, headers=headers)
    assert union.status_code == 422
    member = client.post("/api/v1/members", json={
        "full_name": "A B", "birth_date": "1990-01-01", "sex": "M",
        "personal_id": "024090123456", "union_code": "CDCS-24-QUEVO1"}, headers=headers)
    assert member.status_code == 422
    assert member.get_json()["errors"][0]["field"] == "union_code"


def test_cannot_move_a_member_out_of_scope(client: FlaskClient, factory, world) -> None:
    headers = factory.headers(world["bn_officer"])
    response = client.patch(f"/api/v1/members/{world['bn_member'].id}",
                            json={"union_code": "CDCS-79-TANTHUAN"}, headers=headers)
    assert response.status_code == 422


def test_unions_crud_in_scope(client: FlaskClient, factory, world) -> None:
    headers = factory.headers(world["bn_officer"])
    created = client.post("/api/v1/unions", json={
        "code": "cdcs-24-vsip", "name": "  CĐCS Công ty TNHH Cơ khí  VSIP ",
        "province_code": "24", "employer": "Công ty TNHH Cơ khí VSIP",
        "industrial_park": "KCN VSIP Bắc Ninh"}, headers=headers)
    assert created.status_code == 201
    assert created.get_json()["code"] == "CDCS-24-VSIP"
    assert created.get_json()["name"] == "CĐCS Công ty TNHH Cơ khí VSIP"
    again = client.post("/api/v1/unions", json={"code": "CDCS-24-VSIP", "name": "X",
                                                "province_code": "24"}, headers=headers)
    assert again.status_code == 409
    changed = client.patch("/api/v1/unions/CDCS-24-VSIP", json={"employer": "Công ty mới"},
                           headers=headers)
    assert changed.status_code == 200 and changed.get_json()["employer"] == "Công ty mới"
    listed = client.get("/api/v1/unions?q=vsip", headers=headers).get_json()
    assert [u["code"] for u in listed["items"]] == ["CDCS-24-VSIP"]
    union_scoped = client.post("/api/v1/unions", json={"code": "CDCS-24-X", "name": "X",
                                                       "province_code": "24"},
                               headers=factory.headers(world["union_officer"]))
    assert union_scoped.status_code == 422


@pytest.mark.parametrize("wildcard", ["%", "_", "\\"])
def test_search_wildcards_are_literal(client: FlaskClient, factory, world, wildcard) -> None:
    headers = factory.headers(world["bn_officer"])
    factory.union("CDCS-24-A_B", "24", name="CĐCS 100% vốn")
    unions = client.get("/api/v1/unions", query_string={"q": wildcard}, headers=headers)
    assert unions.status_code == 200
    expected = {"%": ["CDCS-24-A_B"], "_": ["CDCS-24-A_B"], "\\": []}[wildcard]
    assert [u["code"] for u in unions.get_json()["items"]] == expected
    members = client.get("/api/v1/members", query_string={"q": wildcard}, headers=headers)
    assert members.status_code == 200 and members.get_json()["items"] == []


@pytest.mark.parametrize("query", ["王", "😀", "\u0301", "\uffff"])
def test_a_name_query_with_no_latin_letters_matches_nobody(client: FlaskClient, factory, world,
                                                           query: str) -> None:
    # such a query transliterates to nothing; it was then no filter at all (every member)
    headers = factory.headers(world["bn_officer"])
    everyone = client.get("/api/v1/members", headers=headers).get_json()
    assert everyone["total"] > 0
    members = client.get("/api/v1/members", query_string={"q": query}, headers=headers)
    assert members.status_code == 200
    assert members.get_json()["items"] == [] and members.get_json()["total"] == 0
