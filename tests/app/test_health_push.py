"""The feed push: one Bundle or a batch, found by the Patient's health ID, only for members of
the feed's provinces; invalid Bundles change nothing; a re-push is unchanged; nothing of the
record in the answers or logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.models import AuditEntry, HealthRecord
from app.services.health.store import HealthStore
from tests.app.fhir_fixtures import FIXTURES, bundle, raw
from tests.app.health_fixtures import DISTINCTIVE
from tests.app.test_health_feeds import create_feed, feed_token
from tests.app.test_health_store import cipher_for_tests, officer_scope

YEN, HUNG, HOA, ANH = FIXTURES
FHIR = "application/fhir+json"
URL = "/api/v1/health-records"


@pytest.fixture
def office(factory, session) -> dict[str, Any]:
    """Members in Bắc Ninh (24) linked to Yến's and Hùng's health IDs, one in HCMC (79)
    linked to Hoa's; a feed serving 24 and its bearer header."""
    store = HealthStore(session, cipher_for_tests(), actor="user:1")
    members = {}
    for health_id, province in ((YEN, "24"), (HUNG, "24"), (HOA, "79")):
        union = factory.union(province=province)
        member = factory.member(union)
        store.link(officer_scope(province), member.id, health_id)
        members[health_id] = member
    session.commit()
    return {"members": members, "store": store}


@pytest.fixture
def feed(client: FlaskClient, factory) -> dict[str, Any]:
    made = create_feed(client, factory, ["24"])
    return {**made, "headers": {"Authorization": f"Bearer {feed_token(client, made)}",
                                "Content-Type": FHIR}}


def records(session) -> int:
    return int(session.scalar(select(func.count()).select_from(HealthRecord)) or 0)


def test_a_pushed_bundle_is_stored_encrypted_and_a_repush_is_unchanged(
        client, office, feed, session, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post(URL, data=raw(YEN), headers=feed["headers"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "stored" and body["entries"] > 10
    assert body["bundle_id"] == bundle(YEN)["identifier"]["value"]
    member = office["members"][YEN]
    document = office["store"].load(member.id)
    assert document["health_id"] == YEN
    record = session.scalar(select(HealthRecord).where(HealthRecord.member_id == member.id))
    assert record.source == f"feed:{feed['id']}"
    again = client.post(URL, data=raw(YEN), headers=feed["headers"])
    assert again.status_code == 200 and again.get_json()["status"] == "unchanged"
    session.expire_all()
    assert session.get(HealthRecord, record.id).updated_at == record.updated_at
    changed = bundle(YEN)
    changed["entry"] = [e for e in changed["entry"]
                        if e["resource"]["resourceType"] != "Immunization"]
    third = client.post(URL, data=json.dumps(changed), headers=feed["headers"])
    assert third.get_json()["status"] == "stored"
    audit = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "health-record.push")).all()
    assert [a.details["changed"] for a in audit] == [True, False, True]
    texts = [response.get_data(as_text=True), again.get_data(as_text=True), caplog.text,
             *(json.dumps(a.details) for a in audit)]
    patient_name = next(e["resource"]["name"][0]["family"] for e in bundle(YEN)["entry"]
                        if e["resource"]["resourceType"] == "Patient")
    for text in texts:
        assert patient_name not in text and YEN not in text
        assert not any(s in text for s in DISTINCTIVE)


@pytest.mark.parametrize("health_id", [HOA, ANH])
def test_a_member_the_feed_does_not_serve_or_unknown_is_not_found(
        client, office, feed, session, health_id) -> None:
    response = client.post(URL, data=raw(health_id), headers=feed["headers"])
    assert response.status_code == 404
    body = response.get_json()
    assert body["type"] == "/problems/not-found"
    assert "79" not in body["detail"] and health_id not in json.dumps(body)
    assert records(session) == 0


def test_an_invalid_bundle_is_422_and_changes_nothing(client, office, feed, session) -> None:
    broken = bundle(YEN)
    condition = next(e["resource"] for e in broken["entry"]
                     if e["resource"]["resourceType"] == "Condition")
    condition["onsetDateTime"] = "not a date"
    response = client.post(URL, data=json.dumps(broken), headers=feed["headers"])
    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "/problems/fhir-invalid"
    assert any("Bundle.entry[" in e["field"] for e in body["errors"])
    assert records(session) == 0


@pytest.mark.parametrize("payload, field", [
    (b"{not json", "Bundle"),
    (json.dumps({"resourceType": "Patient"}).encode(), "Bundle.resourceType"),
    (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}).encode(),
     "Bundle.entry"),
    (b"[" * 100 + b"]" * 100, "Bundle"),
    # identifiers and entries of the wrong JSON type: refused, not a 500
    (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "identifier": 5}}]}).encode(),
     "Bundle.entry"),
    (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": "x"}).encode(),
     "Bundle.entry"),
])
def test_not_a_bundle_is_fhir_invalid(client, office, feed, payload, field) -> None:
    response = client.post(URL, data=payload, headers=feed["headers"])
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_a_bundle_over_the_size_limit_is_413(client, office, feed, app, session) -> None:
    big = bundle(YEN)
    big["entry"][1]["resource"]["text"] = {"status": "generated",
                                           "div": "<div>" + "x" * 10_000_000 + "</div>"}
    response = client.post(URL, data=json.dumps(big), headers=feed["headers"])
    assert response.status_code == 413
    assert response.get_json()["type"] == "/problems/bundle-too-large"
    assert records(session) == 0


