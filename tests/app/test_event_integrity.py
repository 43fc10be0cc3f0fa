"""Access-log integrity (issue 19): every stored field of an event under its hash (version 2),
the sealed emergency text checked against it, version-1 events still verifying, signed
checkpoints, and ``audit verify --expect``. Tampering is done with raw SQL, as someone with
direct database access would; ``verify``, the member's log (API and page) and administrators'
aggregate report it, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.config import ConfigError
from app.models import AccessChainHead, AccessCheckpoint, AccessEvent, AccessEventText
from app.services.access_events.chain import GENESIS, event_hash
from app.services.access_events.checkpoints import make_checkpoint
from app.services.access_events.log import AccessLog, member_chain
from app.services.access_events.verify import verify
from tests.app.access_helpers import NOW, Clock, audit_keys, record_for, seal
from tests.app.test_audit_chain import tamper
from tests.app.test_factory_config import PRODUCTION_SECRETS
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401
from tests.conftest import TEST_CONFIG, invoke
from tests.web.test_portal import activate_page

URL = "/api/v1/me/access-log"
SUMMARY = "/api/v1/admin/access-events/summary"


@pytest.fixture
def log(app, session) -> AccessLog:
    from app.composition import cipher_for_config

    return AccessLog(session, cipher_for_config(app.config), clock=Clock())


@pytest.fixture
def events(log, session, yen) -> dict[str, Any]:  # noqa: F811
    """Yến's chain: a verify (1), an emergency access with its text (2), a pull (3)."""
    member = yen["member"]
    recorded = {kind: log.record(record_for(member, kind))
                for kind in ("verify", "emergency", "pull")}
    session.commit()
    return {"member": member, **{kind: event.id for kind, event in recorded.items()}}


def _raw(session: Session, statement: Any, **params: Any) -> None:
    """Run ``statement`` with the append-only triggers out of the way (``tamper``'s way)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    tables = ("access_events", "access_checkpoints", "access_checkpoint_heads")
    saved: list[str] = []
    if postgres:
        for table in tables:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        saved = list(session.scalars(text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%append-only%'")))
        for name in session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         "AND sql LIKE '%append-only%'")).all():
            session.execute(text(f"DROP TRIGGER {name}"))
    session.execute(statement, params)
    if postgres:
        for table in tables:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    else:
        for sql in saved:
            session.execute(text(sql))
    session.commit()
    session.expunge_all()


#: One forged value for every stored column of ``access_events`` (all but ``hash``), and which
#: of Yến's events it is forged on (the pull: its id is referenced by no text row).
FORGERIES = {
    "id": ("pull", lambda e: e["pull"] + 1000),
    "hash_version": ("emergency", lambda e: 1),
    "chain_key": ("emergency", lambda e: "clinic:27001"),
    "seq": ("pull", lambda e: 7),
    "prev_hash": ("emergency", lambda e: "f" * 64),
    "at": ("emergency", lambda e: NOW + timedelta(hours=3)),
    "kind": ("pull", lambda e: "verify"),
    "member_id": ("emergency", lambda e: e["other"]),
    "province_code": ("emergency", lambda e: "79"),
    "card_serial": ("pull", lambda e: "UC-FORGED-0001"),
    "clinic_code": ("emergency", lambda e: "99999"),
    "clinic_name": ("emergency", lambda e: "Phòng khám khác"),
    "client_id": ("pull", lambda e: "another-client"),
    "device_id": ("pull", lambda e: "scanner-9"),
    "practitioner": ("emergency", lambda e: "BS. Người Khác"),
    "purpose": ("pull", lambda e: "occupational-health"),
    "released": ("pull", lambda e: ["allergies", "emergency-core", "medications"]),
    "denied": ("pull", lambda e: {}),
    "outcome": ("pull", lambda e: "refused"),
    "reason": ("pull", lambda e: "forged"),
    "emergency_reason": ("emergency", lambda e: "other"),
    "emergency_text_digest": ("emergency", lambda e: "e" * 64),
}


def test_every_stored_column_is_forged_here() -> None:
    columns = {c.name for c in AccessEvent.__table__.c} - {"hash"}
    assert set(FORGERIES) == columns


def _shown(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(response.get_json()["items"])


@pytest.fixture
def headers(client: FlaskClient, yen: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    """Yến's member token (her account activated)."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    return member_headers(client, yen["member"])


