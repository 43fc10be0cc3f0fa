"""Concurrent appends to one member's chain serialise: no gap, no duplicate, no fork (real
threads on a committed SQLite file or PostgreSQL database)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sqlalchemy import select

from app.composition import access_log_for
from app.models import AccessChainHead, AccessEvent, Union
from app.services.access_events.verify import verify
from tests.app.access_helpers import audit_keys, record_for, seal
from tests.conftest import Factory, invoke

THREADS = 4
EACH = 8


def test_parallel_appends_to_one_chain(committed_office: Any) -> None:
    from app.extensions import db

    app = committed_office("access-chains")
    session = db.new_session(app)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    factory = Factory(app, session)
    busy, quiet = factory.member(union), factory.member(union, full_name="Trần Thị Mai")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def append(member: Any, kind: str) -> None:
        writer = db.new_session(app, write=True)
        try:
            access_log_for(app, writer).record(record_for(member, kind))
            writer.commit()
        finally:
            writer.close()

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                append(busy, "emergency" if i % 4 == 0 else "pull")
                if n == 0 and i % 2 == 0:
                    append(quiet, "verify")
                if n == 1 and i == EACH // 2:  # a checkpoint in the middle of the appends
                    writer = db.new_session(app, write=True)
                    seal(app, writer)
                    writer.commit()
                    writer.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    verdicts: list[int] = []
    done = threading.Event()

    def auditor() -> None:
        """``audit verify`` while the appends go on: one snapshot, so never a false alarm."""
        while not done.is_set():
            result = invoke(app, "audit", "verify")
            verdicts.append(result.exit_code)
            if result.exit_code != 0:
                errors.append(AssertionError(result.output))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    watcher = threading.Thread(target=auditor)
    watcher.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=240)
    done.set()
    watcher.join(timeout=240)
    assert not errors, errors
    assert verdicts and set(verdicts) == {0}
    session.expire_all()
    seqs = session.scalars(select(AccessEvent.seq).where(
        AccessEvent.member_id == busy.id).order_by(AccessEvent.seq)).all()
    assert seqs == list(range(1, THREADS * EACH + 1))
    assert session.get(AccessChainHead, f"member:{busy.id}").seq == THREADS * EACH
    report = verify(session, **audit_keys(app))
    assert report.ok, report.findings
    assert report.events == THREADS * EACH + EACH // 2
    session.close()


def test_checkpoints_made_at_once_never_fork(committed_office: Any) -> None:
    """Two checkpoint runs at the same moment: each one succeeds or is told to run again;
    the checkpoints stay one chain."""
    from app.extensions import db
    from app.services.errors import CheckpointConflict

    app = committed_office("access-checkpoints")
    session = db.new_session(app)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    factory = Factory(app, session)
    members = [factory.member(union, full_name=name, birth_date=date(1990, 1, 1 + n))
               for n, name in enumerate(("Lan", "Mai", "Hoa", "Cúc"))]
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def worker(member: Any) -> None:
        start.wait()
        for _ in range(3):
            writer = db.new_session(app)  # reads first, then writes: the racy way
            try:
                access_log_for(app, writer).record(record_for(member, "pull"))
                seal(app, writer)
                writer.commit()
                outcomes.append("made")
            except CheckpointConflict:
                writer.rollback()
                outcomes.append("conflict")
            except Exception as exc:  # noqa: BLE001 - SQLite: busy, answered 503 in a request
                from sqlalchemy.exc import OperationalError

                from app.db import is_busy

                writer.rollback()
                outcomes.append("busy" if isinstance(exc, OperationalError) and is_busy(exc)
                                else repr(exc))
            finally:
                writer.close()

    threads = [threading.Thread(target=worker, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert set(outcomes) <= {"made", "conflict", "busy"}, outcomes
    assert outcomes.count("made") >= 1
    report = verify(session, **audit_keys(app))
    assert report.ok, report.findings
    assert report.checkpoints == outcomes.count("made")
    session.close()
