"""The access log: records appended to per-member hash chains, free text sealed, the outbox."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from app.composition import access_log, checkpoint_key, cipher_for_config
from app.crypto import DecryptionError
from app.models import AccessChainHead, AccessEvent, AccessEventText, OutboxMessage
from app.services.access_events.chain import GENESIS, event_hash, fields_of
from app.services.access_events.log import AccessLog, AccessRecord
from app.services.access_events.outbox import notify_emergency
from tests.app.access_helpers import NOW, Clock, record_for


@pytest.fixture
def log(app, session) -> AccessLog:
    return AccessLog(session, cipher_for_config(app.config), clock=Clock())


@pytest.fixture
def member(factory):
    return factory.member(factory.union())


def test_events_of_a_member_form_one_chain(log, session, member) -> None:
    first = log.record(record_for(member, "verify", outcome="valid", released=(), denied={}))
    second = log.record(record_for(member, "pull"))
    third = log.record(record_for(member, "denial", outcome="refused", reason="no-presence"))
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.chain_key == second.chain_key == f"member:{member.id}"
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    for event in (first, second, third):
        assert event.hash == event_hash(fields_of(event))
    head = session.get(AccessChainHead, f"member:{member.id}")
    assert (head.seq, head.hash) == (3, third.hash)
    assert first.at == NOW


def test_the_stored_row_hashes_to_its_hash(log, session, member) -> None:
    """What the database gives back (JSON, timestamps) encodes exactly as what was hashed."""
    event = log.record(record_for(member, "pull"))
    session.commit()
    session.expunge_all()
    row = session.get(AccessEvent, event.id)
    assert row.released == ["allergies", "emergency-core"]
    assert row.denied == {"medications": "no-consent"}
    assert event_hash(fields_of(row)) == row.hash


def test_every_field_changes_the_hash(log, member) -> None:
    event = log.record(record_for(member, "pull"))
    fields = fields_of(event)
    for name, other in (("clinic_name", "X"), ("purpose", "occupational-health"),
                        ("released", ["allergies"]), ("denied", {}), ("seq", 2),
                        ("prev_hash", "1" * 64), ("member_id", member.id + 1),
                        ("at", NOW.replace(microsecond=1)), ("outcome", "refused")):
        assert event_hash({**fields, name: other}) != event.hash, name


def test_members_have_separate_chains(log, factory) -> None:
    union = factory.union()
    one, two = factory.member(union), factory.member(union)
    a = log.record(record_for(one))
    b = log.record(record_for(two))
    assert (a.seq, b.seq) == (1, 1)
    assert a.chain_key != b.chain_key


def test_a_scan_tied_to_no_member_joins_the_clinics_chain(log, session) -> None:
    event = log.record(record_for(None, "denial", card_serial=None, outcome="invalid",
                                  reason="bad-signature", released=(), denied={}))
    assert event.chain_key == "clinic:27001" and event.member_id is None
    assert session.get(AccessChainHead, "clinic:27001").seq == 1


def test_the_emergency_text_is_sealed_and_bound_to_its_event(app, log, session, member) -> None:
    event = log.record(record_for(member, "emergency"))
    stored = session.get(AccessEventText, event.id)
    assert "bất tỉnh".encode() not in stored.text_encrypted
    assert log.emergency_text(event) == "Bệnh nhân bất tỉnh tại xưởng, cần biết dị ứng."
    assert event.emergency_text_digest is not None and len(event.emergency_text_digest) == 64
    with pytest.raises(DecryptionError):  # moved to another event: refused
        cipher_for_config(app.config).decrypt(stored.text_encrypted,
                                              "access_event_texts.text", str(event.id + 1))
    plain = log.record(record_for(member, "pull"))
    assert log.emergency_text(plain) is None and plain.emergency_text_digest is None


@pytest.mark.parametrize("change", [
    {"kind": "peek"}, {"clinic_code": ""}, {"client_id": ""}, {"province_code": None},
    {"clinic_name": "x" * 201}, {"emergency_reason": "unconscious"},
    {"practitioner": "p" * 201},
])
def test_bad_records_are_refused_before_anything_is_written(member, change) -> None:
    with pytest.raises(ValueError):
        replace(record_for(member, "pull"), **change)


def test_an_emergency_text_too_long_is_refused(member) -> None:
    with pytest.raises(ValueError):
        record_for(member, "emergency", emergency_text="x" * 2001)


def test_notify_emergency_queues_one_message(log, session, member) -> None:
    event = log.record(record_for(member, "emergency"))
    notify_emergency(session, event)
    notify_emergency(session, event)  # once per event
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_id == event.id)).all()
    assert len(rows) == 1
    assert (rows[0].member_id, rows[0].status, rows[0].kind) == (member.id, "pending",
                                                                 "emergency-access")


def test_notify_emergency_refuses_other_kinds_and_skips_no_member(log, session, member) -> None:
    with pytest.raises(ValueError):
        notify_emergency(session, log.record(record_for(member, "pull")))
    anonymous = log.record(record_for(None, "emergency", card_serial=None))
    notify_emergency(session, anonymous)
    assert session.scalars(select(OutboxMessage)).all() == []


def test_the_composition_root_builds_the_log(app, session, member) -> None:
    with app.app_context():
        built = access_log(session)
    event = built.record(AccessRecord(kind="verify", member_id=member.id,
                                      province_code=member.province_code,
                                      card_serial="UC-1", clinic_code="27001",
                                      clinic_name="Phòng khám", client_id="c1",
                                      outcome="valid"))
    assert event.seq == 1 and event.at.tzinfo is not None


def test_a_data_key_rotation_rewraps_the_texts_and_addresses_and_keeps_the_chain(
        app, session, member) -> None:
    """The sealed emergency text lives outside the chain: re-wrapping it changes no hash."""
    import base64
    import os

    from app.crypto import DataCipher
    from app.services.access_events.addresses import NotificationAddresses
    from app.services.access_events.verify import verify
    from app.services.data_keys import DataKeyRotation

    old = cipher_for_config(app.config)
    lookup = base64.b64decode(app.config["LOOKUP_KEY"])
    event = AccessLog(session, old, clock=Clock()).record(record_for(member, "emergency"))
    NotificationAddresses(session, old).set(member.id, "yen@example.vn")
    session.commit()
    new = DataCipher([os.urandom(32), app.config["DATA_KEY_BYTES"]], lookup_key=lookup)
    DataKeyRotation(session, new).run()
    census = DataKeyRotation(session, new).census()
    assert census["access_event_texts.text"] == {new.current: 1}
    assert census["notification_addresses.email"] == {new.current: 1}
    session.expire_all()
    assert AccessLog(session, new).emergency_text(event).startswith("Bệnh nhân bất tỉnh")
    assert NotificationAddresses(session, new).email(member.id) == "yen@example.vn"
    assert verify(session, cipher=new, key=checkpoint_key(app.config)).ok
