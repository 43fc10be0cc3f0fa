"""A personal ID never stands in full in the import_issues table, whichever column it is in."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.services.registry.imports import mask_personal_ids, mask_value
from tests.app.roster_fixtures import people, to_csv
from tests.app.test_imports import QUEVO, sync_jobs, unions, upload  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("unions", "sync_jobs")


def test_personal_ids_in_other_columns_are_masked_in_the_stored_issues(
        client: FlaskClient, factory: Any, session: Session) -> None:
    officer = factory.user("officer", province="24")
    rows = people(4, QUEVO)
    ids = [row["personal_id"] for row in rows]
    rows[0]["birth_date"] = ids[0]            # a shifted row: the ID in the birth-date column
    rows[1]["insurance_number"] = ids[1]      # in the insurance-number column
    rows[2]["personal_id"] = ids[2] + "9"     # a malformed ID, 13 digits
    response = upload(client, factory.headers(officer), to_csv(rows), dry_run=True)
    assert response.status_code == 202, response.get_data(as_text=True)
    stored = session.execute(text("SELECT value, reason FROM import_issues")).all()
    assert len(stored) >= 3
    raw = repr(stored)
    for pid in ids:
        assert pid not in raw
    assert "********" + ids[0][-4:] in raw and "********" + ids[1][-4:] in raw


def test_masking_keeps_other_numbers() -> None:
    assert mask_personal_ids("'027194001234' is not a date") == "'********1234' is not a date"
    assert mask_personal_ids("+84912345678 0912345678 1234567890") == \
        "+84912345678 0912345678 1234567890"
    assert mask_value("personal_id", "027 194 001 234") == "********1234"
