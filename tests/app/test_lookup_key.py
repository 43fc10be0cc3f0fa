"""Keyed lookup hashes use their own stable key: a data-key rotation breaks no lookup
(regression: after a rotation a known personal ID was not found and could be registered twice)."""

from __future__ import annotations

import base64
import os
from datetime import date
from typing import Any

from sqlalchemy import select

from app.composition import cipher_for_config
from app.extensions import db
from app.models import Card, User
from app.services.issuing.issuance import ACTIVATION_CONTEXT
from tests.conftest import TEST_CONFIG, Factory, make_cccd


def test_rotating_the_data_key_keeps_every_lookup(committed_office: Any, make_app: Any) -> None:
    before = committed_office("rotation")
    session = db.new_session(before)
    officer = session.scalar(select(User).where(User.username == "lan.bn"))
    headers = Factory(before, session).headers(officer)
    session.close()
    pid = make_cccd(date(1990, 4, 2), "F")
    person = {"full_name": "Nguyễn Thị Lan", "birth_date": "1990-04-02", "sex": "F",
              "personal_id": pid, "union_code": "CDCS-24-QUEVO1"}
    created = before.test_client().post("/api/v1/members", json=person, headers=headers)
    assert created.status_code == 201, created.get_json()
    member_id = created.get_json()["id"]
    issued = before.test_client().post(f"/api/v1/members/{member_id}/cards", headers=headers)
    code = issued.get_json()["activation_code"]

    # the rotation as the README says: a new data key, the old one kept for decryption
    new_key = base64.b64encode(os.urandom(32)).decode()
    after = make_app({"DATABASE_URL": before.config["DATABASE_URL"], "DATA_KEY": new_key,
                      "DATA_KEYS_PREVIOUS": TEST_CONFIG["DATA_KEY"]})
    client = after.test_client()
    found = client.get("/api/v1/members", query_string={"personal_id": pid}, headers=headers)
    assert [m["id"] for m in found.get_json()["items"]] == [member_id]
    again = client.post("/api/v1/members", json=person, headers=headers)
    assert again.status_code == 409
    session = db.new_session(after)
    card = session.scalar(select(Card).where(Card.member_id == member_id))
    assert cipher_for_config(after.config).lookup_hash(code, ACTIVATION_CONTEXT) \
        == card.activation_hash
    session.close()


def test_a_database_from_before_the_lookup_key_keeps_its_hashes() -> None:
    from app.config import decode_data_key
    from app.crypto import DataCipher

    # written by the version that derived the hash key from the data key: setting the lookup
    # key to that data key (as the README says) finds the same rows
    old_data_key = decode_data_key(TEST_CONFIG["DATA_KEY"])
    cipher = DataCipher([os.urandom(32)], lookup_key=old_data_key)
    assert cipher.lookup_hash("024194001234", "member.personal_id") == (
        "288e7281282f92eedf0123a7b59a90588daa98311d5fd3333de10bea6d0fac84")
