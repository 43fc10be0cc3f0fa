"""The SQLAlchemy declarative base, and the per-app engine and per-request session."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, after_this_request, current_app, g, has_request_context, request
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator
from werkzeug.exceptions import InternalServerError

#: Execution option marking a transaction that will write (SQLite begins it IMMEDIATE).
WRITE_INTENT = "unioncard_write_intent"
#: How long a statement waits for a lock held by another writer before the database is
#: answered as busy (503 + Retry-After): SQLite's busy timeout, PostgreSQL's lock_timeout.
BUSY_TIMEOUT_SECONDS = 30.0
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


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and real transactions (SAVEPOINT-safe)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

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
        return create_engine(url, echo=echo, pool_pre_ping=True,
                             connect_args={"options": f"-c lock_timeout={timeout_ms}"})
    return create_engine(url, echo=echo, pool_pre_ping=True)


def is_busy(error: OperationalError) -> bool:
    """Whether a database error means "busy, try again": SQLite's database (or table) locked or
    busy, PostgreSQL's lock timeout or deadlock."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _PG_BUSY_STATES:
        return True
    text = str(orig).lower() if orig is not None else ""
    return "database is locked" in text or "table is locked" in text or "busy" in text


def defers_writes(view: Any) -> Any:
    """Mark a writing view that takes no write lock for its whole request: its session begins
    as a reader, and its service writes in short transactions of its own (an upload is saved
    and checked first, outside any write transaction). The edge still commits it."""
    view._defers_writes = True
    return view


def writes(view: Any) -> Any:
    """Mark a GET view that changes data (e.g. a one-time download), so its transaction
    takes the write lock up front like other writing requests."""
    view._writes = True
    return view


def _request_writes() -> bool:
    """Whether the current request may change data: an unsafe method, or a marked view."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return bool(getattr(method, "_writes", False))


def _request_defers_writes() -> bool:
    """Whether the current request's view writes only in short transactions of its own."""
    view = current_app.view_functions.get(request.endpoint or "")
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    return bool(getattr(method, "_defers_writes", False))


def _end_writing_request() -> None:
    """Before a request that may change data: end its transaction once its answer is known."""
    if _request_writes():
        # this request's own hooks run before the app's after_request hooks, so the request
        # id header and the access log line see the final answer (e.g. a 409 from the commit)
        after_this_request(_commit_if_successful)


def _commit_if_successful(response: Response) -> Response:
    """Commit the request's session when the answer is a success (status < 400), roll it back
    otherwise. A failing commit is rolled back and answered by the app's error handlers (an
    IntegrityError as 409, anything else as a 500 problem), never as a success."""
    session: Session | None = g.get("db_session")
    if session is None:
        return response
    if response.status_code >= 400:
        session.rollback()
        return response
    try:
        session.commit()
    except Exception as error:
        session.rollback()
        app = current_app
        try:
            answer = app.handle_user_exception(error)
        except Exception:  # no handler for it: the 500 problem, with the error logged
            answer = app.handle_user_exception(InternalServerError(original_exception=error))
        return app.make_response(answer)
    return response


class Database:
    """Flask extension: one engine per app, one session per request or app context; a request
    that may change data is committed once, when it succeeds (``_commit_if_successful``)."""

    def init_app(self, app: Flask) -> None:
        """Create the engine from ``SQLALCHEMY_URL``, commit writing requests that succeed
        and close sessions at teardown."""
        engine = make_engine(app.config["SQLALCHEMY_URL"], echo=bool(app.config["DATABASE_ECHO"]))
        app.extensions["unioncard.db"] = {
            "engine": engine,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
        }
        app.before_request(_end_writing_request)
        app.teardown_appcontext(self._remove)

    @staticmethod
    def state(app: Flask) -> dict[str, Any]:
        return app.extensions["unioncard.db"]  # type: ignore[no-any-return]

    def engine_for(self, app: Flask) -> Engine:
        """The app's engine."""
        return self.state(app)["engine"]  # type: ignore[no-any-return]

    def bind_app_to(self, app: Flask, connection: Connection) -> None:
        """Make the app's sessions join an outer transaction on ``connection`` (tests)."""
        self.state(app)["sessionmaker"] = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def new_session(self, app: Flask, *, write: bool = False) -> Session:
        """A new session (CLI, jobs); ``write``: its transactions begin with the write lock."""
        maker: sessionmaker[Session] = self.state(app)["sessionmaker"]
        session = maker()
        if write:
            session.connection(execution_options={WRITE_INTENT: True})
        return session

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use; in a request that
        may change data (not GET/HEAD/OPTIONS) it is a writing session, unless its view
        ``defers_writes``."""
        if "db_session" not in g:
            write = (has_request_context() and _request_writes()
                     and not _request_defers_writes())
            g.db_session = self.new_session(current_app, write=write)
        return g.db_session  # type: ignore[no-any-return]

    @staticmethod
    def _remove(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
