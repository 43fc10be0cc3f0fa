"""Concurrent requests on a real committed database (SQLite file or PostgreSQL): no 500s, and
a member never ends up with two live cards (regression: both happened under load)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Card, CardStatus, Union
from tests.conftest import Factory


@pytest.fixture
def committed_app(committed_office: Any) -> Any:
    """An app on its own committed database (requests run in real threads)."""
    return committed_office("concurrency")


@pytest.fixture
def office(committed_app: Any) -> Any:
    """The Quế Võ union's officer lan.bn; yields (session, factory, headers)."""
    from app.extensions import db
    from app.models import User

    session = db.new_session(committed_app)
    factory = Factory(committed_app, session)
    officer = session.scalar(select(User).where(User.username == "lan.bn"))
    yield session, factory, factory.headers(officer)
    session.close()


def run_together(worker: Any, count: int, timeout: float = 240) -> None:
    """Run ``worker`` in ``count`` threads at once and wait for all of them."""
    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)


def test_parallel_issuance_and_status_changes(committed_app: Any, office: Any) -> None:
    app = committed_app
    session, factory, headers = office
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    names = ["Nguyễn Thị Lan", "Trần Thị Mai", "Lê Thị Hoa", "Phạm Thị Cúc"]
    members = [factory.member(union, full_name=name, birth_date=date(1990, 1, 1 + i), sex="F")
               for i, name in enumerate(names)]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()
        for _ in range(3):
            for member in members:
                issued = client.post(f"/api/v1/members/{member.id}/cards", headers=headers)
                with lock:
                    statuses[issued.status_code] += 1
                if issued.status_code == 201:
                    serial = issued.get_json()["serial"]
                    for action, body in (("suspend", {"reason": "lost"}), ("reinstate", None)):
                        response = client.post(f"/api/v1/cards/{serial}/{action}", json=body,
                                               headers=headers)
                        with lock:
                            statuses[response.status_code] += 1

    run_together(worker, 4)
    assert statuses[201] == 48 and not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 201, 409}
    live = dict(session.execute(select(Card.member_id, func.count()).where(
        Card.status != CardStatus.REVOKED).group_by(Card.member_id)).all())
    assert live == {m.id: 1 for m in members}
    pairs = session.execute(select(Card.status_list_id, Card.status_index)).all()
    assert len(pairs) == len(set(pairs)) == 48


def test_simultaneous_registration_of_one_person_is_409(committed_app: Any,
                                                        office: Any) -> None:
    """Two offices submit the same CCCD at the same moment: one 201, the rest 409."""
    _, _, headers = office
    body = {"full_name": "Nguyễn Thị Kim Yến", "birth_date": "1994-03-12", "sex": "F",
            "personal_id": "024194001234", "union_code": "CDCS-24-QUEVO1"}
    barrier = threading.Barrier(6)
    results: list[int] = []

    def worker() -> None:
        client = committed_app.test_client()
        barrier.wait()
        results.append(client.post("/api/v1/members", json=body, headers=headers).status_code)

    run_together(worker, 6, timeout=60)
    assert sorted(results) == [201] + [409] * 5


def test_first_requests_racing_to_create_the_root_key_agree(committed_app: Any) -> None:
    """The root key is made on first use; simultaneous first requests must not make two."""
    from app.models import SigningKeyRecord

    app = committed_app
    barrier = threading.Barrier(6)
    bodies: list[str] = []

    def worker() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.get("/.well-known/unioncard-root.jwk")
        bodies.append(f"{response.status_code} {response.get_data(as_text=True)}")

    run_together(worker, 6, timeout=60)
    assert len(set(bodies)) == 1 and bodies[0].startswith("200 "), bodies
    from app.extensions import db

    session = db.new_session(app)
    assert session.scalar(select(func.count()).select_from(SigningKeyRecord)) == 1
    session.close()


def test_write_intent_follows_the_method_and_marked_views(app: Any) -> None:
    """Writing requests (and the one-time letters download) begin with the write lock."""
    from app.edge.database import _request_writes

    cases = {("GET", "/api/v1/members"): False, ("POST", "/api/v1/members"): True,
             ("GET", "/api/v1/card-batches/abc/letters.csv"): True,
             ("GET", "/api/v1/card-batches/abc/sheets"): False}
    for (method, path), expected in cases.items():
        with app.test_request_context(path, method=method):
            from flask import request

            request.url_rule, request.view_args = app.url_map.bind("localhost").match(
                path, method=method, return_rule=True)
            assert _request_writes() is expected, (method, path)
