"""The social-insurance number (mã số BHXH) is encrypted at rest: officers see its last 4 digits;
the register's create and update, the roster import and migration 0013 keep it right."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import migrate
from app.composition import cipher_for_config
from app.db import make_engine
from app.models import Member
from app.services.registry.members import INSURANCE_CONTEXT, insurance_number_of
from tests.app.roster_fixtures import EN_HEADERS, people, to_csv
from tests.app.test_imports import QUEVO, sync_jobs, unions, upload  # noqa: F401
from tests.app.test_members_api import office, payload  # noqa: F401
from tests.conftest import TEST_CONFIG, ScratchDatabases

NUMBER = "2401234567"


def _member(session: Session, last4: str = "1234") -> Member:
    member = session.scalar(select(Member).where(Member.personal_id_last4 == last4)
                            .execution_options(populate_existing=True))
    assert member is not None
    return member


def test_officers_see_it_masked_and_the_table_holds_no_plaintext(
        app: Flask, client: FlaskClient, office: dict[str, Any],  # noqa: F811
        session: Session) -> None:
    created = client.post("/api/v1/members", json=payload(), headers=office["headers"])
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["insurance_number_masked"] == "******4567"
    assert NUMBER not in created.get_data(as_text=True)
    member_id = created.get_json()["id"]
    shown = client.get(f"/api/v1/members/{member_id}", headers=office["headers"])
    assert NUMBER not in shown.get_data(as_text=True)
    session.commit()
    raw = session.execute(text("SELECT insurance_number_encrypted, insurance_number_hash, "
                               "insurance_number_last4 FROM members WHERE id = :i"),
                          {"i": member_id}).one()
    assert NUMBER.encode() not in bytes(raw[0]) and NUMBER not in raw[1] and raw[2] == "4567"
    assert insurance_number_of(cipher_for_config(app.config), _member(session)) == NUMBER


def test_an_update_changes_or_clears_it(app: Flask, client: FlaskClient,
                                        office: dict[str, Any],  # noqa: F811
                                        session: Session) -> None:
    member_id = client.post("/api/v1/members", json=payload(),
                            headers=office["headers"]).get_json()["id"]
    url = f"/api/v1/members/{member_id}"
    changed = client.patch(url, json={"insurance_number": "2409999999"},
                           headers=office["headers"])
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["insurance_number_masked"] == "******9999"
    cipher = cipher_for_config(app.config)
    assert insurance_number_of(cipher, _member(session)) == "2409999999"
    # another field's change keeps it (the update decrypts and revalidates the whole record)
    assert client.patch(url, json={"phone": "0987654321"},
                        headers=office["headers"]).status_code == 200
    assert insurance_number_of(cipher, _member(session)) == "2409999999"
    cleared = client.patch(url, json={"insurance_number": None}, headers=office["headers"])
    assert cleared.get_json()["insurance_number_masked"] is None
    member = _member(session)
    assert (member.insurance_number_encrypted, member.insurance_number_hash) == (None, None)


@pytest.mark.usefixtures("unions", "sync_jobs")
def test_an_import_writes_it_encrypted_and_compares_it_by_hash(
        app: Flask, client: FlaskClient, factory: Any, session: Session) -> None:
    headers = factory.headers(factory.user("officer", province="24"))
    rows = people(3, QUEVO)
    first = upload(client, headers, to_csv(rows, EN_HEADERS)).get_json()
    assert first["counts"]["created"] == 3
    cipher = cipher_for_config(app.config)
    for row in rows:
        member = _member(session, row["personal_id"][-4:])
        assert insurance_number_of(cipher, member) == row["insurance_number"]
    rows[0]["insurance_number"] = "2400000001"  # changed
    rows[1]["insurance_number"] = ""            # an empty cell keeps the stored number
    second = upload(client, headers, to_csv(rows, EN_HEADERS)).get_json()
    assert (second["counts"]["updated"], second["counts"]["unchanged"]) == (1, 2)
    assert insurance_number_of(cipher, _member(session, rows[0]["personal_id"][-4:])) \
        == "2400000001"
    assert _member(session, rows[1]["personal_id"][-4:]).insurance_number_encrypted is not None


def _insert_plain_member(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO unions (code, name, province_code, employer, "
                              "industrial_park, created_at, updated_at) VALUES ('CDCS-24-X', "
                              "'X', '24', '', '', :t, :t)"), {"t": "2026-01-01"})
            conn.execute(text(
                "INSERT INTO members (province_code, union_code, member_number, full_name, "
                "name_ascii, birth_date, sex, personal_id_encrypted, personal_id_hash, "
                "personal_id_last4, insurance_number, status, status_reason, created_at, "
                "updated_at) VALUES ('24', 'CDCS-24-X', '2400000001', 'A', 'A', :b, 'F', :e, "
                "'h1', '1234', :n, 'active', '', :t, :t)"),
                {"b": date(1990, 1, 1), "e": b"x", "n": NUMBER, "t": "2026-01-01"})
    finally:
        engine.dispose()


def _read(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).one()
    finally:
        engine.dispose()


def test_migration_0013_moves_existing_numbers_both_ways(test_databases: ScratchDatabases,
                                                          app: Flask) -> None:
    url = test_databases.new("ins")
    migrate.upgrade(url, "0012_consents")
    _insert_plain_member(url)
    with pytest.raises(RuntimeError, match="needs the data keys"):
        migrate.upgrade(url)  # values to move, and no keys given
    cipher = cipher_for_config(app.config)
    migrate.upgrade(url, cipher=cipher)
    blob, digest, last4 = _read(url, "SELECT insurance_number_encrypted, insurance_number_hash, "
                                     "insurance_number_last4 FROM members")
    assert NUMBER.encode() not in bytes(blob) and last4 == "4567"
    assert digest == cipher.lookup_hash(NUMBER, INSURANCE_CONTEXT)
    assert cipher.decrypt(bytes(blob), INSURANCE_CONTEXT, digest) == NUMBER
    migrate.downgrade(url, "0012_consents", cipher=cipher)
    assert _read(url, "SELECT insurance_number FROM members") == (NUMBER,)


def test_the_cli_upgrade_hands_the_keys_over(test_databases: ScratchDatabases,
                                             make_app: Any) -> None:
    from tests.conftest import invoke

    url = test_databases.new("inscli")
    migrate.upgrade(url, "0012_consents")
    _insert_plain_member(url)
    result = invoke(make_app({**TEST_CONFIG, "DATABASE_URL": url}), "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert _read(url, "SELECT insurance_number_last4 FROM members") == ("4567",)
