"""One-time form tokens (app.services.form_submissions): a token claimed by one transaction
is answered with that transaction's result to a second one sent at the same moment (real
threads on a committed SQLite file or PostgreSQL database); a rolled-back claim frees it."""

from __future__ import annotations

import threading
import time
from typing import Any

from app.services import form_submissions
from app.services.form_submissions import Earlier


def test_a_concurrent_repeat_waits_for_the_first_and_gets_its_result(
        committed_office: Any) -> None:
    from app.extensions import db

    app = committed_office("form-tokens")
    key = "a" * 64
    first = db.new_session(app, write=True)
    assert form_submissions.claim(first, key) is None
    answers: list[Any] = []

    def repeat() -> None:
        second = db.new_session(app, write=True)
        try:
            answers.append(form_submissions.claim(second, key))
            second.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            answers.append(exc)
        finally:
            second.close()

    thread = threading.Thread(target=repeat)
    thread.start()
    time.sleep(0.5)
    assert answers == []  # still waiting for the first transaction
    form_submissions.settle(first, key, "/console/cards/ABC/issued")
    first.commit()
    first.close()
    thread.join(20)
    assert answers == [Earlier("/console/cards/ABC/issued")]


def test_a_rolled_back_claim_frees_the_token(committed_office: Any) -> None:
    from app.extensions import db

    app = committed_office("form-tokens-rollback")
    key = "b" * 64
    session = db.new_session(app, write=True)
    assert form_submissions.claim(session, key) is None
    session.rollback()
    assert form_submissions.claim(session, key) is None
    session.commit()
    assert form_submissions.claim(session, key) == Earlier("")
    session.close()
