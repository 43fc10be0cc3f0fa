"""The worker's periodic duties: the e-mail outbox sent to a real local SMTP server (aiosmtpd),
the access log's checkpoints and the on-card refresh, each at its interval, a failure logged
without stopping the worker."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.composition import cipher_for_config, job_queue
from app.duties import Duty, checkpoint_duty, outbox_duty, periodic_duties, seal_chains
from app.models import AccessCheckpoint, OutboxMessage
from app.services.access_events.log import AccessLog
from tests.app.access_helpers import record_for
from tests.app.smtp_server import smtp_server
from tests.app.test_notifications import SENDER, queue


@pytest.fixture
def member(factory) -> Any:
    return factory.member(factory.union())


def _bound(make_app, connection, **config: Any) -> Any:
    from app.extensions import db

    application = make_app(config)
    db.bind_app_to(application, connection)
    return application


def test_the_outbox_duty_sends_the_emergency_email(make_app, connection, app, session,
                                                   member) -> None:
    from app.clock import now

    queue(app, session, member, now)
    with smtp_server() as (inbox, port):
        configured = _bound(make_app, connection, SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                            SMTP_FROM=SENDER, SMTP_TLS="none")
        duty = outbox_duty(configured)
        assert duty is not None and duty.every == 60
        assert duty.run_if_due(now=100.0) is True
        assert duty.run_if_due(now=130.0) is False  # not due again before 60 s
    assert len(inbox.messages) == 1
    session.expire_all()
    assert session.scalars(select(OutboxMessage.status)).one() == "sent"


def test_no_outbox_duty_without_smtp_or_with_bad_settings(make_app, connection,
                                                          caplog) -> None:
    assert outbox_duty(_bound(make_app, connection)) is None
    assert outbox_duty(_bound(make_app, connection, SMTP_HOST="127.0.0.1",
                              NOTIFY_EVERY_SECONDS=0)) is None
    with caplog.at_level(logging.WARNING, logger="unioncard.worker"):
        assert outbox_duty(_bound(make_app, connection, SMTP_HOST="127.0.0.1")) is None
    assert "e-mail notifications are not sent" in caplog.text and "SMTP_FROM" in caplog.text


def test_the_checkpoint_duty_seals_the_chains_once_an_interval(make_app, connection, app,
                                                               session, member,
                                                               caplog) -> None:
    AccessLog(session, cipher_for_config(app.config)).record(record_for(member))
    session.commit()
    worker_app = _bound(make_app, connection)
    duty = checkpoint_duty(worker_app)
    assert duty is not None and duty.every == 3600
    with caplog.at_level(logging.INFO, logger="unioncard.audit"):
        assert seal_chains(worker_app, timedelta(hours=1)) is True
    made = session.scalars(select(AccessCheckpoint)).one()
    assert made.heads == 1 and made.made_by == "worker"
    assert f"digest {made.digest}" in caplog.text  # the journal keeps it outside the database
    # another worker (or the CLI) a moment later: nothing new
    assert seal_chains(worker_app, timedelta(hours=1)) is False
    assert session.scalar(select(func.count()).select_from(AccessCheckpoint)) == 1
    assert checkpoint_duty(_bound(make_app, connection, AUDIT_CHECKPOINT_SECONDS=0)) is None


def test_the_configuration_picks_the_duties(make_app, connection) -> None:
    names = [d.name for d in periodic_duties(_bound(make_app, connection))]
    assert names == ["checkpoint", "on-card", "pin-presence"]  # no SMTP: no outbox duty
    with smtp_server() as (_inbox, port):
        names = [d.name for d in periodic_duties(_bound(
            make_app, connection, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM=SENDER,
            SMTP_TLS="none"))]
    assert names == ["outbox", "checkpoint", "on-card", "pin-presence"]
    off = _bound(make_app, connection, AUDIT_CHECKPOINT_SECONDS=0, ON_CARD_REFRESH_SECONDS=0,
                 PIN_PRESENCE_PRUNE_SECONDS=0)
    assert periodic_duties(off) == []


def test_a_failing_duty_is_logged_and_tried_again_at_its_next_time(caplog) -> None:
    calls: list[float] = []

    def fail() -> None:
        calls.append(time.monotonic())
        raise ConnectionError("the database went away")

    duty = Duty("broken", 10.0, fail)
    with caplog.at_level(logging.ERROR, logger="unioncard.worker"):
        assert duty.run_if_due(now=5.0) is True
    assert "the broken duty failed" in caplog.text and "went away" in caplog.text
    assert duty.run_if_due(now=14.0) is False
    assert duty.run_if_due(now=15.0) is True and len(calls) == 2


def test_the_worker_runs_its_duties_beside_its_jobs(app, connection) -> None:
    from app.worker import Worker

    ran = threading.Event()
    count = [0]

    def note() -> None:
        count[0] += 1
        ran.set()

    runner = Worker(app, job_queue(app), reap_seconds=3600, stale_queued=timedelta(minutes=10),
                    poll_seconds=0.02, install_signals=False,
                    duties=[Duty("note", 3600.0, note)])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert ran.wait(10), "the duty did not run"
        time.sleep(0.2)  # many polls: still once, its interval is an hour
    finally:
        runner.stop()
        thread.join(timeout=30)
    assert not thread.is_alive() and count == [1]


def test_the_on_card_duty_reissues_the_cards_of_lapsed_consents_once(
        app, session, factory) -> None:
    from app.duties import on_card_duty, refresh_on_card
    from app.models import Card, CardStatus
    from tests.app.test_on_card_freshness import lapsed_on_card_member

    yen = lapsed_on_card_member(app, session, factory)
    duty = on_card_duty(app)
    assert duty is not None and duty.every == 86400
    assert refresh_on_card(app) == 1
    cards = list(session.scalars(select(Card).where(Card.member_id == yen.id).order_by(Card.id)
                                 .execution_options(populate_existing=True)))
    assert [c.status for c in cards] == [CardStatus.REVOKED, CardStatus.ACTIVE]
    assert cards[1].reprint_needed and not cards[1].has_emergency_core
    assert refresh_on_card(app) == 0  # another worker, or the next day: nothing left
