"""The console's roster import pages and the member form's dates through Flask's test client
(issue 22): a file refused as a whole names its columns on the form, a dry run's file imported
for real by a token (once, for its officer only), the report as CSV, and dd/mm/yyyy dates."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.cards_helpers import office
from tests.app.roster_fixtures import people, to_csv
from tests.web.test_console import FORM_TOKEN_RE, TOKEN_RE, sign_in


def _tokens(page: str) -> dict[str, str]:
    csrf, once = TOKEN_RE.search(page), FORM_TOKEN_RE.search(page)
    assert csrf and once, page[:800]
    return {"csrf_token": csrf.group(1), "form_token": once.group(1)}


def _upload(client: FlaskClient, text: str, dry_run: bool = True) -> Any:
    form = _tokens(client.get("/console/imports").get_data(as_text=True))
    return client.post("/console/imports", content_type="multipart/form-data", data={
        **form, "dry_run": "1" if dry_run else "0",
        "file": (io.BytesIO(text.encode("utf-8")), "danh-sach.csv")})


@pytest.fixture
def officer_desk(factory: Any, client: FlaskClient) -> dict[str, Any]:
    """An officer of Bắc Ninh, signed in, with a union and two members."""
    setup = office(factory)
    assert sign_in(client, setup["officer"].username).status_code == 303
    return setup


@pytest.fixture
def sync_jobs(app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))
    return tmp_path / "imports"


def test_a_file_without_required_columns_names_them_on_the_form(
        officer_desk: dict[str, Any], client: FlaskClient, sync_jobs: Path) -> None:
    text = "Họ và tên,Ngày sinh,Mã công đoàn cơ sở\r\nNguyễn Văn An,01/02/1990,CDCS-24-QUEVO1\r\n"
    answer = _upload(client, text, dry_run=False)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Thiếu cột bắt buộc: Giới tính, Số CCCD." in page
    assert 'id="real" name="dry_run" value="0" checked' in page  # the mode chosen, kept
    assert not any(sync_jobs.rglob("*")) or not [p for p in sync_jobs.rglob("*") if p.is_file()]
    client.post("/console/language", data={"lang": "en", **_tokens(
        client.get("/console/imports").get_data(as_text=True))})
    answer = _upload(client, text.replace("Họ và tên", "Họ và tên,Lương", 1))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Unknown columns: “Lương” (column 2)." in page, page


def test_a_dry_run_is_imported_for_real_once_without_the_file(
        officer_desk: dict[str, Any], client: FlaskClient, sync_jobs: Path, factory: Any,
        app: Any) -> None:
    rows = people(6, "CDCS-24-QUEVO1", seed=4401)
    rows[2]["personal_id"] = "12345"
    rows[4]["full_name"] = "=HYPERLINK(1)"
    started = _upload(client, to_csv(rows))
    assert started.status_code == 303
    dry_page = client.get(started.headers["Location"]).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', dry_page)
    assert token, dry_page
    staged = list((sync_jobs / "staged").iterdir())
    assert len(staged) == 1  # the checked file, kept server-side
    # the report as CSV: BOM, the page's language, formulas neutralised
    csv_link = re.search(r'href="([^"]+/report\.csv)"', dry_page)
    assert csv_link
    report = client.get(csv_link.group(1))
    assert report.status_code == 200 and report.mimetype == "text/csv"
    body = report.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0] == ["Dòng", "Cột", "Giá trị", "Mức độ", "Lý do"]
    assert table[1][:2] == ["4", "Số CCCD"] and table[1][4] == "Số CCCD phải có đúng 12 chữ số."
    assert any(r[2] == "'=HYPERLINK(1)" for r in table[1:]), table
    # another officer of the same province cannot use the token
    other = app.test_client()
    sign_in(other, factory.user("officer", "24").username)
    refused = other.post("/console/imports/confirm", data={
        **_tokens(other.get("/console/imports").get_data(as_text=True)), "token": token.group(1)})
    assert refused.status_code == 410
    assert staged[0].exists()
    # the officer imports it: no file sent; the kept file is used once
    form = {**_tokens(dry_page), "token": token.group(1)}
    real = client.post("/console/imports/confirm", data=form)
    assert real.status_code == 303 and real.headers["Location"] != started.headers["Location"]
    assert not staged[0].exists()
    again = client.post("/console/imports/confirm", data=form)  # sent twice: acts once
    assert again.status_code == 303 and again.headers["Location"] == real.headers["Location"]
    done = client.get(real.headers["Location"]).get_data(as_text=True)
    assert re.search(r"<dt>Đoàn viên mới</dt><dd>4</dd>", done), done
    assert "In thẻ của CDCS-24-QUEVO1" in done and "batches/new?union_code=CDCS-24-QUEVO1" in done
    assert 'name="token"' not in client.get(started.headers["Location"]).get_data(as_text=True)
    forged = client.post("/console/imports/confirm", data={
        **_tokens(client.get("/console/imports").get_data(as_text=True)), "token": "x.y.z"})
    assert forged.status_code == 410


def test_member_dates_are_day_first_and_checked_strictly(
        officer_desk: dict[str, Any], client: FlaskClient) -> None:
    member = officer_desk["yen"]
    page = client.get(f"/console/members/{member.id}/edit").get_data(as_text=True)
    assert 'id="birth_date" name="birth_date" type="text" value="12/03/1994"' in page
    assert 'inputmode="numeric"' in page and "dd/mm/yyyy" in page
    form = {**_tokens(page), "full_name": "Nguyễn Thị Kim Yến", "birth_date": "30/02/1994",
            "sex": "F", "union_code": "CDCS-24-QUEVO1", "join_date": "", "phone": "",
            "insurance_number": "", "member_number": "", "personal_id": ""}
    refused = client.post(f"/console/members/{member.id}/edit", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'id="birth_date-error"' in text and "30/02/1994" in text
    assert 'value="30/02/1994"' in text  # what was typed stays
    form = {**form, **_tokens(text), "birth_date": "13/03/1994"}
    assert client.post(f"/console/members/{member.id}/edit", data=form).status_code == 303
    shown = client.get(f"/console/members/{member.id}").get_data(as_text=True)
    assert "13/03/1994" in shown
