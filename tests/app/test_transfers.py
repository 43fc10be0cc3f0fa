"""Members of other offices: a refused registration says nothing about where the person is, is
audited and rate-limited; the proper path is a transfer request the holding office decides."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.models import AuditEntry, Member
from app.services.registry import members
from tests.conftest import make_cccd


@pytest.fixture
def world(factory) -> dict[str, Any]:
    bn_union = factory.union("CDCS-24-QUEVO1", "24")
    hcm_union = factory.union("CDCS-79-TANTHUAN", "79")
    bn, hcm = factory.user("officer", "24"), factory.user("officer", "79")
    lan = factory.member(hcm_union, full_name="Lê Thị Lan", birth_date=date(1992, 2, 2), sex="F",
                         personal_id="079192000123")
    return {"bn_union": bn_union, "hcm_union": hcm_union, "bn": bn, "hcm": hcm, "lan": lan,
            "bn_h": factory.headers(bn), "hcm_h": factory.headers(hcm)}


def register(client: FlaskClient, headers: dict[str, str], personal_id: str) -> Any:
    return client.post("/api/v1/members", json={
        "full_name": "Lê Thị Lan", "birth_date": "1992-02-02", "sex": "F",
        "personal_id": personal_id, "union_code": "CDCS-24-QUEVO1"}, headers=headers)


def test_a_person_held_elsewhere_is_refused_without_saying_where(client, world, session) -> None:
    response = register(client, world["bn_h"], "079192000123")
    assert response.status_code == 409
    body = response.get_json()
    assert body["type"] == "/problems/registered-elsewhere"
    assert body["detail"] == members.ELSEWHERE_DETAIL and "/api/v1/transfers" in body["detail"]
    # the random request id may contain any digits: look at everything but it
    text = json.dumps({k: v for k, v in body.items() if k != "request_id"}, ensure_ascii=False)
    assert set(body) <= {"type", "title", "status", "detail", "instance", "request_id"}
    assert "existing_member" not in text and "79" not in text and "TANTHUAN" not in text
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == members.ELSEWHERE_ACTION)).all()
    assert [(e.actor, e.object_id, e.province_code) for e in entries] == [
        (f"user:{world['bn'].id}", str(world["lan"].id), "79")]


def test_run_ins_with_other_offices_are_rate_limited(client, world, factory,
                                                     monkeypatch) -> None:
    monkeypatch.setattr(members, "ELSEWHERE_PER_HOUR", 2)
    for _ in range(2):
        assert register(client, world["bn_h"], "079192000123").status_code == 409
    limited = register(client, world["bn_h"], "079192000123")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3600"
    # over the limit even a person nobody holds gets 429: the answer tells nothing
    assert register(client, world["bn_h"], make_cccd(date(1992, 2, 2), "F")).status_code == 429
    request = client.post("/api/v1/transfers", json={
        "personal_id": "079192000123", "union_code": "CDCS-24-QUEVO1", "reason": "moved"},
        headers=world["bn_h"])
    assert request.status_code == 429
    other = factory.headers(factory.user("officer", "24"))
    assert register(client, other, make_cccd(date(1992, 2, 2), "F")).status_code == 201


def test_transfer_moves_the_member_and_their_cards(client, world, session) -> None:
    lan = world["lan"]
    old_number = lan.member_number
    assert old_number.startswith("79")
    card = client.post(f"/api/v1/members/{lan.id}/cards", headers=world["hcm_h"]).get_json()
    asked = client.post("/api/v1/transfers", json={
        "personal_id": "079 192 000 123", "union_code": "cdcs-24-quevo1",
        "reason": "Chuyển công tác về Bắc Ninh"}, headers=world["bn_h"])
    assert asked.status_code == 201, asked.get_json()
    transfer = asked.get_json()
    assert transfer["status"] == "pending" and "member_id" not in transfer
    assert "TANTHUAN" not in asked.get_data(as_text=True)
    again = client.post("/api/v1/transfers", json={
        "personal_id": "079192000123", "union_code": "CDCS-24-QUEVO1", "reason": "again"},
        headers=world["bn_h"])
    assert again.status_code == 409
    assert client.get("/api/v1/transfers/incoming", headers=world["bn_h"]).get_json() == []
    incoming = client.get("/api/v1/transfers/incoming", headers=world["hcm_h"]).get_json()
    assert [(t["id"], t["member_id"], t["to_union_code"]) for t in incoming] == [
        (transfer["id"], lan.id, "CDCS-24-QUEVO1")]
    # the requesting office cannot decide its own request
    assert client.post(f"/api/v1/transfers/{transfer['id']}/accept", json={},
                       headers=world["bn_h"]).status_code == 404
    accepted = client.post(f"/api/v1/transfers/{transfer['id']}/accept",
                           json={"reason": "ok"}, headers=world["hcm_h"])
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    session.expire_all()
    moved = session.get(Member, lan.id)
    assert (moved.province_code, moved.union_code) == ("24", "CDCS-24-QUEVO1")
    assert moved.member_number.startswith("24") and moved.member_number != old_number
    assert client.get(f"/api/v1/members/{lan.id}", headers=world["hcm_h"]).status_code == 404
    assert client.get(f"/api/v1/members/{lan.id}", headers=world["bn_h"]).status_code == 200
    serial = card["serial"]
    assert client.get(f"/api/v1/cards/{serial}", headers=world["hcm_h"]).status_code == 404
    assert client.get(f"/api/v1/cards/{serial}", headers=world["bn_h"]).status_code == 200
    reissued = client.post(f"/api/v1/members/{lan.id}/cards", headers=world["bn_h"])
    assert reissued.status_code == 201
    outgoing = client.get("/api/v1/transfers", headers=world["bn_h"]).get_json()
    assert [(t["id"], t["status"]) for t in outgoing] == [(transfer["id"], "accepted")]
    assert client.post(f"/api/v1/transfers/{transfer['id']}/reject", json={},
                       headers=world["bn_h"]).status_code == 409
    actions = set(session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("%transfer%"))))
    assert actions == {"transfer.request", "transfer.accept", "member.transfer"}


def test_a_rejected_transfer_leaves_the_member(client, world, session) -> None:
    asked = client.post("/api/v1/transfers", json={
        "personal_id": "079192000123", "union_code": "CDCS-24-QUEVO1", "reason": "moved"},
        headers=world["bn_h"]).get_json()
    rejected = client.post(f"/api/v1/transfers/{asked['id']}/reject",
                           json={"reason": "still works here"}, headers=world["hcm_h"])
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    session.expire_all()
    assert session.get(Member, world["lan"].id).province_code == "79"
    unknown = client.post("/api/v1/transfers", json={
        "personal_id": make_cccd(date(1990, 1, 1), "M"), "union_code": "CDCS-24-QUEVO1",
        "reason": "moved"}, headers=world["bn_h"])
    assert unknown.status_code == 422
    own = client.post("/api/v1/transfers", json={
        "personal_id": "079192000123", "union_code": "CDCS-79-TANTHUAN", "reason": "moved"},
        headers=world["hcm_h"])
    assert own.status_code == 409