def forge(session: Session, column: str, value: Any, event_id: int) -> None:
    """``UPDATE access_events SET <column> = value`` on one row (bound with the column's type)."""
    _raw(session, text(f"UPDATE access_events SET {column} = :value WHERE id = :id").bindparams(
        bindparam("value", type_=AccessEvent.__table__.c[column].type)), value=value,
         id=event_id)


@pytest.mark.parametrize("column", sorted(FORGERIES))
def test_a_forged_column_is_caught_by_verify_and_marked_in_the_members_log(
        app, client, session, events, headers, factory, column) -> None:
    from app.composition import cipher_for_config
    from app.services.access_events.views import member_events

    member = events["member"]
    other = factory.member(factory.union(), full_name="Trần Thị Mai")
    session.commit()
    target, value = FORGERIES[column]
    forged = value({**events, "other": other.id})
    forge(session, column, forged, events[target])
    report = verify(session, **audit_keys(app))
    assert not report.ok
    assert any(f.chain_key == member_chain(member.id) for f in report.findings), report.findings
    items = _shown(client, headers)
    if column == "member_id":  # the row now shows in the other member's log: marked there
        assert [i["seq"] for i in items] == [3, 1]
        items, _ = member_events(session, cipher_for_config(app.config), other.id, page=1,
                                 per_page=20)
    damaged = {i["id"] for i in items if i["damaged"]}
    # the forged event; and the one after it when the forgery moved it out of its place
    assert (forged if column == "id" else events[target]) in damaged, items
    assert damaged <= {events[target], events["pull"]} | ({forged} if column == "id" else set())
    assert all(i["emergency_text"] is None for i in items if i["damaged"])


def test_an_untouched_log_is_not_marked(app, client, session, events, headers) -> None:
    items = _shown(client, headers)
    assert [(i["seq"], i["damaged"]) for i in items] == [(3, False), (2, False), (1, False)]
    assert items[1]["emergency_text"].startswith("Bệnh nhân bất tỉnh")
    assert verify(session, **audit_keys(app)).ok


def _text_of(session: Session, event_id: int) -> AccessEventText:
    return session.get(AccessEventText, event_id)


@pytest.mark.parametrize("change", ["deleted", "swapped", "province"])
def test_the_emergency_text_is_covered(app, client, session, log, events, headers,
                                       change) -> None:
    """Deleting or swapping the sealed text used to verify as intact, and a swapped text made
    the whole log answer 500."""
    member, event_id = events["member"], events["emergency"]
    if change == "swapped":  # another emergency's text, sealed to that event's id
        other = log.record(record_for(member, "emergency", emergency_text="Ngã giàn giáo."))
        session.commit()
        sealed = _text_of(session, other.id).text_encrypted
        tamper(session, "UPDATE access_event_texts SET text_encrypted = :sealed "
                        "WHERE event_id = :id", sealed=sealed, id=event_id)
    elif change == "deleted":
        tamper(session, "DELETE FROM access_event_texts WHERE event_id = :id", id=event_id)
    else:
        tamper(session, "UPDATE access_event_texts SET province_code = '79' "
                        "WHERE event_id = :id", id=event_id)
    report = verify(session, **audit_keys(app))
    assert [(f.chain_key, f.seq, f.problem) for f in report.findings] == [
        (member_chain(member.id), 2, "changed")]
    assert "emergency text" in report.findings[0].detail
    shown = {i["seq"]: i for i in _shown(client, headers)}
    assert shown[2]["damaged"] is True and shown[2]["emergency_text"] is None
    assert not shown[1]["damaged"] and not shown[3]["damaged"]


def test_a_text_on_an_event_without_one_is_caught(app, session, log, events) -> None:
    pull = events["pull"]
    sealed = _text_of(session, events["emergency"]).text_encrypted
    session.execute(insert(AccessEventText).values(event_id=pull, province_code="24",
                                                   text_encrypted=sealed))
    session.commit()
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.detail) for f in found] == [
        (3, "it has an emergency text its hash does not cover")]


