"""The audit chain: append-only in the database, checkpoints, and ``verify`` naming the first
changed or missing event after tampering with the raw rows (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.composition import cipher_for_config
from app.models import AccessChainHead, AccessCheckpoint, AccessEvent
from app.services.access_events.chain import event_hash, fields_of
from app.services.access_events.log import AccessLog
from app.services.access_events.verify import Finding, verify
from tests.app.access_helpers import Clock, audit_keys, record_for, seal
from tests.conftest import invoke

APPEND_ONLY = ("access_events", "access_checkpoints", "access_checkpoint_heads")


@pytest.fixture
def log(app, session) -> AccessLog:
    return AccessLog(session, cipher_for_config(app.config), clock=Clock())


@pytest.fixture
def members(factory) -> list[Any]:
    union = factory.union()
    return [factory.member(union), factory.member(union)]


@pytest.fixture
def chain(log, session, members) -> list[AccessEvent]:
    """Four events of the first member and two of the second, committed."""
    one, two = members
    events = [log.record(record_for(one, kind)) for kind in ("verify", "pull", "emergency",
                                                             "pull")]
    for _ in range(2):
        log.record(record_for(two, "pull"))
    session.commit()
    return events


def tamper(session, sql: str, **params: Any) -> None:
    """Run ``sql`` on the raw tables with the append-only triggers out of the way (what someone
    with direct database access could do); they are back afterwards."""
    postgres = session.get_bind().dialect.name == "postgresql"
    saved: list[str] = []
    if postgres:
        for table in APPEND_ONLY:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        saved = list(session.scalars(text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
            "('access_events', 'access_checkpoints', 'access_checkpoint_heads')")))
        for name in session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         "AND sql LIKE '%append-only%'")).all():
            session.execute(text(f"DROP TRIGGER {name}"))
    session.execute(text(sql), params)
    if postgres:
        for table in APPEND_ONLY:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    else:
        for statement in saved:
            session.execute(text(statement))
    session.commit()
    session.expunge_all()


def first(app, session) -> Finding:
    report = verify(session, **audit_keys(app))
    assert not report.ok
    return report.findings[0]


def test_an_untouched_log_verifies(app, session, chain, members) -> None:
    seal(app, session)
    session.commit()
    report = verify(session, **audit_keys(app))
    assert report.ok, report.findings
    assert (report.chains, report.events, report.checkpoints, report.checkpoint_heads) == \
        (2, 6, 1, 2)


@pytest.mark.parametrize("statement", [
    "UPDATE access_events SET clinic_name = 'X'",
    "DELETE FROM access_events WHERE seq = 4",
])
def test_the_database_refuses_updates_and_deletes(session, chain, statement) -> None:
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement))


def test_checkpoints_are_append_only_too(app, session, chain) -> None:
    seal(app, session)
    session.commit()
    for statement in ("UPDATE access_checkpoints SET made_by = 'x'",
                      "DELETE FROM access_checkpoint_heads"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))


def test_a_changed_field_is_named(app, session, chain, members) -> None:
    tamper(session, "UPDATE access_events SET clinic_name = 'Phòng khám khác' "
                    "WHERE chain_key = :key AND seq = 2", key=f"member:{members[0].id}")
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (f"member:{members[0].id}", 2,
                                                           "changed")
    # the other member's chain is intact
    assert verify(session, **audit_keys(app)).findings == [found]


def test_a_change_with_its_hash_recomputed_is_caught_by_the_next_link(app, session, chain,
                                                                      members) -> None:
    key = f"member:{members[0].id}"
    row = session.scalars(select(AccessEvent).where(AccessEvent.chain_key == key,
                                                    AccessEvent.seq == 2)).one()
    forged = {**fields_of(row), "released": ["allergies", "emergency-core", "medications"]}
    tamper(session, "UPDATE access_events SET released = :released, hash = :hash "
                    "WHERE id = :id", released='["allergies","emergency-core","medications"]',
           hash=event_hash(forged), id=row.id)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 2, "changed")


def test_a_deleted_middle_event_is_named_missing(app, session, chain, members) -> None:
    key = f"member:{members[0].id}"
    tamper(session, "DELETE FROM access_events WHERE chain_key = :key AND seq = 2", key=key)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 2, "missing")


def test_the_newest_event_deleted_after_a_checkpoint_is_named(app, session, chain,
                                                              members) -> None:
    """No later link betrays it, and the head row was put back too: the checkpoint does."""
    key = f"member:{members[0].id}"
    seal(app, session)
    session.commit()
    third = session.scalars(select(AccessEvent).where(AccessEvent.chain_key == key,
                                                      AccessEvent.seq == 3)).one()
    tamper(session, "DELETE FROM access_event_texts WHERE event_id IN "
                    "(SELECT id FROM access_events WHERE chain_key = :key AND seq = 4)", key=key)
    tamper(session, "DELETE FROM access_events WHERE chain_key = :key AND seq = 4", key=key)
    tamper(session, "UPDATE access_chain_heads SET seq = 3, hash = :hash WHERE chain_key = :key",
           hash=third.hash, key=key)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 4, "missing")
    assert "checkpoint" in found.detail


def test_the_newest_event_deleted_before_any_checkpoint_is_named_by_the_head(
        app, session, chain, members) -> None:
    key = f"member:{members[1].id}"
    tamper(session, "DELETE FROM access_events WHERE chain_key = :key AND seq = 2", key=key)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 2, "missing")


def test_a_reordered_chain_is_named(app, session, chain, members) -> None:
    key = f"member:{members[0].id}"
    for old, new in ((2, 99), (3, 2), (99, 3)):
        tamper(session, "UPDATE access_events SET seq = :new WHERE chain_key = :key "
                        "AND seq = :old", key=key, old=old, new=new)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 2, "changed")


def test_a_forged_event_appended_without_the_head_is_named(app, session, log, chain,
                                                           members) -> None:
    key = f"member:{members[1].id}"
    head = session.get(AccessChainHead, key)
    seq, digest = head.seq, head.hash
    log.record(record_for(members[1], "pull"))
    session.flush()
    tamper(session, "UPDATE access_chain_heads SET seq = :seq, hash = :hash "
                    "WHERE chain_key = :key", seq=seq, hash=digest, key=key)
    found = first(app, session)
    assert (found.chain_key, found.seq, found.problem) == (key, 3, "unexpected")


def test_a_changed_checkpoint_is_named(app, session, chain, members) -> None:
    seal(app, session)
    session.commit()
    log_more = session.scalars(select(AccessCheckpoint)).one()
    tamper(session, "UPDATE access_checkpoint_heads SET seq = 1 WHERE checkpoint_id = :id "
                    "AND chain_key = :key", id=log_more.id, key=f"member:{members[0].id}")
    findings = verify(session, **audit_keys(app)).findings
    assert Finding("", log_more.id, "changed", "") in findings


def test_checkpoints_record_only_the_chains_that_moved(app, session, log, chain,
                                                       members) -> None:
    one = seal(app, session)
    log.record(record_for(members[1], "pull"))
    two = seal(app, session)
    three = seal(app, session)
    session.commit()
    assert (one.heads, two.heads, three.heads) == (2, 1, 0)
    assert len({one.digest, two.digest, three.digest}) == 3
    assert verify(session, **audit_keys(app)).ok


def test_two_checkpoints_cannot_follow_the_same_one(app, session, chain) -> None:
    """What makes two checkpoints made at once conflict instead of forking the chain."""
    made = seal(app, session)
    session.commit()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add_all([AccessCheckpoint(prev_digest=made.digest, digest=d * 64, heads=0,
                                          made_by="test") for d in "ef"])
        session.flush()


def test_audit_cli_checkpoint_and_verify(app, session, chain, members) -> None:
    made = invoke(app, "audit", "checkpoint")
    assert made.exit_code == 0 and "2 chain heads" in made.output
    clean = invoke(app, "audit", "verify")
    assert clean.exit_code == 0, clean.output
    assert "checked 2 chains, 6 events, 1 checkpoints" in clean.output
    tamper(session, "DELETE FROM access_events WHERE chain_key = :key AND seq = 2",
           key=f"member:{members[0].id}")
    broken = invoke(app, "audit", "verify")
    assert broken.exit_code == 1
    assert f"FIRST changed or missing: member {members[0].id}, sequence 2: missing" \
        in broken.stderr


@pytest.mark.slow
def test_audit_commands_in_a_subprocess(committed_office) -> None:
    """``python -m app audit checkpoint`` and ``verify`` end to end: output, exit status."""
    import subprocess
    import sys

    from app.extensions import db
    from app.models import Union
    from tests.conftest import Factory, unioncard_env

    app = committed_office("audit_cli")
    session = db.new_session(app)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    member = Factory(app, session).member(union)
    log = AccessLog(session, cipher_for_config(app.config))
    for kind in ("verify", "pull", "pull"):
        log.record(record_for(member, kind))
    session.commit()
    env = unioncard_env(app.config["DATABASE_URL"])

    def run(*args: str) -> Any:
        return subprocess.run([sys.executable, "-m", "app", "audit", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    made = run("checkpoint")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("checkpoint 1 at ") and "1 chain heads" in made.stdout
    clean = run("verify")
    assert clean.returncode == 0 and "access log intact" in clean.stdout
    tamper(session, "UPDATE access_events SET purpose = 'occupational-health' "
                    "WHERE member_id = :id AND seq = 2", id=member.id)
    broken = run("verify")
    assert broken.returncode == 1
    assert f"FIRST changed or missing: member {member.id}, sequence 2: changed" in broken.stderr
    session.close()


def test_a_removed_checkpoint_is_named_by_the_next(app, session, log, chain,
                                                   members) -> None:
    first_made = seal(app, session)
    log.record(record_for(members[0], "pull"))
    seal(app, session)
    log.record(record_for(members[1], "pull"))
    third = seal(app, session)
    session.commit()
    middle = first_made.id + 1
    tamper(session, "DELETE FROM access_checkpoint_heads WHERE checkpoint_id = :id", id=middle)
    tamper(session, "DELETE FROM access_checkpoints WHERE id = :id", id=middle)
    findings = verify(session, **audit_keys(app)).findings
    assert findings == [Finding("", third.id, "changed", "")]
    assert "does not follow" in findings[0].detail
