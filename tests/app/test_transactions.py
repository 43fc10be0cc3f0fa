"""A writing request commits once, at the edge, only when it succeeds; a failing commit is a
problem response with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, current_app
from flask.views import MethodView
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.edge.database import WriteInReadingRequest, writes
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

    @bp.get("/t/read-update/<code>")
    def read_update(code: str) -> Any:
        db.session.execute(update(Union).where(Union.code == code).values(name="changed"))
        return {"code": code}

    @bp.get("/t/read-only/<code>")
    def read_only(code: str) -> Any:
        return {"found": db.session.scalar(select(Union.id).where(Union.code == code)) is not None}

    @bp.get("/t/read-text/<code>")
    def read_text(code: str) -> Any:
        db.session.execute(text("UPDATE unions SET name = 'changed' WHERE code = :code"),
                           {"code": code})
        return {"code": code}

    class Marked(MethodView):
        @writes
        def get(self, code: str) -> Any:
            db.session.add(_union(code))
            return {"code": code}

    bp.add_url_rule("/t/marked/<code>", view_func=Marked.as_view("marked"))

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


def test_a_reading_request_that_writes_is_refused_with_nothing_written(
        writer: Flask, session: Session) -> None:
    # a GET view not marked @writes: its flush is refused (a programming error: a 500
    # problem in production; the test app propagates it), on every backend, before anything
    # reaches the database
    with pytest.raises(WriteInReadingRequest):
        writer.test_client().get("/t/read/CD-T-READ")
    assert not _exists(session, "CD-T-READ")


@pytest.mark.parametrize("route", ["read-update", "read-text"])
def test_a_reading_request_that_updates_is_refused(writer: Flask, session: Session,
                                                   route: str) -> None:
    # an ORM UPDATE, and the same as text: both refused
    session.add(_union("CD-T-KEEP"))
    session.commit()
    with pytest.raises(WriteInReadingRequest):
        writer.test_client().get(f"/t/{route}/CD-T-KEEP")
    session.expire_all()
    assert session.scalar(select(Union.name).where(Union.code == "CD-T-KEEP")) \
        == "Công đoàn CD-T-KEEP"
    assert writer.test_client().get("/t/read-only/CD-T-KEEP").get_json() == {"found": True}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_get_marked_writes_commits_for_head_too(writer: Flask, session: Session,
                                                  method: str) -> None:
    # Flask answers HEAD with ``get``: the request is the same writing request
    answer = writer.test_client().open(f"/t/marked/CD-T-{method}", method=method)
    assert answer.status_code == 200
    assert _exists(session, f"CD-T-{method}")


def test_statements_on_a_reading_requests_own_connection_are_refused(
        make_app: Any, test_databases: Any) -> None:
    """Past the session (``session.connection().execute``), on the app's real pools (a
    database of its own, not bound to a test transaction): a statement that writes on the
    reading request's connection is refused on every backend, while a separate writing session
    of the same request still writes."""
    from app import migrate
    from app.extensions import db

    url = test_databases.new("reading")
    migrate.upgrade(url)

    bp = Blueprint("own_connection", __name__)

    @bp.get("/t/raw-write")
    def raw_write() -> Any:
        db.session.connection().execute(text(
            "INSERT INTO unions (code, name, province_code) VALUES ('CD-T-RAWW', 'x', '24')"))
        return {"written": True}

    @bp.get("/t/own-writer")
    def own_writer() -> Any:
        found = db.session.scalar(select(Union.id).where(Union.code == "CD-T-OWN"))
        with db.new_session(current_app, write=True) as separate:
            separate.add(_union("CD-T-OWN"))
            separate.commit()
        return {"found_before": found is not None}

    application = make_app({"DATABASE_URL": url})
    application.register_blueprint(bp)
    client = application.test_client()
    try:
        with pytest.raises(WriteInReadingRequest):
            client.get("/t/raw-write")
        assert client.get("/t/own-writer").get_json() == {"found_before": False}
        with db.engine_for(application).connect() as conn:
            assert conn.scalar(text(
                "SELECT count(*) FROM unions WHERE code = 'CD-T-RAWW'")) == 0
            assert conn.scalar(text("SELECT count(*) FROM unions WHERE code = 'CD-T-OWN'")) == 1
    finally:
        for engine in db.engines(application):
            engine.dispose()


def test_on_postgresql_reading_requests_read_in_autocommit_on_read_only_connections(
        make_app: Any, database_url: str) -> None:
    """No BEGIN and ROLLBACK around a GET's statements (two of its four round trips), and a
    write that slipped past the session's guard is refused by the server itself."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the reader engine is PostgreSQL's")
    from app.extensions import db

    bp = Blueprint("reader", __name__)

    @bp.get("/t/reader")
    def reader() -> Any:
        found = db.session.scalar(select(Union.id).where(Union.code == "CD-NO-SUCH"))
        return {"found": found is not None}

    @bp.get("/t/reader-raw-write")
    def raw_write() -> Any:
        # past every guard of the app, on the driver's own connection: the server refuses
        # it (read_only_sql_transaction)
        driver = db.session.connection().connection.driver_connection
        assert driver is not None
        try:
            driver.execute("INSERT INTO unions (code, name, province_code) "
                           "VALUES ('CD-T-RAW', 'x', '24')")
        except Exception as error:  # psycopg's ReadOnlySqlTransaction
            return {"sqlstate": getattr(error, "sqlstate", None)}
        return {"written": True}

    application = make_app()
    application.register_blueprint(bp)
    reader_engine = db.state(application)["reader_engine"]
    assert reader_engine is not None
    statements: list[str] = []
    event.listen(reader_engine, "before_cursor_execute",
                 lambda _c, _cu, statement, *_a: statements.append(statement.split()[0]))
    client = application.test_client()
    assert client.get("/t/reader").get_json() == {"found": False}
    assert statements == ["SELECT"]
    assert client.get("/t/reader-raw-write").get_json() == {"sqlstate": "25006"}
    with db.engine_for(application).connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM unions WHERE code = 'CD-T-RAW'")) == 0