@pytest.mark.parametrize("value", ['"allergies"', "null", "[1]", '{"a": 1}'])
def test_a_json_column_of_another_shape_is_marked_not_a_500(app, client, session, events,
                                                            headers, value) -> None:
    tamper(session, f"UPDATE access_events SET released = '{value}', denied = '{value}' "
                    "WHERE id = :id", id=events["pull"])
    shown = {i["seq"]: i for i in _shown(client, headers)}
    assert shown[3]["damaged"] is True
    assert not verify(session, **audit_keys(app)).ok


def test_unreadable_json_on_sqlite_is_marked_not_a_500(app, client, session, events,
                                                       headers) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses text that is not JSON in a json column")
    tamper(session, "UPDATE access_events SET released = 'not json' WHERE id = :id",
           id=events["pull"])
    shown = {i["seq"]: i for i in _shown(client, headers)}
    assert shown[3]["damaged"] is True and shown[3]["released"] == []


def test_the_members_page_marks_the_damaged_entry(app, client, session, events, yen) -> None:  # noqa: F811
    answer = activate_page(client, yen["member"], yen["code"])
    assert answer.status_code == 303
    tamper(session, "DELETE FROM access_event_texts WHERE event_id = :id",
           id=events["emergency"])
    page = client.get("/me/access-log")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("mục này đã bị thay đổi sau khi được ghi") == 1
    assert "Bệnh nhân bất tỉnh" not in html


def test_administrators_see_the_damaged_events(app, client, session, events, factory) -> None:
    tamper(session, "UPDATE access_events SET clinic_name = 'X' WHERE id = :id",
           id=events["pull"])
    admin = factory.headers(factory.user("admin"))
    answer = client.get(SUMMARY, query_string={
        "since": (NOW - timedelta(days=1)).isoformat(),
        "until": (NOW + timedelta(days=1)).isoformat()}, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["damaged_events"] == 1
    assert [(d["id"], d["kind"], d["clinic_code"]) for d in body["damaged"]] == [
        (events["pull"], "pull", "27001")]


def _v1_chain(session: Session, member: Any, kinds: tuple[str, ...]) -> list[str]:
    """Events as written before hash versions existed: version 1, ``id`` not hashed."""
    key, prev, hashes = member_chain(member.id), GENESIS, []
    for seq, kind in enumerate(kinds, start=1):
        record = record_for(member, kind, emergency_reason=None, emergency_text=None)
        fields = {"hash_version": 1, "chain_key": key, "seq": seq, "prev_hash": prev,
                  "at": NOW + timedelta(seconds=seq), "kind": kind, "member_id": member.id,
                  "province_code": member.province_code, "card_serial": record.card_serial,
                  "clinic_code": record.clinic_code, "clinic_name": record.clinic_name,
                  "client_id": record.client_id, "device_id": record.device_id,
                  "practitioner": record.practitioner, "purpose": record.purpose,
                  "released": list(record.released), "denied": dict(record.denied),
                  "outcome": record.outcome, "reason": None, "emergency_reason": None,
                  "emergency_text_digest": None}
        prev = event_hash(fields)
        session.execute(insert(AccessEvent).values(**fields, hash=prev))
        hashes.append(prev)
    session.execute(insert(AccessChainHead).values(
        chain_key=key, member_id=member.id, province_code=member.province_code,
        seq=len(kinds), hash=prev, checkpointed_seq=0))
    session.commit()
    return hashes


def test_version_1_events_still_verify_and_new_ones_follow_as_version_2(
        app, client, session, log, yen, headers) -> None:  # noqa: F811
    member = yen["member"]
    _v1_chain(session, member, ("verify", "pull"))
    appended = log.record(record_for(member, "pull"))
    session.commit()
    assert appended.hash_version == 2 and appended.seq == 3
    assert verify(session, **audit_keys(app)).ok
    assert [i["damaged"] for i in _shown(client, headers)] == [False, False, False]
    # a version-2 event passed off as version 1 (its hash recomputed without the id) is caught
    row = session.scalars(select(AccessEvent).where(AccessEvent.id == appended.id)).one()
    forged = {c.name: getattr(row, c.name) for c in AccessEvent.__table__.c}
    forged["hash_version"] = 1
    _raw(session, text("UPDATE access_events SET hash_version = 1, hash = :hash "
                       "WHERE id = :id"), hash=event_hash(forged), id=row.id)
    tamper(session, "UPDATE access_chain_heads SET hash = :hash WHERE chain_key = :key",
           hash=event_hash(forged), key=member_chain(member.id))
    assert verify(session, **audit_keys(app)).ok  # no key covers events: checkpoints do
    seal(app, session)
    session.commit()
    assert verify(session, **audit_keys(app)).ok


def test_a_version_1_event_after_a_version_2_one_is_caught(app, session, log, yen) -> None:  # noqa: F811
    member = yen["member"]
    log.record(record_for(member, "pull"))
    session.commit()
    first_hash = session.get(AccessChainHead, member_chain(member.id)).hash
    key = member_chain(member.id)
    fields = {"hash_version": 1, "chain_key": key, "seq": 2, "prev_hash": first_hash,
              "at": NOW + timedelta(minutes=1), "kind": "pull", "member_id": member.id,
              "province_code": member.province_code, "card_serial": None,
              "clinic_code": "27001", "clinic_name": "Phòng khám KCN Quế Võ",
              "client_id": "clinic-27001-app", "device_id": None, "practitioner": None,
              "purpose": "treatment", "released": ["medications"], "denied": {},
              "outcome": "released", "reason": None, "emergency_reason": None,
              "emergency_text_digest": None}
    digest = event_hash(fields)
    session.execute(insert(AccessEvent).values(**fields, hash=digest))
    tamper(session, "UPDATE access_chain_heads SET seq = 2, hash = :hash WHERE chain_key = :key",
           hash=digest, key=key)
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.problem) for f in found] == [(2, "changed")]
    assert "version 1 after version 2" in found[0].detail


