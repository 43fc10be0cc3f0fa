"""The SQLAlchemy declarative base (typed UTC timestamps, named constraints) and the engine."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

#: Execution option marking a transaction that will write (SQLite begins it IMMEDIATE).
WRITE_INTENT = "unioncard_write_intent"
#: How long a statement waits for a lock held by another writer before the database is
#: answered as busy (503 + Retry-After): SQLite's busy timeout, PostgreSQL's lock_timeout.
BUSY_TIMEOUT_SECONDS = 30.0
#: A pooled connection unused this long is pinged before it serves again (``ping_when_idle``).
PING_AFTER_IDLE_SECONDS = 10.0
#: PostgreSQL SQLSTATEs of lock contention: lock_not_available (lock_timeout), deadlock.
_PG_BUSY_STATES = ("55P03", "40P01")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every model; constraints get stable names for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite database file (and its directory) readable by its owner only, before
    SQLite creates it with the process umask; its -wal and -shm files copy its mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        # never open and close a database file this process may hold open: closing any
        # descriptor of a file drops every POSIX lock the process holds on it (SQLite's too)
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def make_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL, real transactions (SAVEPOINT-safe) and
    a private file. Errors never show bound parameters (they hold personal data). A
    PostgreSQL engine keeps ``pool_size`` connections open (and opens up to as many more
    while busy)."""
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, echo=echo, hide_parameters=True,
                               connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A writing transaction begins IMMEDIATE: it takes the write lock up front (waiting
            # up to the busy timeout) instead of failing with "database is locked" when it
            # upgrades from reading to writing under concurrent writers (SQLITE_BUSY_SNAPSHOT
            # in WAL mode). Readers stay DEFERRED and never wait for writers.
            immediate = conn.get_execution_options().get(WRITE_INTENT, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        # wait a bounded time for another transaction's locks, then answer busy (not forever)
        timeout_ms = int(BUSY_TIMEOUT_SECONDS * 1000)
        # connections beyond the pool are closed when returned: a pool smaller than the
        # server's threads opens and closes a PostgreSQL backend (a process) all the time
        return ping_when_idle(create_engine(
            url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size,
            connect_args={"options": f"-c lock_timeout={timeout_ms}"}))
    return ping_when_idle(create_engine(url, echo=echo, hide_parameters=True))


def make_reader_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> Engine | None:
    """The engine of requests that only read, where it saves round trips: on PostgreSQL each
    statement runs in autocommit (no BEGIN and ROLLBACK around a request's one or two
    SELECTs) on connections whose transactions are read-only, so a statement that writes by
    mistake fails at the server instead of committing. Under READ COMMITTED a request's
    statements never shared one snapshot anyway. None elsewhere (SQLite has no round trips).
    """
    if not url.startswith("postgresql"):
        return None
    timeout_ms = int(BUSY_TIMEOUT_SECONDS * 1000)
    return ping_when_idle(create_engine(
        url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": f"-c lock_timeout={timeout_ms} "
                                 "-c default_transaction_read_only=on"}))


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    """Ping a pooled connection before use only when it has been idle ``idle_seconds``: a
    connection the server or a firewall dropped while idle is replaced before a request meets
    it, and a busy pool pays no round trip per checkout (SQLAlchemy's ``pool_pre_ping`` pings
    every checkout: three of a short request's seven PostgreSQL round trips)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn: Any, record: Any) -> None:
        record.info["unioncard_returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("unioncard_returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if _dropped(engine, exc, dbapi_conn):
                # the pool replaces the connection and tries again
                raise DisconnectionError("idle connection dropped") from exc
            raise
        if not alive:
            raise DisconnectionError("idle connection dropped")

    return engine


def _dropped(engine: Engine, error: BaseException, dbapi_conn: Any) -> bool:
    """Whether a failed ping means the connection is gone: the error, or one it arose from,
    is a disconnect or an operational error (a ping of an idle connection that fails so is
    replaced; psycopg, finding the socket closed mid-ping, then fails to restore autocommit
    with a ProgrammingError before it marks the connection broken), or the driver marks the
    connection broken."""
    dbapi = engine.dialect.loaded_dbapi
    seen: BaseException | None = error
    for _ in range(5):  # the error and the ones it arose from
        if seen is None:
            break
        if isinstance(seen, dbapi.OperationalError) or (
                isinstance(seen, dbapi.Error)
                and engine.dialect.is_disconnect(seen, dbapi_conn, None)):
            return True
        seen = seen.__cause__ or seen.__context__
    return bool(getattr(dbapi_conn, "broken", False) or getattr(dbapi_conn, "closed", False))


def is_busy(error: OperationalError) -> bool:
    """Whether a database error means "busy, try again": SQLite's database (or table) locked or
    busy, PostgreSQL's lock timeout or deadlock."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _PG_BUSY_STATES:
        return True
    text = str(orig).lower() if orig is not None else ""
    return "database is locked" in text or "table is locked" in text or "busy" in text
