"""Sign-ins while other requests write (regression: on SQLite a sign-in read the account, then
wrote its failure count in a transaction begun for reading; when another connection committed in
between, SQLite refused the upgrade at once and the sign-in was answered 503 ``database-busy``
— ``scripts/serve``'s worker writing beside gunicorn was enough)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import text

from tests.conftest import PASSWORD


def test_sign_ins_succeed_while_another_connection_keeps_committing(
        committed_office: Any) -> None:
    from app.extensions import db

    app = committed_office("logins", LOGIN_RATE_LIMIT="10000 per minute",
                           LOGIN_ADDRESS_RATE_LIMIT="10000 per minute")
    stop = threading.Event()

    def writer() -> None:
        session = db.new_session(app, write=True)
        try:
            while not stop.is_set():
                session.execute(text("UPDATE unions SET name = name"))
                session.commit()
        finally:
            session.close()

    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def sign_in() -> None:
        client = app.test_client()
        for attempt in range(15):
            password = PASSWORD if attempt % 3 else "wrong password"
            response = client.post("/api/v1/auth/token",
                                   json={"username": "lan.bn", "password": password})
            with lock:
                statuses[response.status_code] += 1

    background = threading.Thread(target=writer)
    background.start()
    try:
        threads = [threading.Thread(target=sign_in) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
    finally:
        stop.set()
        background.join(timeout=60)
    assert set(statuses) <= {200, 400, 429}, statuses  # 400: invalid_grant
    assert statuses[200] > 0 and statuses[400] > 0, statuses