def test_a_rewritten_checkpoint_is_caught_by_its_signature(app, session, log, events) -> None:
    """The attack the review describes: after a checkpoint, delete the newest event, put the
    head back and rewrite the checkpoint (heads and digest recomputed) to match."""
    from app.services.access_events.chain import checkpoint_digest

    member = events["member"]
    key = member_chain(member.id)
    made = seal(app, session)
    session.commit()
    second = session.scalars(select(AccessEvent).where(AccessEvent.chain_key == key,
                                                       AccessEvent.seq == 2)).one()
    tamper(session, "DELETE FROM access_events WHERE id = :id", id=events["pull"])
    tamper(session, "UPDATE access_chain_heads SET seq = 2, hash = :hash WHERE chain_key = :key",
           hash=second.hash, key=key)
    tamper(session, "UPDATE access_checkpoint_heads SET seq = 2, hash = :hash "
                    "WHERE checkpoint_id = :id AND chain_key = :key", hash=second.hash,
           id=made.id, key=key)
    digest = checkpoint_digest(GENESIS, [(key, 2, second.hash)])
    tamper(session, "UPDATE access_checkpoints SET digest = :digest WHERE id = :id",
           digest=digest, id=made.id)
    found = verify(session, **audit_keys(app)).findings
    assert [(f.chain_key, f.seq, f.problem) for f in found] == [("", made.id, "changed")]
    assert "signature does not match" in found[0].detail


def test_a_checkpoint_signed_with_another_key_is_caught(app, session, events) -> None:
    made = make_checkpoint(session, actor="test", key=b"not the service's key" * 2)
    session.commit()
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.problem) for f in found] == [(made.id, "changed")]


def test_signatures_cannot_be_stripped(app, session, log, events) -> None:
    one = seal(app, session)
    log.record(record_for(events["member"], "pull"))
    two = seal(app, session)
    session.commit()
    tamper(session, "UPDATE access_checkpoints SET signature = NULL WHERE id = :id", id=two.id)
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.problem) for f in found] == [(two.id, "changed")]
    assert "not signed" in found[0].detail
    tamper(session, "UPDATE access_checkpoints SET signature = NULL WHERE id = :id", id=one.id)
    tamper(session, "UPDATE access_checkpoints SET signature = NULL WHERE id = :id", id=two.id)
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.problem) for f in found] == [(two.id, "unsigned")]


