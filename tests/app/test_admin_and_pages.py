"""Administrators see the audit log and keys; the card's NFC link page shows only its status."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.models import Card
from app.services.issuing.public_card import public_status
from tests.app.cards_helpers import office


def test_audit_log_is_for_administrators(client, factory) -> None:
    world = office(factory)
    card = client.post(f"/api/v1/members/{world['yen'].id}/cards",
                       headers=world["headers"]).get_json()
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "lost"},
                headers=world["headers"])
    assert client.get("/api/v1/audit", headers=world["headers"]).status_code == 403
    admin = factory.headers(factory.user("admin"))
    page = client.get(f"/api/v1/audit?object_id={card['serial']}", headers=admin).get_json()
    assert [e["action"] for e in page["items"]] == ["card.revoke", "card.issue"]
    assert page["items"][0]["reason"] == "lost"
    cards_only = client.get("/api/v1/audit?action=card.", headers=admin).get_json()
    assert {e["action"] for e in cards_only["items"]} <= {"card.issue", "card.revoke"}
    keys = client.get("/api/v1/keys", headers=admin).get_json()
    assert {k["purpose"] for k in keys} >= {"card"}
    assert all("private_pem" not in k for k in keys)
    assert client.get("/api/v1/keys", headers=world["headers"]).status_code == 403


def test_nfc_link_page_shows_status_only(client, factory) -> None:
    world = office(factory)
    card = client.post(f"/api/v1/members/{world['yen'].id}/cards",
                       headers=world["headers"]).get_json()
    page = client.get(f"/v/{card['serial']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Thẻ còn hiệu lực" in html
    assert "Nguyễn" not in html and world["yen"].member_number not in html
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "stolen"},
                headers=world["headers"])
    assert "Thẻ đã bị thu hồi" in client.get(f"/v/{card['serial']}").get_data(as_text=True)
    assert client.get("/v/NOSUCHSERIAL").status_code == 404


def test_public_status_is_expired_only_for_an_active_card_past_its_validity(
        client, factory, session) -> None:
    world = office(factory)
    serial = client.post(f"/api/v1/members/{world['yen'].id}/cards",
                         headers=world["headers"]).get_json()["serial"]
    card = session.scalar(select(Card).where(Card.serial == serial))
    during, after = card.expires_at - timedelta(seconds=1), card.expires_at
    assert public_status(session, serial.lower(), now=during).status == "active"
    expired = public_status(session, serial, now=after)
    assert (expired.serial, expired.status, expired.expires_at) == (serial, "expired",
                                                                   card.expires_at)
    assert client.post(f"/api/v1/cards/{serial}/suspend", json={"reason": "lost"},
                       headers=world["headers"]).status_code == 200
    session.expire_all()
    assert public_status(session, serial, now=after).status == "suspended"
    assert public_status(session, "NOSUCHSERIAL", now=after) is None


def test_landing_page_links_lead_somewhere(client) -> None:
    html = client.get("/").get_data(as_text=True)
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    assert {"/", "/docs", "/api/v1/openapi.json", "/problems/", "/healthz", "/readyz",
            "/console/", "/me/", "/clinic/"} <= hrefs
    for href in hrefs:  # the stylesheet is a file response: close it
        # the three parts ask for signing in first: their sign-in page answers
        response = client.get(href, follow_redirects=True)
        assert response.status_code == 200, href
        response.close()
