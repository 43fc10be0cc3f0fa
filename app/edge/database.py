"""The Flask side of the database: one session per request or app context, and a request that
may change data committed once, at the edge, when it succeeds."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, after_this_request, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from werkzeug.exceptions import InternalServerError

from app.db import WRITE_INTENT, make_engine, make_reader_engine

#: ``Session.info`` key of a reading request's session: it may not write (``_refuse_flush``, ``_refuse_statement``).
READS_ONLY = "unioncard_reads_only"


class WriteInReadingRequest(RuntimeError):
    """A request that only reads (a GET view not marked ``writes``) tried to change data: a
    programming error (mark the view), refused before anything reaches the database."""


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READS_ONLY):
        raise WriteInReadingRequest("a reading request (GET) tried to flush changes; mark "
                                    "its view with @writes")


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(READS_ONLY) and (state.is_insert or state.is_update
                                               or state.is_delete):
        raise WriteInReadingRequest("a reading request (GET) tried to change data; mark its "
                                    "view with @writes")


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
        url, echo = app.config["SQLALCHEMY_URL"], bool(app.config["DATABASE_ECHO"])
        pool_size = int(app.config["DATABASE_POOL_SIZE"])
        engine = make_engine(url, echo=echo, pool_size=pool_size)
        reader = make_reader_engine(url, echo=echo, pool_size=pool_size)
        app.extensions["unioncard.db"] = {
            "engine": engine,
            "reader_engine": reader,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
            # requests that only read (``_request_writes`` is false), where it saves round trips
            "reader_sessionmaker": (None if reader is None else
                                    sessionmaker(bind=reader, expire_on_commit=False)),
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
        self.state(app)["reader_sessionmaker"] = None

    def new_session(self, app: Flask, *, write: bool = False) -> Session:
        """A new session (CLI, jobs); ``write``: its transactions begin with the write lock."""
        maker: sessionmaker[Session] = self.state(app)["sessionmaker"]
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
            session.close()
