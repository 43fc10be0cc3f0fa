"""The Flask side of the database: one session per request or app context, and a request that
may change data committed once, at the edge, when it succeeds."""

from __future__ import annotations

import re
import weakref
from typing import Any

from flask import Flask, Response, after_this_request, current_app, g, has_request_context, request
from sqlalchemy import TextClause, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from werkzeug.exceptions import InternalServerError

from app.db import WRITE_INTENT, make_engine, make_reader_engine

#: ``Session.info`` key of a reading request's session: it may not write (``_refuse_flush``,
#: ``_refuse_statement``, ``_refuse_on_connection``).
READS_ONLY = "unioncard_reads_only"
#: ``Session.info`` key of the connections a reading request's session has used.
_CONNECTIONS = "unioncard_reading_connections"


class WriteInReadingRequest(RuntimeError):
    """A request that only reads (a GET view not marked ``writes``) tried to change data: a
    programming error (mark the view), refused before anything reaches the database."""


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READS_ONLY):
        raise WriteInReadingRequest("a reading request (GET) tried to flush changes; mark "
                                    "its view with @writes")


#: SQL that writes (or locks rows to write them), as text.
_WRITING_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|TRUNCATE)\b"
                          r"|\bFOR\s+UPDATE\b|^\s*WITH\b.*\b(INSERT|UPDATE|DELETE)\b",
                          re.IGNORECASE | re.DOTALL)


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(READS_ONLY) and (
            state.is_insert or state.is_update or state.is_delete
            or (isinstance(state.statement, TextClause)
                and _WRITING_SQL.search(state.statement.text))):
        raise WriteInReadingRequest("a reading request (GET) tried to change data; mark its "
                                    "view with @writes")


#: The connections reading requests' sessions are using now: Core and text statements sent on
#: them directly (``session.connection().execute``) are checked by ``_refuse_on_connection``.
#: A connection leaves at the request's end. Not in tests that bind every session to one
#: connection (``bind_app_to``): there a reading request's separate writing session (a login
#: counter, the root key) shares it.
_READING: weakref.WeakSet[Connection] = weakref.WeakSet()


@event.listens_for(Session, "after_begin")
def _note_reading_connection(session: Session, _transaction: Any,
                             connection: Connection) -> None:
    if session.info.get(READS_ONLY) and not isinstance(session.bind, Connection):
        _READING.add(connection)
        session.info.setdefault(_CONNECTIONS, []).append(connection)


def _refuse_on_connection(conn: Connection, _cursor: Any, statement: str, _parameters: Any,
                          context: Any, _executemany: bool) -> None:
    """An engine's ``before_cursor_execute``: a statement that writes (or locks rows), sent
    on a reading request's connection past the session (``session.connection().execute``,
    ``text()``), is refused like a flush."""
    if conn in _READING and (
            (context is not None and (context.isinsert or context.isupdate or context.isdelete))
            or _WRITING_SQL.search(statement)):
        raise WriteInReadingRequest("a reading request (GET) sent a statement that writes; "
                                    "mark its view with @writes")


def _forget_reading_connections(session: Session) -> None:
    for connection in session.info.pop(_CONNECTIONS, []):
        _READING.discard(connection)


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


def _view_method() -> Any:
    """The function that answers the current request: a class-based view's method (``get``
    for HEAD when the class has no ``head``, as Flask's MethodView does), else the view."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    name = request.method.lower()
    if name == "head" and not hasattr(view_class, "head"):
        name = "get"
    return getattr(view_class, name, view)


def _request_writes() -> bool:
    """Whether the current request may change data: an unsafe method, or a marked view."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return True
    return bool(getattr(_view_method(), "_writes", False))


def _request_defers_writes() -> bool:
    """Whether the current request's view writes only in short transactions of its own."""
    return bool(getattr(_view_method(), "_defers_writes", False))


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
        url, echo = app.config["SQLALCHEMY_URL"], bool(app.config["DATABASE_ECHO"])
        pool_size = int(app.config["DATABASE_POOL_SIZE"])
        engine = make_engine(url, echo=echo, pool_size=pool_size)
        reader = make_reader_engine(url, echo=echo, pool_size=pool_size)
        app.extensions["unioncard.db"] = {
            "engine": engine,
            "reader_engine": reader,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
            # sessions that write: every transaction they begin takes the write lock up front
            # (SQLite: BEGIN IMMEDIATE), not only their first
            "writer_sessionmaker": sessionmaker(
                bind=engine.execution_options(**{WRITE_INTENT: True}), expire_on_commit=False),
            # requests that only read (``_request_writes`` is false), where it saves round trips
            "reader_sessionmaker": (None if reader is None else
                                    sessionmaker(bind=reader, expire_on_commit=False)),
        }
        for each in (engine, reader):
            if each is not None:
                event.listen(each, "before_cursor_execute", _refuse_on_connection)
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
        self.state(app)["reader_sessionmaker"] = None
        self.state(app)["writer_sessionmaker"] = None

    def new_session(self, app: Flask, *, write: bool = False) -> Session:
        """A new session (CLI, jobs); ``write``: each of its transactions (not only the
        first: a session that commits begins another) begins with the write lock."""
        state = self.state(app)
        writer: sessionmaker[Session] | None = state["writer_sessionmaker"]
        if write and writer is not None:
            return writer()
        maker: sessionmaker[Session] = state["sessionmaker"]
        session = maker()
        if write:
            session.connection(execution_options={WRITE_INTENT: True})
        return session

    def engines(self, app: Flask) -> list[Engine]:
        """Every engine of the app (the writer, and the reader where there is one)."""
        state = self.state(app)
        return [e for e in (state["engine"], state["reader_engine"]) if e is not None]

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use; in a request that
        may change data (not GET/HEAD/OPTIONS) it is a writing session, unless its view
        ``defers_writes``; a request that only reads gets the reader's session where there is
        one (PostgreSQL: autocommit, read-only)."""
        if "db_session" not in g:
            if has_request_context() and not _request_writes():
                reader = self.state(current_app)["reader_sessionmaker"]
                session = reader() if reader is not None else self.new_session(current_app)
                # refused in the session on every backend (and by the server on PostgreSQL's
                # read-only connections), so the tests find a GET that writes unmarked
                session.info[READS_ONLY] = True
                g.db_session = session
            else:
                write = has_request_context() and not _request_defers_writes()
                g.db_session = self.new_session(current_app, write=write)
        return g.db_session  # type: ignore[no-any-return]

    @staticmethod
    def _remove(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            _forget_reading_connections(session)
            session.close()