def test_unsigned_checkpoints_from_before_signing_are_sealed_by_the_next(app, session,
                                                                        events) -> None:
    from app.services.access_events.chain import checkpoint_digest

    key = member_chain(events["member"].id)
    head = session.get(AccessChainHead, key)
    digest = checkpoint_digest(GENESIS, [(key, head.seq, head.hash)])
    legacy = AccessCheckpoint(at=NOW, prev_digest=GENESIS, digest=digest, heads=1,
                              made_by="worker")
    session.add(legacy)
    session.flush()
    from app.models import AccessCheckpointHead

    session.add(AccessCheckpointHead(checkpoint_id=legacy.id, chain_key=key, seq=head.seq,
                                     hash=head.hash))
    tamper(session, "UPDATE access_chain_heads SET checkpointed_seq = seq")
    found = verify(session, **audit_keys(app)).findings
    assert [(f.seq, f.problem) for f in found] == [(legacy.id, "unsigned")]
    seal(app, session)
    session.commit()
    assert verify(session, **audit_keys(app)).ok


def test_verify_checks_a_digest_kept_elsewhere(app, session, log, events) -> None:
    made = invoke(app, "audit", "checkpoint")
    assert made.exit_code == 0, made.output
    digest = made.output.rsplit("digest ", 1)[1].strip()
    good = invoke(app, "audit", "verify", "--expect", digest.upper())
    assert good.exit_code == 0 and "access log intact" in good.output
    wrong = invoke(app, "audit", "verify", "--expect", "ab" * 32)
    assert wrong.exit_code == 1
    assert wrong.stderr.splitlines() == [
        f"FIRST changed or missing: expected checkpoint digest: missing: no checkpoint has the "
        f"digest {'ab' * 32} (the checkpoints were rewritten or removed since it was recorded)"]
    malformed = invoke(app, "audit", "verify", "--expect", "not-a-digest")
    assert malformed.exit_code == 2
    assert "64 hexadecimal characters" in malformed.output
    # the newest event removed, its head put back, the checkpoints made again from scratch:
    # verify alone cannot tell, the digest kept elsewhere can
    key = member_chain(events["member"].id)
    second = session.scalars(select(AccessEvent.hash).where(AccessEvent.chain_key == key,
                                                            AccessEvent.seq == 2)).one()
    tamper(session, "DELETE FROM access_events WHERE id = :id", id=events["pull"])
    tamper(session, "UPDATE access_chain_heads SET seq = 2, hash = :hash WHERE chain_key = :key",
           hash=second, key=key)
    tamper(session, "DELETE FROM access_checkpoint_heads")
    tamper(session, "DELETE FROM access_checkpoints")
    tamper(session, "UPDATE access_chain_heads SET checkpointed_seq = 0")
    assert invoke(app, "audit", "checkpoint").exit_code == 0
    assert invoke(app, "audit", "verify").exit_code == 0
    rewritten = invoke(app, "audit", "verify", "--expect", digest)
    assert rewritten.exit_code == 1 and "no checkpoint has the digest" in rewritten.stderr


def test_production_needs_a_real_checkpoint_key(database_url: str) -> None:
    base = {**TEST_CONFIG, "ENV": "production", **PRODUCTION_SECRETS,
            "DATABASE_URL": database_url, "PUBLIC_BASE_URL": "https://the.example"}
    without = {k: v for k, v in base.items() if k != "AUDIT_CHECKPOINT_KEY"}
    with pytest.raises(ConfigError, match="UNIONCARD_AUDIT_CHECKPOINT_KEY must be set"):
        create_app(without)
    for weak in ("short", "ab" * 24, PRODUCTION_SECRETS["SECRET_KEY"]):
        with pytest.raises(ConfigError, match="UNIONCARD_AUDIT_CHECKPOINT_KEY must be a random"):
            create_app({**base, "AUDIT_CHECKPOINT_KEY": weak})
