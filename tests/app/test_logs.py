"""Logs and stored data without personal data (issue 9, item 11): bound parameters, exception
messages and query strings stay out of the JSON log lines; files are private; IDs are masked."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.db import make_engine
from app.logs import JsonFormatter, json_handler
from app.services import jobs

PID = "027194001234"


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    """JSON lines, as the app's handlers write them, of the unioncard, Flask and werkzeug
    loggers while the block runs."""
    out = io.StringIO()
    handler = json_handler()
    handler.setStream(out)  # type: ignore[attr-defined]
    loggers = [logging.getLogger(name) for name in ("unioncard", "app", "werkzeug")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield out
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_sql_errors_never_show_bound_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn, pytest.raises(IntegrityError) as caught:
            conn.execute(text("INSERT INTO provinces (code, name) VALUES (:code, :name)"),
                         [{"code": "24", "name": f"dup {PID}"}])
    finally:
        engine.dispose()
    assert "[parameters:" not in str(caught.value) and "parameters hidden" in str(caught.value)
    # PostgreSQL's own message still quotes the failing row: logs leave messages out
    record = logging.LogRecord("unioncard.test", logging.ERROR, __file__, 1, "failed", None,
                               exc_info=(IntegrityError, caught.value, caught.tb))
    assert PID not in JsonFormatter().format(record)


def test_a_traceback_is_inside_one_line_without_the_message() -> None:
    try:
        try:
            raise ValueError(f"personal id {PID}")
        except ValueError as inner:
            raise RuntimeError(f"wrapping {PID}") from inner
    except RuntimeError:
        record = logging.LogRecord("unioncard.test", logging.ERROR, __file__, 1, "failed", None,
                                   exc_info=__import__("sys").exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["exc_type"] == "RuntimeError"
    assert "builtins.ValueError" in fields["exc"] and "builtins.RuntimeError" in fields["exc"]
    assert "direct cause" in fields["exc"] and "test_logs.py" in fields["exc"]
    assert PID not in line


def test_a_failed_job_logs_no_data(app: Flask) -> None:
    params = {"personal_id": PID, "name": "Yến"}
    orig = Exception(f"Key (personal_id_hash)=({PID}) already exists.")

    def sessions() -> Any:
        raise IntegrityError("INSERT INTO members ...", params, orig)

    with captured() as out:
        jobs.run_logged(sessions, "job-1", lambda session, job: {})
    [line] = lines(out)
    assert line["logger"] == "unioncard.jobs" and line["exc_type"] == "IntegrityError"
    assert PID not in out.getvalue() and "Yến" not in out.getvalue()


def test_an_unhandled_error_is_logged_in_json_lines_without_data(make_app: Any) -> None:
    app = make_app({"PROPAGATE_EXCEPTIONS": False})

    @app.get("/__boom")
    def boom() -> str:
        raise RuntimeError(f"secret {PID}")

    with captured() as out:
        assert app.test_client().get(f"/__boom?personal_id={PID}").status_code == 500
    errors = [line for line in lines(out) if line.get("exc")]
    assert errors and all(e["exc"].endswith("builtins.RuntimeError") for e in errors)
    assert PID not in out.getvalue()


def test_an_unhandled_error_is_one_line_with_the_request_id(make_app: Any) -> None:
    # the 500's detail says the error "has been logged with the request id": find it by that id
    app = make_app({"PROPAGATE_EXCEPTIONS": False})

    @app.get("/__boom")
    def boom() -> str:
        raise RuntimeError("boom")

    with captured() as out:
        response = app.test_client().get("/__boom")
    assert response.status_code == 500
    errors = [line for line in lines(out) if line.get("exc")]
    assert len(errors) == 1, [e["logger"] for e in errors]
    assert errors[0]["request_id"] == response.headers["X-Request-ID"]
    assert errors[0]["request_id"] == response.get_json()["request_id"]


def test_flask_and_werkzeug_log_json_lines(app: Flask) -> None:
    for logger in (app.logger, logging.getLogger("werkzeug")):
        assert not logger.propagate
        # (pytest adds its own capturing handlers beside the app's)
        ours = [h for h in logger.handlers if type(h) is logging.StreamHandler]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)


def test_request_lines_lose_their_query_strings() -> None:
    out = io.StringIO()
    handler = json_handler()
    handler.setStream(out)  # type: ignore[attr-defined]
    logger = logging.getLogger("tests.werkzeug-like")
    logger.addHandler(handler)
    try:
        logger.warning('"%s" %s %s', f"GET /api/v1/members?personal_id={PID} HTTP/1.1", 200, 5)
        logger.warning("Invalid request line: 'GET /x?access_token=abc.def HTTP/1.1'")
    finally:
        logger.removeHandler(handler)
    first, second = lines(out)
    assert first["event"] == '"GET /api/v1/members HTTP/1.1" 200 5'
    assert "access_token" not in second["event"] and "/x" in second["event"]


def test_the_sqlite_file_and_its_directory_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "var" / "unioncard.db"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in path.parent.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert set(modes) >= {"unioncard.db", "unioncard.db-wal"}
    assert set(modes.values()) == {0o600}, modes