def test_too_many_entries_are_fhir_invalid(client, office, feed, session) -> None:
    many = bundle(YEN)
    observation = next(e for e in many["entry"]
                       if e["resource"]["resourceType"] == "Observation")
    many["entry"] += [observation] * 300
    response = client.post(URL, data=json.dumps(many), headers=feed["headers"])
    assert response.status_code == 422 and "at most" in response.get_json()["errors"][0]["detail"]
    assert records(session) == 0


def test_push_needs_fhir_json_and_a_feed_token(client, office, feed, factory) -> None:
    as_json = client.post(URL, data=raw(YEN), headers={**feed["headers"],
                                                       "Content-Type": "application/json"})
    assert as_json.status_code == 415
    officer = factory.headers(factory.user("officer"))
    staff = client.post(URL, data=raw(YEN), headers={**officer, "Content-Type": FHIR})
    assert staff.status_code == 403
    anonymous = client.post(URL, data=raw(YEN), headers={"Content-Type": FHIR})
    assert anonymous.status_code == 401


def batch_of(*bundles: Any) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": b, "request": {"method": "POST", "url": "health-records"}}
        for b in bundles]}).encode()


def test_a_batch_answers_per_item_and_stores_the_valid_ones(client, office, feed,
                                                            session) -> None:
    broken = bundle(HUNG)
    broken["entry"][0]["resource"]["date"] = "not a date"
    response = client.post(f"{URL}/$batch", headers=feed["headers"],
                           data=batch_of(bundle(YEN), bundle(HOA), broken, bundle(YEN)))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["counts"] == {"stored": 1, "unchanged": 1, "rejected": 2}
    items = body["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3]
    assert [i["status"] for i in items] == ["stored", "rejected", "rejected", "unchanged"]
    assert items[1]["problem"]["type"] == "/problems/not-found"
    assert items[2]["problem"]["type"] == "/problems/fhir-invalid"
    assert items[2]["problem"]["errors"]
    assert records(session) == 1
    assert not any(s in response.get_data(as_text=True) for s in (YEN, HUNG, HOA))


def test_a_batch_that_is_not_a_batch_or_too_big(client, office, feed, app,
                                                monkeypatch) -> None:
    not_batch = client.post(f"{URL}/$batch", headers=feed["headers"], data=raw(YEN))
    assert not_batch.status_code == 422
    assert not_batch.get_json()["errors"][0]["field"] == "Bundle.type"
    monkeypatch.setitem(app.config, "HEALTH_FEED_BATCH_MAX_ITEMS", 2)
    many = client.post(f"{URL}/$batch", headers=feed["headers"],
                       data=batch_of(*[bundle(YEN)] * 3))
    assert many.status_code == 422
    ten_mb = batch_of(*[bundle(YEN)] * 350)  # about 10 MB of entries
    assert len(ten_mb) > app.config["HEALTH_FEED_BATCH_MAX_BYTES"]
    big = client.post(f"{URL}/$batch", headers=feed["headers"], data=ten_mb)
    assert big.status_code == 413 and big.get_json()["type"] == "/problems/bundle-too-large"
