"""E-mail notifications: emergency access queued in the outbox and delivered over SMTP to a
real local server (aiosmtpd): content, idempotence, retries, refusals, crash safety, CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.composition import cipher_for_config
from app.models import OutboxMessage
from app.services.access_events.addresses import NotificationAddresses
from app.services.access_events.delivery import Delivery, RetryPolicy, SmtpSettings
from app.services.access_events.log import AccessLog
from app.services.access_events.outbox import notify_emergency
from tests.app.access_helpers import NOW, Clock, record_for
from tests.app.smtp_server import PASSWORD, USERNAME, free_port, smtp_server
from tests.conftest import invoke

SENDER = "thong-bao@unioncard.example.vn"
ADDRESS = "yen.nguyen@example.vn"
LOG_URL = "https://the.union.example.vn/api/v1/me/access-log"


@pytest.fixture
def member(factory) -> Any:
    return factory.member(factory.union())


def queue(app, session, member, clock: Any) -> OutboxMessage:
    """Record an emergency access to the member's record and queue its e-mail; the member
    gave an address."""
    cipher = cipher_for_config(app.config)
    NotificationAddresses(session, cipher).set(member.id, ADDRESS)
    event = AccessLog(session, cipher, clock=clock).record(record_for(member, "emergency"))
    notify_emergency(session, event)
    session.commit()
    return session.scalars(select(OutboxMessage)).one()


@pytest.fixture
def queued(app, session, member) -> OutboxMessage:
    """An emergency access at ``NOW``, queued."""
    return queue(app, session, member, Clock())


def delivery(app, clock: Clock, port: int, **options: Any) -> Delivery:
    from app.extensions import db

    smtp = {"host": "127.0.0.1", "port": port, "sender": SENDER, "tls": "none",
            "timeout": 5.0, **options.pop("smtp", {})}
    policy = RetryPolicy(**{"max_attempts": 3, "base": timedelta(minutes=1),
                            "lease": timedelta(minutes=10), **options})
    return Delivery(lambda: db.new_session(app, write=True), cipher_for_config(app.config),
                    SmtpSettings(**smtp), policy, access_log_url=LOG_URL, clock=clock)


def state(session, row: OutboxMessage) -> tuple[str, int]:
    session.expire_all()
    fresh = session.get(OutboxMessage, row.id)
    return fresh.status, fresh.attempts


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW + timedelta(minutes=1), timedelta(0))


def test_the_emergency_email_is_sent_once(app, session, queued, clock) -> None:
    with smtp_server() as (inbox, port):
        first = delivery(app, clock, port).run()
        again = delivery(app, clock, port).run()
    assert (first.sent, again.sent) == (1, 0)
    assert state(session, queued) == ("sent", 1)
    [mail] = inbox.messages
    assert mail["To"] == ADDRESS and mail["From"] == SENDER
    assert mail["Message-ID"] == f"<unioncard-outbox-{queued.id}@unioncard.example.vn>"
    body = mail.get_content()
    vietnamese, english = body.split("\n---\n")
    assert "truy cập khẩn cấp" in vietnamese and "Phòng khám KCN Quế Võ" in vietnamese
    assert "15:00 ngày 01/12/2026 (giờ Việt Nam; 2026-12-01 08:00 UTC)" in vietnamese
    assert "Mã lý do: unconscious." in vietnamese and LOG_URL in vietnamese
    assert "used emergency access" in english and "Reason code: unconscious." in english
    assert "facility code 27001" in english and LOG_URL in english
    for health in ("Bệnh nhân", "tại xưởng", "dị ứng", "allergies", "emergency-core",
                   "medications"):
        assert health not in body  # the clinic's text and the sections stay out


def test_a_member_without_an_address_gets_nothing(app, session, queued, member,
                                                  clock) -> None:
    NotificationAddresses(session, cipher_for_config(app.config)).set(member.id, None)
    session.commit()
    with smtp_server() as (inbox, port):
        report = delivery(app, clock, port).run()
    assert report.no_address == 1 and inbox.messages == []
    assert state(session, queued)[0] == "no-address"


def test_a_temporary_refusal_is_retried_with_backoff(app, session, queued, clock) -> None:
    with smtp_server() as (inbox, port):
        inbox.answers = ["451 4.3.0 try again later", "451 4.3.0 try again later"]
        assert delivery(app, clock, port).run().retrying == 1
        assert state(session, queued) == ("pending", 1)
        assert delivery(app, clock, port).run().retrying == 0  # not due yet
        clock.now += timedelta(minutes=1)
        assert delivery(app, clock, port).run().retrying == 1
        clock.now += timedelta(minutes=1)
        assert delivery(app, clock, port).run().retrying == 0  # 2 minutes the second time
        clock.now += timedelta(minutes=1)
        assert delivery(app, clock, port).run().sent == 1
    assert state(session, queued) == ("sent", 3) and len(inbox.messages) == 1


def test_out_of_attempts_is_failed(app, session, queued, clock) -> None:
    with smtp_server() as (inbox, port):
        inbox.answers = ["451 4.3.0 try again later"] * 5
        for _ in range(3):
            delivery(app, clock, port).run()
            clock.now += timedelta(hours=1)
        assert delivery(app, clock, port).run().sent == 0
    status, attempts = state(session, queued)
    assert (status, attempts) == ("failed", 3)


def test_a_permanent_refusal_fails_at_once(app, session, queued, clock) -> None:
    with smtp_server() as (inbox, port):
        inbox.answers = ["550 5.1.1 no such mailbox"]
        report = delivery(app, clock, port).run()
    assert report.failed == 1
    session.expire_all()
    row = session.get(OutboxMessage, queued.id)
    assert row.status == "failed" and "550" in row.last_error


def test_an_unreachable_server_stops_the_run_and_counts_no_attempt(app, session, queued,
                                                                   clock) -> None:
    report = delivery(app, clock, free_port()).run()  # nothing listens there
    assert report.stopped and report.sent == 0
    assert state(session, queued) == ("pending", 0)


def test_starttls_with_a_verified_certificate_and_a_login(app, session, queued, clock,
                                                          tmp_path) -> None:
    with smtp_server(tls_in=tmp_path) as (inbox, port):
        secure = {"tls": "starttls", "username": USERNAME}
        untrusted = delivery(app, clock, port, smtp={**secure, "password": PASSWORD}).run()
        assert "cannot use the SMTP server" in untrusted.stopped  # self-signed: not trusted
        ca = str(tmp_path / "smtp-cert.pem")
        refused = delivery(app, clock, port, smtp={**secure, "password": "wrong",
                                                   "ca_file": ca}).run()
        assert "refused the login" in refused.stopped
        assert state(session, queued) == ("pending", 0)
        sent = delivery(app, clock, port, smtp={**secure, "password": PASSWORD,
                                                "ca_file": ca}).run()
    assert sent.sent == 1 and len(inbox.messages) == 1


def test_a_crash_between_sending_and_marking_never_sends_again_by_itself(app, session, queued,
                                                                         clock) -> None:
    class Crashing(Delivery):
        def _finish(self, outbox_id: int, status: str, error: str) -> None:
            raise SystemExit("killed after the server took the message")

    with smtp_server() as (inbox, port):
        crashing = delivery(app, clock, port)
        crashing.__class__ = Crashing
        with pytest.raises(SystemExit):
            crashing.run()
        assert len(inbox.messages) == 1 and state(session, queued) == ("sending", 1)
        assert delivery(app, clock, port).run().sent == 0  # claimed: left alone
        clock.now += timedelta(minutes=11)
        later = delivery(app, clock, port).run()
        assert (later.uncertain, later.sent) == (1, 0)
        assert state(session, queued)[0] == "uncertain" and len(inbox.messages) == 1
        operator = delivery(app, clock, port)
        assert operator.requeue_uncertain() == 1
        assert operator.run().sent == 1
    first, second = inbox.messages
    assert first["Message-ID"] == second["Message-ID"]  # a copy mail systems can drop


def test_a_message_claimed_by_another_run_is_not_taken(app, session, queued, clock) -> None:
    with smtp_server() as (inbox, port):
        one = delivery(app, clock, port)
        assert one._claim(queued.id) is True
        assert one._claim(queued.id) is False
        assert delivery(app, clock, port).run().sent == 0
    assert inbox.messages == []


@pytest.mark.parametrize("settings, message", [
    ({"host": ""}, "SMTP_HOST"),
    ({"sender": ""}, "SMTP_FROM"),
    ({"tls": "maybe"}, "SMTP_TLS"),
    ({"host": "smtp.example.vn", "password": "x"}, "in clear"),
])
def test_bad_smtp_settings_are_refused(settings, message) -> None:
    base = {"host": "127.0.0.1", "port": 25, "sender": SENDER, "tls": "none"}
    with pytest.raises(ValueError, match=message):
        SmtpSettings(**{**base, **settings})


def test_cli_deliver(app, make_app, connection, session, member) -> None:
    from app.clock import now
    from app.extensions import db

    queue(app, session, member, now)  # due now, by the command's own clock
    unset = make_app({})
    db.bind_app_to(unset, connection)
    refused = invoke(unset, "notifications", "deliver")
    assert refused.exit_code == 1 and "SMTP_HOST and SMTP_FROM must be set" in refused.stderr
    with smtp_server() as (inbox, port):
        configured = make_app({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
                               "SMTP_FROM": SENDER, "SMTP_TLS": "none"})
        db.bind_app_to(configured, connection)
        done = invoke(configured, "notifications", "deliver")
        assert done.exit_code == 0, done.output
        assert "sent 1, retrying later 0, failed 0, no address 0" in done.output
        again = invoke(configured, "notifications", "deliver", "--requeue-uncertain")
        assert "requeued 0 uncertain" in again.output and "sent 0" in again.output
    assert len(inbox.messages) == 1
    # the member's portal page (signs in first), not the API route that needs a bearer token
    text = inbox.messages[0].get_content()
    assert "/me/access-log\n" in text and "/api/v1/me/access-log" not in text


@pytest.mark.slow
def test_deliver_in_a_subprocess(committed_office) -> None:
    """``python -m app notifications deliver`` end to end against the local SMTP server."""
    import subprocess
    import sys

    from app.clock import now
    from app.extensions import db
    from app.models import Union
    from tests.conftest import Factory, unioncard_env

    app = committed_office("notify_cli")
    session = db.new_session(app)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    queue(app, session, Factory(app, session).member(union), now)
    session.close()
    with smtp_server() as (inbox, port):
        env = unioncard_env(app.config["DATABASE_URL"], SMTP_HOST="127.0.0.1",
                            SMTP_PORT=str(port), SMTP_FROM=SENDER, SMTP_TLS="none")
        runs = [subprocess.run([sys.executable, "-m", "app", "notifications", "deliver"],
                               env=env, capture_output=True, text=True, timeout=60)
                for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout.startswith("sent 1,") and runs[1].stdout.startswith("sent 0,")
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == ADDRESS
    bad = subprocess.run([sys.executable, "-m", "app", "notifications", "deliver"],
                         env=unioncard_env(app.config["DATABASE_URL"]), capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: SMTP_HOST and SMTP_FROM must be set to send e-mail"
