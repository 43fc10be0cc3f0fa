"""Pooled connections are pinged before use only after being idle; one the server dropped
while idle is replaced before a request meets it (PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.db import make_engine, ping_when_idle
from tests.conftest import ScratchDatabases


def _age(engine, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Make every pooled connection look returned ``seconds`` ago."""
    for record in list(engine.pool._pool.queue):  # noqa: SLF001 (the pool's idle records)
        record.info["unioncard_returned_at"] -= seconds


def test_only_an_idle_connection_is_pinged(test_databases: ScratchDatabases,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ping_when_idle(create_engine(test_databases.new("ping")), idle_seconds=10)
    pings: list[object] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real(conn))
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []  # new, then used a moment ago
        _age(engine, 11)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced(test_databases: ScratchDatabases) -> None:
    if not test_databases.is_postgres:
        pytest.skip("a server that drops connections: PostgreSQL")
    engine = make_engine(test_databases.new("dropped"))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = make_engine(test_databases.base_url)
        try:
            with killer.connect() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        finally:
            killer.dispose()
        _age(engine, 60)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_a_ping_that_finds_the_socket_closed_counts_as_dropped(
        test_databases: ScratchDatabases) -> None:
    """The shape CI met once: psycopg's ping finds the socket closed (OperationalError), then
    fails to restore autocommit (ProgrammingError) before it marks the connection broken. The
    pool must replace the connection, not fail the request."""
    if not test_databases.is_postgres:
        pytest.skip("psycopg's errors: PostgreSQL")
    import psycopg

    from app.db import _dropped

    engine = make_engine(test_databases.new("socket"))
    try:
        with engine.connect() as conn:
            healthy = conn.connection.dbapi_connection
            try:
                try:
                    raise psycopg.OperationalError("connection socket closed")
                except psycopg.OperationalError:
                    # raised while handling the first: its __context__, as in psycopg
                    raise psycopg.ProgrammingError(  # noqa: B904
                        "can't change 'autocommit' now: connection in transaction status "
                        "ACTIVE")
            except psycopg.ProgrammingError as error:
                assert error.__context__ is not None
                assert _dropped(engine, error, healthy)
            # a plain programming error on a healthy connection is not a drop
            assert not _dropped(engine, psycopg.ProgrammingError("syntax error"), healthy)
    finally:
        engine.dispose()
