"""Officers and administrators never read health data, and the database holds none of it (nor a
personal ID or health ID) in plaintext."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import inspect, text

from app.logs import JsonFormatter
from app.services.health.store import HealthStore
from tests.app.health_fixtures import DISTINCTIVE, health_document
from tests.app.test_health_store import cipher_for_tests

HEALTH_ID = "2409876543"
PERSONAL_ID = "024194001234"


class Capture(logging.Handler):
    """Every log line of every logger, formatted as in production."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Capture]:
    capture = Capture()
    loggers = [logging.getLogger(), logging.getLogger("unioncard"), logging.getLogger("werkzeug")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    yield capture
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(capture)
        logger.setLevel(level)


@pytest.fixture
def stored(client: FlaskClient, factory, session) -> dict[str, Any]:
    """A Bắc Ninh member with a card, a health link and a stored health record, made through
    the API; an officer and an administrator with their tokens."""
    union = factory.union("CDCS-24-QUEVO1", "24")
    officer = factory.user("officer", "24")
    admin = factory.user("admin")
    headers = factory.headers(officer)
    created = client.post("/api/v1/members", headers=headers, json={
        "full_name": "Nguyễn Thị Kim Yến", "birth_date": "1994-03-12", "sex": "F",
        "personal_id": PERSONAL_ID, "union_code": union.code, "phone": "0912345678",
        # the social-insurance number is the health ID: officers see only its last 4 digits
        "insurance_number": HEALTH_ID})
    assert created.status_code == 201, created.get_json()
    member_id = created.get_json()["id"]
    linked = client.put(f"/api/v1/members/{member_id}/health-link", headers=headers,
                        json={"health_id": HEALTH_ID})
    assert linked.status_code == 200, linked.get_json()
    card = client.post(f"/api/v1/members/{member_id}/cards", headers=headers)
    assert card.status_code == 201, card.get_json()
    HealthStore(session, cipher_for_tests(), actor="feed").save(
        member_id, health_document(), source="feed:vssid-test", bundle_id="b-1")
    session.commit()
    return {"member_id": member_id, "serial": card.get_json()["serial"], "union": union.code,
            "officer": officer, "admin": admin, "officer_headers": headers,
            "admin_headers": factory.headers(admin)}


def _path(rule: Any, ids: dict[str, str]) -> str:
    path = rule.rule
    for arg in rule.arguments:
        value = ids.get(arg, "1")
        path = re.sub(r"<(?:[^<>:]+(?:\([^)]*\))?:)?" + arg + ">", value, path)
    return path


#: A plausible body per method and path ending (the first that matches).
BODIES: tuple[tuple[str, str, Any], ...] = (
    ("PUT", "/health-link", {"health_id": HEALTH_ID}),
    ("PUT", "/status", {"status": "suspended", "reason": "thử"}),
    ("POST", "/personal-id", {"reason": "thử"}),
    ("POST", "/suspend", {"reason": "lost"}),
    ("POST", "/revoke", {"reason": "superseded"}),
    ("POST", "/accept", {"reason": "thử"}),
    ("PATCH", "/api/v1/members/", {"phone": "0912345679"}),
    ("PATCH", "/api/v1/unions/", {"name": "CĐCS Quế Võ 1"}),
    ("POST", "/api/v1/transfers", {"personal_id": PERSONAL_ID, "union_code": "CDCS-24-QUEVO1",
                                   "reason": "thử"}),
)


def _body(method: str, path: str) -> Any:
    return next((body for m, part, body in BODIES if m == method and part in path), {})


def _leaks(text_: str) -> list[str]:
    return [s for s in (*DISTINCTIVE, HEALTH_ID) if s in text_ or json.dumps(s)[1:-1] in text_]


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_no_route_shows_health_data_to_staff(client: FlaskClient, stored, logs, role) -> None:
    """Every route of the URL map, every method, with plausible ids, as an officer and as an
    administrator: no response body, header or log line holds any of the health record."""
    app = client.application
    ids = {"member_id": str(stored["member_id"]), "serial": stored["serial"],
           "code": stored["union"], "user_id": str(stored[role].id), "slug": "not-found",
           "filename": "x", "job_id": "00000000-0000-0000-0000-000000000000",
           "name": "qr.svg", "decision": "accept"}
    headers = stored[f"{role}_headers"]
    calls = sorted(((method, _path(rule, ids)) for rule in app.url_map.iter_rules()
                    for method in rule.methods - {"HEAD", "OPTIONS"}),
                   # deletions, then the logout (it ends the token), last
                   key=lambda call: (call[0] == "DELETE" or call[1].endswith("/logout"), call))
    assert len(calls) >= 45
    statuses = {}
    for method, path in calls:
        for query in ("", "?q=Nguyen&per_page=100"):
            response = client.open(path + query, method=method, headers=headers,
                                   json=_body(method, path))
            statuses[f"{method} {path}{query}"] = response.status_code
            body = response.get_data(as_text=True) if not response.is_streamed else ""
            shown = body + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            assert not _leaks(shown), f"{method} {path}{query} shows {_leaks(shown)}"
            assert response.status_code < 500, f"{method} {path}: {response.status_code}"
    member = f"/api/v1/members/{stored['member_id']}"
    assert statuses[f"GET {member}"] == statuses[f"PUT {member}/health-link"] == 200
    assert statuses[f"DELETE {member}/health-link"] == 204  # each handler was reached
    assert logs.lines and not [line for line in logs.lines if _leaks(line)]


def _raw_values(connection: Any) -> Iterator[tuple[str, str, Any]]:
    """Every value of every text or binary column of every table, read by SQL."""
    inspector = inspect(connection)
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            kind = str(column["type"]).upper()
            if not any(t in kind for t in ("CHAR", "TEXT", "BLOB", "BYTEA", "BINARY", "JSON")):
                continue
            for (value,) in connection.execute(text(f'SELECT "{column["name"]}" FROM "{table}"')):
                yield table, column["name"], value


def test_raw_tables_hold_no_health_data_personal_id_or_health_id(stored, connection,
                                                                session) -> None:
    """Read every table by SQL (the ORM not involved) on this backend and find none of the
    known plaintexts: health content, the personal ID, the health ID (also the member's
    social-insurance number)."""
    plaintexts = [*DISTINCTIVE, PERSONAL_ID, HEALTH_ID]
    forms = {p: {p.encode("utf-8"), json.dumps(p).encode()[1:-1]} for p in plaintexts}
    session.commit()
    columns: set[tuple[str, str]] = set()
    found = []
    for table, column, value in _raw_values(connection):
        columns.add((table, column))
        if value is None:
            continue
        raw = bytes(value) if isinstance(value, (bytes, memoryview)) else (
            json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        ).encode("utf-8")
        found += [(table, column, p) for p, variants in forms.items() if any(v in raw
                                                                          for v in variants)]
    assert not found, found
    for expected in (("health_records", "summary_encrypted"), ("health_links",
                     "health_id_encrypted"), ("members", "personal_id_encrypted"),
                     ("audit_log", "details"), ("cards", "uc1_encrypted"),
                     ("members", "insurance_number_encrypted")):
        assert expected in columns  # the scan did read the columns that matter


def test_the_scan_finds_a_plaintext_when_there_is_one(stored, connection, session) -> None:
    """The raw scan is not blind: a health string written in clear is found."""
    session.execute(text("UPDATE health_records SET source = :s"), {"s": DISTINCTIVE[0]})
    session.commit()
    hits = [(t, c) for t, c, v in _raw_values(connection)
            if isinstance(v, str) and DISTINCTIVE[0] in v]
    assert hits == [("health_records", "source")]
