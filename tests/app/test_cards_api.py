"""The card desk over the API: issue, supersede, downloads, lifecycle, scope."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

import cards
from app.models import AuditEntry, Card
from cards import nfc
from tests.app.cards_helpers import office


@pytest.fixture
def world(factory):
    return office(factory)


def issue(client: FlaskClient, world, member) -> dict:
    response = client.post(f"/api/v1/members/{member.id}/cards", headers=world["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_issue_returns_card_and_one_time_activation_code(client, world, session) -> None:
    body = issue(client, world, world["yen"])
    assert body["status"] == "active" and body["issuer"] == "VN-VGCL"
    assert len(body["serial"]) == 16 and body["qr_version"] <= 10
    assert body["nfc_tag"] in ("NTAG213", "NTAG215", "NTAG216") and body["ndef_size"] > 0
    assert body["has_emergency_core"] is False
    code = body["activation_code"]
    assert len(code) == 14 and code.count("-") == 2
    shown = client.get(f"/api/v1/cards/{body['serial']}", headers=world["headers"]).get_json()
    assert "activation_code" not in shown
    card = session.scalar(select(Card).where(Card.serial == body["serial"]))
    assert code not in (card.activation_hash or "") and len(card.activation_hash) == 64
    assert b"UC1:" not in card.uc1_encrypted  # the signed text is encrypted at rest


def test_reissue_supersedes_the_old_card(client, world) -> None:
    first = issue(client, world, world["yen"])
    second = issue(client, world, world["yen"])
    old = client.get(f"/api/v1/cards/{first['serial']}", headers=world["headers"]).get_json()
    assert old["status"] == "revoked" and old["status_reason"] == "superseded"
    listed = client.get(f"/api/v1/members/{world['yen'].id}/cards",
                        headers=world["headers"]).get_json()
    assert [c["serial"] for c in listed] == [second["serial"], first["serial"]]
    assert [c["status"] for c in listed] == ["active", "revoked"]


def test_downloads_are_real_files(client, world, app) -> None:
    body = issue(client, world, world["yen"])
    base = f"/api/v1/cards/{body['serial']}"
    h = world["headers"]
    qr_png = client.get(f"{base}/qr.png", headers=h)
    assert qr_png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png.data)))
    text = decoded[0].text
    assert text.startswith("UC1:")
    svg = client.get(f"{base}/qr.svg", headers=h)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    front = client.get(f"{base}/card.png", headers=h)
    image = Image.open(io.BytesIO(front.data))
    assert image.size == (1011, 638)
    assert zxingcpp.read_barcodes(image)[0].text == text
    back = client.get(f"{base}/card-back.png", headers=h)
    assert Image.open(io.BytesIO(back.data)).size == (1011, 638)
    pdf = client.get(f"{base}/card.pdf", headers=h)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    ndef = client.get(f"{base}/nfc.ndef", headers=h).data
    assert len(ndef) == body["ndef_size"]
    uc1, uri = nfc.read_card_ndef(ndef)
    assert uc1 == text and uri.endswith(f"/v/{body['serial']}")
    claims = cards.verify(text, cards.KeyRing(), now=datetime.now(timezone.utc))
    assert claims.status == "unknown-issuer"  # an empty ring trusts nothing
    assert client.get(f"{base}/secrets.txt", headers=h).status_code == 404


def test_download_links_lead_to_the_files(client, world) -> None:
    body = issue(client, world, world["yen"])
    serial = body["serial"]
    base = f"/api/v1/cards/{serial}"
    names = ("qr.png", "qr.svg", "card.png", "card-back.png", "card.pdf", "nfc.ndef")
    assert body["downloads"] == {name: f"{base}/{name}" for name in names}
    for name, href in body["downloads"].items():
        response = client.get(href, headers=world["headers"])
        assert response.status_code == 200 and response.data, name
        assert response.headers["Content-Disposition"] == \
            f'inline; filename="{serial}-{name}"'
        assert response.headers["Cache-Control"] == "private, no-store"


def test_claims_come_from_the_register(client, world, app, session) -> None:
    from app.composition import publisher_for

    body = issue(client, world, world["yen"])
    card = session.scalar(select(Card).where(Card.serial == body["serial"]))
    from tests.app.cards_helpers import desk
    text = desk(app, session).text(card)
    result = cards.verify(text, publisher_for(app, session).live_trust(),
                          now=datetime.now(timezone.utc))
    assert result.status == "valid", result
    claims = result.claims
    assert claims.name == "Nguyễn Thị Kim Yến" and claims.member_number == \
        world["yen"].member_number
    assert claims.union_code == "CDCS-24-QUEVO1" and claims.province_code == "24"
    assert claims.emergency is None
    assert (claims.status_list_id, claims.status_index) == (body["status_list_id"],
                                                            body["status_index"])


def test_lifecycle_suspend_reinstate_revoke(client, world) -> None:
    serial = issue(client, world, world["yen"])["serial"]
    h = world["headers"]
    base = f"/api/v1/cards/{serial}"
    assert client.post(f"{base}/reinstate", headers=h).status_code == 409
    suspended = client.post(f"{base}/suspend", json={"reason": "lost"}, headers=h)
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
    assert client.post(f"{base}/suspend", json={"reason": "lost"}, headers=h).status_code == 409
    assert client.post(f"{base}/reinstate", headers=h).get_json()["status"] == "active"
    bad = client.post(f"{base}/revoke", json={"reason": "bored"}, headers=h)
    assert bad.status_code == 422
    revoked = client.post(f"{base}/revoke", json={"reason": "stolen"}, headers=h)
    assert revoked.get_json()["status"] == "revoked"
    assert revoked.get_json()["status_reason"] == "stolen"
    assert client.post(f"{base}/revoke", json={"reason": "lost"}, headers=h).status_code == 409
    assert client.post(f"{base}/activation-code", headers=h).status_code == 409


def test_new_activation_code_replaces_the_old(client, world, session) -> None:
    body = issue(client, world, world["yen"])
    card = session.scalar(select(Card).where(Card.serial == body["serial"]))
    before = card.activation_hash
    new = client.post(f"/api/v1/cards/{body['serial']}/activation-code",
                      headers=world["headers"]).get_json()["activation_code"]
    assert new != body["activation_code"]
    session.refresh(card)
    assert card.activation_hash != before


def test_cards_follow_member_status(client, world) -> None:
    h = world["headers"]
    serial = issue(client, world, world["yen"])["serial"]
    member_status = f"/api/v1/members/{world['yen'].id}/status"
    card = f"/api/v1/cards/{serial}"
    client.put(member_status, json={"status": "suspended"}, headers=h)
    assert client.get(card, headers=h).get_json()["status_reason"] == "member-suspended"
    blocked = client.post(f"/api/v1/members/{world['yen'].id}/cards", headers=h)
    assert blocked.status_code == 409
    client.put(member_status, json={"status": "active"}, headers=h)
    assert client.get(card, headers=h).get_json()["status"] == "active"
    client.put(member_status, json={"status": "left"}, headers=h)
    final = client.get(card, headers=h).get_json()
    assert (final["status"], final["status_reason"]) == ("revoked", "left-union")


def test_a_card_suspended_for_loss_stays_suspended_when_member_returns(client, world) -> None:
    h = world["headers"]
    serial = issue(client, world, world["yen"])["serial"]
    client.post(f"/api/v1/cards/{serial}/suspend", json={"reason": "lost"}, headers=h)
    member_status = f"/api/v1/members/{world['yen'].id}/status"
    client.put(member_status, json={"status": "suspended"}, headers=h)
    client.put(member_status, json={"status": "active"}, headers=h)
    card = client.get(f"/api/v1/cards/{serial}", headers=h).get_json()
    assert (card["status"], card["status_reason"]) == ("suspended", "lost")


def test_every_operation_is_audited(client, world, session) -> None:
    serial = issue(client, world, world["yen"])["serial"]
    h = world["headers"]
    client.post(f"/api/v1/cards/{serial}/suspend", json={"reason": "investigation"}, headers=h)
    client.post(f"/api/v1/cards/{serial}/revoke", json={"reason": "data-error"}, headers=h)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.object_id == serial)
                              .order_by(AuditEntry.id)).all()
    assert [(e.action, e.reason) for e in entries] == [
        ("card.issue", ""), ("card.suspend", "investigation"), ("card.revoke", "data-error")]
    assert {e.actor for e in entries} == {f"user:{world['officer'].id}"}


def test_scope_isolation_on_every_card_endpoint(client, world, factory) -> None:
    serial = issue(client, world, world["yen"])["serial"]
    stranger = factory.headers(factory.user("officer", "79"))
    calls = [("POST", f"/api/v1/members/{world['binh'].id}/cards", None),
             ("GET", f"/api/v1/members/{world['yen'].id}/cards", None),
             ("GET", f"/api/v1/cards/{serial}", None),
             ("GET", f"/api/v1/cards/{serial}/card.png", None),
             ("GET", f"/api/v1/cards/{serial}/nfc.ndef", None),
             ("POST", f"/api/v1/cards/{serial}/suspend", {"reason": "lost"}),
             ("POST", f"/api/v1/cards/{serial}/reinstate", None),
             ("POST", f"/api/v1/cards/{serial}/revoke", {"reason": "lost"}),
             ("POST", f"/api/v1/cards/{serial}/activation-code", None)]
    for method, path, body in calls:
        response = client.open(path, method=method, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.status_code)
    card = client.get(f"/api/v1/cards/{serial}", headers=world["headers"]).get_json()
    assert card["status"] == "active"


def test_printed_card_shows_sex_in_vietnamese(app, session, world) -> None:
    from tests.app.cards_helpers import desk

    card_desk = desk(app, session)
    issued = card_desk.issue_for(world["yen"])
    face = card_desk.face(issued.card)
    assert (face.sex, face.name, face.province_name) == ("Nữ", "Nguyễn Thị Kim Yến", "Bắc Ninh")
    assert face.union_name == "CĐCS Công ty TNHH Điện tử Quế Võ"


def test_card_access_follows_the_member_to_another_union(client, world, factory) -> None:
    serial = issue(client, world, world["yen"])["serial"]
    old_officer = factory.headers(factory.user("officer", "24", union="CDCS-24-QUEVO1"))
    other = factory.union("CDCS-24-YENPHONG", "24")
    new_officer = factory.headers(factory.user("officer", "24", union=other.code))
    assert client.get(f"/api/v1/cards/{serial}", headers=old_officer).status_code == 200
    moved = client.patch(f"/api/v1/members/{world['yen'].id}",
                         json={"union_code": other.code}, headers=world["headers"])
    assert moved.status_code == 200, moved.get_json()
    calls = [("GET", f"/api/v1/cards/{serial}", None),
             ("GET", f"/api/v1/cards/{serial}/card.png", None),
             ("GET", f"/api/v1/cards/{serial}/nfc.ndef", None),
             ("POST", f"/api/v1/cards/{serial}/activation-code", None),
             ("POST", f"/api/v1/cards/{serial}/suspend", {"reason": "lost"}),
             ("POST", f"/api/v1/cards/{serial}/reinstate", None),
             ("POST", f"/api/v1/cards/{serial}/revoke", {"reason": "lost"})]
    for method, path, body in calls:
        response = client.open(path, method=method, json=body, headers=old_officer)
        assert response.status_code == 404, (method, path, response.status_code)
    assert client.get(f"/api/v1/cards/{serial}", headers=new_officer).status_code == 200
    suspended = client.post(f"/api/v1/cards/{serial}/suspend", json={"reason": "lost"},
                            headers=new_officer)
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
