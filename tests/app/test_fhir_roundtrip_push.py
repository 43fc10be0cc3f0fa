"""An IPS-shaped Bundle carrying resources the summary has no section for (PractitionerRole,
Device, DocumentReference, Procedure ...) is accepted by the feed push, and the answer notes what
was left out (types and counts only, never content)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.services.health.store import HealthStore
from tests.app.test_fhir_roundtrip import MAI, source
from tests.app.test_health_feeds import create_feed, feed_token
from tests.app.test_health_store import cipher_for_tests, officer_scope

URL = "/api/v1/health-records"


@pytest.fixture
def pushed(client: FlaskClient, factory, session) -> dict[str, Any]:
    store = HealthStore(session, cipher_for_tests(), actor="user:1")
    member = factory.member(factory.union(province="24"))
    store.link(officer_scope("24"), member.id, MAI)
    session.commit()
    made = create_feed(client, factory, ["24"])
    headers = {"Authorization": f"Bearer {feed_token(client, made)}",
               "Content-Type": "application/fhir+json"}
    return {"store": store, "member": member, "headers": headers}


def test_an_ips_document_with_every_section_is_stored_with_notes(client, pushed) -> None:
    response = client.post(URL, data=json.dumps(source(MAI)), headers=pushed["headers"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "stored"
    assert "1 Procedure resource not kept: the summary has no section for Procedure." in \
        body["notes"]
    assert {n.split()[1] for n in body["notes"]} >= {"Device", "DocumentReference", "Flag",
                                                      "Media", "Specimen"}
    # ids and counts only: no clinical text of what was left out
    text = response.get_data(as_text=True)
    assert "Cắt ruột thừa" not in text and "Theo dõi huyết áp" not in text
    document = pushed["store"].load(pushed["member"].id)
    assert document["version"] == 3
    assert [m["dose"] for m in document["sections"]["medications"]][0] == \
        "1 viên, 1 lần/1 d, tổng 90 lần, Uống"


def test_a_batch_item_carries_its_notes(client, pushed) -> None:
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": source(MAI), "request": {"method": "POST", "url": "health-records"}}]}
    response = client.post(URL + "/$batch", data=json.dumps(batch), headers=pushed["headers"])
    assert response.status_code == 200, response.get_json()
    [item] = response.get_json()["items"]
    assert item["status"] == "stored" and len(item["notes"]) == 11
