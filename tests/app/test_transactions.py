"""A writing request commits once, at the edge, only when it succeeds; a failing commit is a
problem response with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.models import Union
from app.services.errors import Conflict


def _union(code: str) -> Union:
    return Union(code=code, name=f"Công đoàn {code}", province_code="24")


@pytest.fixture
def writer(make_app: Any, connection: Connection) -> Flask:
    """An app with routes that write a union, then succeed or fail in various ways."""
    from app.extensions import db

    bp = Blueprint("writer", __name__)

    @bp.post("/t/ok/<code>")
    def ok(code: str) -> Any:
        db.session.add(_union(code))
        return {"code": code}, 201

    @bp.post("/t/refused/<code>")
    def refused(code: str) -> Any:
        db.session.add(_union(code))
        db.session.flush()
        return {"detail": "refused"}, 400

    @bp.post("/t/conflict/<code>")
    def conflict(code: str) -> Any:
        db.session.add(_union(code))
        db.session.flush()
        raise Conflict("Already there.")

    @bp.post("/t/duplicate/<code>/<existing>")
    def duplicate(code: str, existing: str) -> Any:
        # no flush: the unique key is violated by the commit itself
        db.session.add_all([_union(code), _union(existing)])
        return {"code": code}, 201

    @bp.post("/t/commit-fails/<code>")
    def commit_fails(code: str) -> Any:
        session = db.session
        session.add(_union(code))
        session.flush()

        def fail() -> None:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

        session.commit = fail  # type: ignore[method-assign]
        return {"code": code}, 201

    @bp.get("/t/read/<code>")
    def read(code: str) -> Any:
        db.session.add(_union(code))
        db.session.flush()
        return {"code": code}

    application = make_app()
    application.register_blueprint(bp)
    db.bind_app_to(application, connection)
    return application


def _exists(session: Session, code: str) -> bool:
    session.expire_all()
    return session.scalar(select(Union.id).where(Union.code == code)) is not None


def test_a_successful_write_is_committed(writer: Flask, session: Session) -> None:
    response = writer.test_client().post("/t/ok/CD-T-OK")
    assert response.status_code == 201
    assert _exists(session, "CD-T-OK")


@pytest.mark.parametrize("route", ["refused", "conflict"])
def test_a_failed_write_is_rolled_back(writer: Flask, session: Session, route: str) -> None:
    response = writer.test_client().post(f"/t/{route}/CD-T-NO")
    assert response.status_code in (400, 409)
    assert not _exists(session, "CD-T-NO")


def test_a_unique_violation_at_commit_is_409_with_nothing_written(
        writer: Flask, session: Session) -> None:
    session.add(_union("CD-T-TAKEN"))
    session.commit()
    response = writer.test_client().post("/t/duplicate/CD-T-NEW/CD-T-TAKEN")
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/conflict")
    assert not _exists(session, "CD-T-NEW")


def test_a_failing_commit_is_a_500_problem_with_nothing_written(
        writer: Flask, session: Session) -> None:
    response = writer.test_client().post("/t/commit-fails/CD-T-LOST")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "disk" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"]  # the response hooks ran on the problem
    assert not _exists(session, "CD-T-LOST")


def test_a_reading_request_never_commits(writer: Flask, session: Session) -> None:
    assert writer.test_client().get("/t/read/CD-T-READ").status_code == 200
    assert not _exists(session, "CD-T-READ")
