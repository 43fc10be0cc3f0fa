"""``unioncard keys rotate-data-key``: every wrapped data key moves to the newest KEK, values of
the older format are re-encrypted; committed batches resume after a kill; the service keeps
reading and writing meanwhile."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.config import decode_data_key
from app.crypto import DataCipher, kek_version
from app.models import HealthRecord, Member, Union
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.data_keys import RECORDS, DataKeyRotation
from app.services.health.store import HealthStore
from app.services.registry.members import PERSONAL_ID_CONTEXT, MemberRegistry
from tests.app.health_fixtures import health_document
from tests.app.test_crypto import legacy_encrypt
from tests.conftest import TEST_CONFIG, invoke, make_cccd, unioncard_env

OLD = decode_data_key(TEST_CONFIG["DATA_KEY"])
NEW = bytes(range(32))
LOOKUP = decode_data_key(TEST_CONFIG["LOOKUP_KEY"])
ADMIN = Scope(Principal("user", 0, "admin"))
ROTATED = {"DATA_KEY": base64.b64encode(NEW).decode(),
           "DATA_KEYS_PREVIOUS": TEST_CONFIG["DATA_KEY"]}


def cipher(*keys: bytes) -> DataCipher:
    return DataCipher(list(keys), lookup_key=LOOKUP)


def seed(session: Any, union_code: str, count: int, *, legacy: int = 0) -> list[tuple[int, str]]:
    """``count`` members with a health record under the old KEK (the first ``legacy`` of them
    with the personal ID in the older one-key format); their (id, personal ID)."""
    old = cipher(OLD)
    registry = MemberRegistry(session, old, actor="test")
    store = HealthStore(session, old, actor="test")
    made = []
    for i in range(count):
        birth = date(1980 + i % 20, 1 + i % 12, 1 + i % 28)
        personal_id = make_cccd(birth, "F")
        name = "Nguyễn Thị " + "".join("ABCDEGHKLMNPQRSTUVXY"[int(d)] for d in f"{i:03d}")
        member, _ = registry.create(ADMIN, {"full_name": name,
                                            "birth_date": birth, "sex": "F",
                                            "personal_id": personal_id,
                                            "union_code": union_code})
        if i < legacy:
            member.personal_id_encrypted = legacy_encrypt(OLD, personal_id, PERSONAL_ID_CONTEXT)
        store.save(member.id, {**health_document(), "n": i}, source="feed:test", bundle_id="b")
        made.append((member.id, personal_id))
    session.commit()
    return made


def assert_all_readable_with_the_new_key_only(session: Any, made: list[tuple[int, str]]) -> None:
    new_only = cipher(NEW)
    registry = MemberRegistry(session, new_only, actor="test")
    store = HealthStore(session, new_only, actor="test")
    for member_id, personal_id in made:
        member = session.get(Member, member_id)
        assert new_only.decrypt(member.personal_id_encrypted, PERSONAL_ID_CONTEXT,
                                member.personal_id_hash) == personal_id
        assert registry.find_by_personal_id(personal_id).id == member_id  # lookups unchanged
        assert store.load(member_id)["allergies"] == health_document()["allergies"]


def test_rotation_rewraps_everything_and_converts_the_older_format(factory, session) -> None:
    union = factory.union()
    made = seed(session, union.code, 5, legacy=2)
    stamps = {m.id: m.updated_at for m in session.scalars(select(Member))}
    rotation = DataKeyRotation(session, cipher(NEW, OLD), batch_size=2)
    before = rotation.census()
    assert before["members.personal_id"] == {"legacy": 2, kek_version(OLD): 3}
    assert before[RECORDS] == {kek_version(OLD): 5}
    seen: list[int] = []
    results = rotation.run(on_batch=lambda progress: seen.append(progress.left))
    assert {p.target: p.rewrapped for p in results}["members.personal_id"] == 5
    assert {p.target: p.rewrapped for p in results}[RECORDS] == 5
    assert seen[:3] == [3, 1, 0]  # progress: what is left after each committed batch
    assert all(p.left == 0 and not p.unreadable for p in results)
    assert rotation.census()["members.personal_id"] == {kek_version(NEW): 5}
    session.expire_all()
    assert {m.id: m.updated_at for m in session.scalars(select(Member))} == stamps
    assert_all_readable_with_the_new_key_only(session, made)
    assert all(p.rewrapped == 0 for p in rotation.run())  # nothing left to do


def test_an_interrupted_rotation_continues_where_it_stopped(factory, session) -> None:
    made = seed(session, factory.union().code, 6)

    class Killed(Exception):
        pass

    def die(progress: Any) -> None:
        raise Killed

    with pytest.raises(Killed):
        DataKeyRotation(session, cipher(NEW, OLD), batch_size=2).run(on_batch=die)
    session.rollback()
    rotation = DataKeyRotation(session, cipher(NEW, OLD), batch_size=2)
    assert rotation.left("members.personal_id") == 4  # the first batch was committed
    results = rotation.run()
    assert {p.target: p.rewrapped for p in results}["members.personal_id"] == 4
    assert_all_readable_with_the_new_key_only(session, made)


def test_a_write_between_the_rotations_read_and_its_write_wins(factory, session) -> None:
    """Compare-and-set: a row a writer changed after the rotation read it is left to the
    writer (whose value is under the newest KEK already), never overwritten with a stale key."""
    made = seed(session, factory.union().code, 2)
    (first, personal_id), (second, _) = made
    writer = HealthStore(session, cipher(NEW, OLD), actor="feed")

    class Interleaved(DataKeyRotation):
        def _pending_packed(self, target: Any, after: int) -> list[Any]:
            rows = super()._pending_packed(target, after)
            if rows and target.name == "members.personal_id":
                member = session.get(Member, first)
                member.personal_id_encrypted = writer.cipher.encrypt(
                    personal_id, PERSONAL_ID_CONTEXT, member.personal_id_hash)
                session.flush()
            return rows

        def _pending_records(self, after: int) -> list[Any]:
            rows = super()._pending_records(after)
            if rows:
                writer.save(second, {"allergies": [], "written": "meanwhile"}, source="feed:t",
                            bundle_id="b2")
            return rows

    results = {p.target: p for p in Interleaved(session, cipher(NEW, OLD)).run()}
    assert (results["members.personal_id"].rewrapped,
            results["members.personal_id"].skipped) == (1, 1)
    assert (results[RECORDS].rewrapped, results[RECORDS].skipped) == (1, 1)
    session.expire_all()
    assert HealthStore(session, cipher(NEW), actor="t").load(second)["written"] == "meanwhile"
    assert_all_readable_with_the_new_key_only(session, made[:1])


def test_a_row_that_cannot_be_read_is_reported_not_skipped_silently(factory, session) -> None:
    seed(session, factory.union().code, 2)
    session.execute(update(HealthRecord).values(kek_version="00000000"))
    results = DataKeyRotation(session, cipher(NEW, OLD)).run()
    records = next(p for p in results if p.target == RECORDS)
    assert len(records.unreadable) == 2 and records.left == 2


@pytest.fixture
def rotated_office(committed_office: Any) -> Any:
    """An app with a new data key (the old one in DATA_KEYS_PREVIOUS) on its own database."""
    return committed_office("rotation", **ROTATED)


def _session(app: Any) -> Any:
    from app.extensions import db

    return db.new_session(app)


def _begin_writing(session: Any) -> None:
    """The next transaction takes SQLite's write lock up front, as a writing request's does."""
    from app.db import WRITE_INTENT

    session.connection(execution_options={WRITE_INTENT: True})


def test_the_command_checks_rotates_and_reports(rotated_office: Any) -> None:
    session = _session(rotated_office)
    made = seed(session, "CDCS-24-QUEVO1", 3, legacy=1)
    check = invoke(rotated_office, "keys", "rotate-data-key", "--check")
    assert check.exit_code == 0, check.output
    assert f"newest KEK {kek_version(NEW)}" in check.output
    assert f"members.personal_id      {kek_version(OLD)}: 2, legacy: 1" in check.output
    assert "6 rows not under the newest KEK" in check.output
    result = invoke(rotated_office, "keys", "rotate-data-key", "--here", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "members.personal_id      3 re-wrapped" in result.output
    assert "left under older keys" in result.stderr
    assert f"every value is under KEK {kek_version(NEW)}" in result.output
    again = invoke(rotated_office, "keys", "rotate-data-key", "--check")
    assert "0 rows not under the newest KEK" in again.output
    session.rollback()  # a new snapshot
    assert_all_readable_with_the_new_key_only(session, made)
    session.close()


def test_rotation_while_the_service_reads_and_writes(rotated_office: Any) -> None:
    """Readers see every value during the rotation; writers' changes are never undone."""
    app = rotated_office
    session = _session(app)
    made = seed(session, "CDCS-24-QUEVO1", 40, legacy=10)
    session.close()
    errors: list[BaseException] = []
    written: dict[int, int] = {}
    done = threading.Event()

    def rotate() -> None:
        s = _session(app)
        try:
            DataKeyRotation(s, cipher(NEW, OLD), batch_size=3).run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            s.close()
            done.set()

    def write() -> None:
        s = _session(app)
        store = HealthStore(s, cipher(NEW, OLD), actor="feed")
        try:
            round_ = 0
            while not done.is_set() or round_ < 2:
                round_ += 1
                for member_id, _ in made[::3]:
                    _begin_writing(s)
                    store.save(member_id, {**health_document(), "round": round_},
                               source="feed:test", bundle_id=f"r{round_}")
                    s.commit()
                    written[member_id] = round_
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            s.close()

    def read() -> None:
        s = _session(app)
        store = HealthStore(s, cipher(NEW, OLD), actor="reader")
        try:
            while not done.is_set():
                for member_id, personal_id in made:
                    member = s.get(Member, member_id)
                    assert store.cipher.decrypt(member.personal_id_encrypted,
                                                PERSONAL_ID_CONTEXT,
                                                member.personal_id_hash) == personal_id
                    assert store.load(member_id) is not None
                    s.rollback()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=f) for f in (rotate, write, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    session = _session(app)
    assert DataKeyRotation(session, cipher(NEW, OLD)).left("members.personal_id") == 0
    DataKeyRotation(session, cipher(NEW, OLD)).run()  # writers under the new KEK: nothing left
    assert sum(DataKeyRotation(session, cipher(NEW)).left(t) for t in (RECORDS,)) == 0
    assert_all_readable_with_the_new_key_only(session, made)
    store = HealthStore(session, cipher(NEW), actor="test")
    for member_id, round_ in written.items():
        assert store.load(member_id)["round"] == round_  # no write was lost to the rotation
    session.close()


@pytest.mark.slow
def test_kill_the_rotation_and_rerun(rotated_office: Any) -> None:
    """SIGKILL after some committed batches; the rerun finishes and everything is readable."""
    app = rotated_office
    session = _session(app)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    made = seed(session, union.code, 60, legacy=20)
    env = unioncard_env(app.config["DATABASE_URL"], **ROTATED)
    command = [sys.executable, "-m", "app", "keys", "rotate-data-key", "--here", "--batch-size", "1"]
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    lines = 0
    for line in first.stderr:
        lines += "re-wrapped" in line  # one per committed batch (not the progress bar's)
        if lines == 10:
            os.kill(first.pid, signal.SIGKILL)
            break
    first.wait(timeout=60)
    first.stdout.close()  # type: ignore[union-attr]
    first.stderr.close()
    assert first.returncode == -signal.SIGKILL
    rotation = DataKeyRotation(session, cipher(NEW, OLD))
    left = rotation.left("members.personal_id")
    assert 0 < left <= 60 - 10
    time.sleep(0.1)
    second = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                            timeout=240)
    assert second.returncode == 0, second.stderr
    assert f"members.personal_id      {left} re-wrapped" in second.stdout
    session.rollback()  # a new snapshot
    assert_all_readable_with_the_new_key_only(session, made)
    session.close()


def test_the_command_enqueues_the_rotation_for_a_worker(rotated_office: Any) -> None:
    from tests.app.worker_helpers import running_worker

    session = _session(rotated_office)
    made = seed(session, "CDCS-24-QUEVO1", 3, legacy=1)
    with running_worker(rotated_office):
        result = invoke(rotated_office, "keys", "rotate-data-key", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "members.personal_id      3 re-wrapped" in result.output
    assert "re-wrapping data keys" in result.stderr  # the progress bar, not the batch lines
    assert f"every value is under KEK {kek_version(NEW)}" in result.output
    session.rollback()
    assert_all_readable_with_the_new_key_only(session, made)
    session.close()
