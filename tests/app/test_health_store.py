"""The health store: link and unlink in scope, the encrypted summary, coverage for officers."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.config import decode_data_key
from app.crypto import DataCipher
from app.models import AuditEntry, HealthLink, HealthRecord
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.errors import Conflict, NotFound, RegisteredElsewhere, ValidationFailed
from app.services.health.store import HealthStore
from tests.app.health_fixtures import DISTINCTIVE, health_document
from tests.conftest import TEST_CONFIG

HEALTH_ID = "2401234567"


def cipher_for_tests() -> DataCipher:
    return DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                      lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))


def officer_scope(province: str = "24") -> Scope:
    return Scope(Principal("user", 1, "officer", province_code=province))


@pytest.fixture
def office(factory) -> dict[str, Any]:
    union = factory.union("CDCS-24-QUEVO1", "24")
    officer = factory.user("officer", "24")
    return {"union": union, "officer": officer, "headers": factory.headers(officer),
            "member": factory.member(union)}


@pytest.fixture
def store(session) -> HealthStore:
    return HealthStore(session, cipher_for_tests(), actor="user:1")


def test_link_stores_the_health_id_encrypted_and_audits_without_it(store, office,
                                                                   session) -> None:
    pulls: list[tuple[int, str]] = []
    store.request_pull = lambda member_id, health_id: pulls.append((member_id, health_id))
    member = office["member"]
    store.link(officer_scope(), member.id, "240 123 4567")
    link = session.scalar(select(HealthLink).where(HealthLink.member_id == member.id))
    assert HEALTH_ID.encode() not in link.health_id_encrypted and HEALTH_ID not in \
        link.health_id_hash
    assert store.health_id(member.id) == HEALTH_ID
    assert store.member_for_health_id(HEALTH_ID) == member.id
    assert pulls == [(member.id, HEALTH_ID)]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.health-link"))
    assert entry.object_id == str(member.id) and HEALTH_ID not in str(entry.details)
    store.link(officer_scope(), member.id, HEALTH_ID)  # the same again: nothing new
    assert len(pulls) == 1


def test_a_health_id_links_one_member_only(store, office, factory) -> None:
    other = factory.member(office["union"])
    store.link(officer_scope(), office["member"].id, HEALTH_ID)
    with pytest.raises(Conflict) as caught:
        store.link(officer_scope(), other.id, HEALTH_ID)
    assert caught.value.extra["existing_member_id"] == office["member"].id


def test_a_health_id_of_another_office_says_nothing_of_where(store, office, factory) -> None:
    far = factory.member(factory.union(province="79"))
    store.link(Scope(Principal("user", 2, "officer", province_code="79")), far.id, HEALTH_ID)
    with pytest.raises(RegisteredElsewhere) as caught:
        store.link(officer_scope(), office["member"].id, HEALTH_ID)
    assert "79" not in caught.value.detail and not caught.value.extra


def test_out_of_scope_members_and_bad_ids_are_refused(store, office, factory) -> None:
    far = factory.member(factory.union(province="79"))
    with pytest.raises(NotFound):
        store.link(officer_scope(), far.id, HEALTH_ID)
    with pytest.raises(ValidationFailed):
        store.link(officer_scope(), office["member"].id, "12345")
    with pytest.raises(NotFound):
        store.unlink(officer_scope(), office["member"].id)


def test_save_load_and_an_identical_re_push_changes_nothing(store, office, session) -> None:
    member = office["member"]
    document = health_document()
    saved = store.save(member.id, document, source="feed:vssid-test", bundle_id="b-1")
    assert saved.changed and store.load(member.id) == document
    record = session.scalar(select(HealthRecord).where(HealthRecord.member_id == member.id))
    for text in DISTINCTIVE:
        assert text.encode() not in record.summary_encrypted
    first_update, wrapped = record.updated_at, record.data_key_wrapped
    again = store.save(member.id, health_document(), source="feed:vssid-test", bundle_id="b-2")
    assert not again.changed and again.record.data_key_wrapped == wrapped
    assert again.record.updated_at == first_update
    changed = store.save(member.id, {**document, "allergies": []}, source="pull", bundle_id="b-3")
    assert changed.changed and store.load(member.id)["allergies"] == []
    assert store.load(member.id + 1000) is None


def test_a_summary_copied_to_another_member_does_not_decrypt(store, office, factory,
                                                            session) -> None:
    from app.crypto import DecryptionError

    other = factory.member(office["union"])
    store.save(office["member"].id, health_document(), source="s", bundle_id="b")
    store.save(other.id, {"allergies": []}, source="s", bundle_id="b")
    mine, theirs = (session.scalar(select(HealthRecord).where(HealthRecord.member_id == m))
                    for m in (office["member"].id, other.id))
    theirs.summary_encrypted, theirs.data_key_wrapped = mine.summary_encrypted, \
        mine.data_key_wrapped
    session.flush()
    with pytest.raises(DecryptionError):
        store.load(other.id)


def test_unlink_removes_the_link_and_the_record_that_came_through_it(store, office,
                                                                    session) -> None:
    member = office["member"]
    store.link(officer_scope(), member.id, HEALTH_ID)
    store.save(member.id, health_document(), source="s", bundle_id="b")
    assert store.coverage(member.id).linked and store.coverage(member.id).updated_at
    store.unlink(officer_scope(), member.id)
    assert store.coverage(member.id).linked is False
    assert store.coverage(member.id).updated_at is None
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "member.health-unlink"))


def test_coverage_figures_count_the_scope_only(store, office, factory) -> None:
    factory.member(factory.union(province="79"))
    second = factory.member(office["union"])
    store.link(officer_scope(), office["member"].id, HEALTH_ID)
    store.save(office["member"].id, health_document(), source="s", bundle_id="b")
    store.save(second.id, {"allergies": []}, source="s", bundle_id="b")
    figures = store.coverage_figures(officer_scope())
    assert (figures.members, figures.linked, figures.with_record) == (2, 1, 2)


def test_a_transfer_takes_the_health_rows_to_the_new_province(store, office, factory,
                                                              session) -> None:
    from app.services.registry.transfers import TransferDesk

    member = office["member"]
    store.link(officer_scope(), member.id, HEALTH_ID)
    store.save(member.id, health_document(), source="s", bundle_id="b")
    target = factory.union(province="79")
    far = Scope(Principal("user", 3, "officer", province_code="79"))
    desk = TransferDesk(session, cipher_for_tests(), actor="user:3")
    personal_id = store.cipher.decrypt(member.personal_id_encrypted, "member.personal_id",
                                       member.personal_id_hash)
    transfer = desk.request(far, personal_id, target.code, "chuyển công tác")
    desk.accept(officer_scope(), transfer.id, "đồng ý")
    for table in (HealthLink, HealthRecord):
        assert session.scalar(select(table.province_code).where(
            table.member_id == member.id)) == "79"


# -- the API ------------------------------------------------------------------------------
def test_officers_link_and_see_coverage_only(client: FlaskClient, office, session) -> None:
    member, headers = office["member"], office["headers"]
    body = client.get(f"/api/v1/members/{member.id}", headers=headers).get_json()
    assert body["health_record"] == {"linked": False, "updated_at": None}
    response = client.put(f"/api/v1/members/{member.id}/health-link",
                          json={"health_id": HEALTH_ID}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"linked": True, "updated_at": None}
    assert HEALTH_ID not in response.get_data(as_text=True)
    HealthStore(session, cipher_for_tests(), actor="feed").save(
        member.id, health_document(), source="feed:vssid-test", bundle_id="b")
    session.commit()
    body = client.get(f"/api/v1/members/{member.id}", headers=headers).get_json()
    assert body["health_record"]["linked"] is True and body["health_record"]["updated_at"]
    assert client.delete(f"/api/v1/members/{member.id}/health-link",
                         headers=headers).status_code == 204
    assert client.delete(f"/api/v1/members/{member.id}/health-link",
                         headers=headers).status_code == 404


def test_link_errors_are_problems(client: FlaskClient, office, factory) -> None:
    member, headers = office["member"], office["headers"]
    bad = client.put(f"/api/v1/members/{member.id}/health-link", json={"health_id": "12"},
                     headers=headers)
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    other = factory.member(office["union"])
    client.put(f"/api/v1/members/{member.id}/health-link", json={"health_id": HEALTH_ID},
               headers=headers)
    taken = client.put(f"/api/v1/members/{other.id}/health-link",
                       json={"health_id": HEALTH_ID}, headers=headers)
    assert taken.status_code == 409 and HEALTH_ID not in taken.get_data(as_text=True)
    far = factory.member(factory.union(province="79"))
    assert client.put(f"/api/v1/members/{far.id}/health-link", json={"health_id": HEALTH_ID},
                      headers=headers).status_code == 404
