"""Roster imports through the API and the service: dry-run reports, upserts, scope, limits."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Job, Member, Union
from app.services.registry.members import ELSEWHERE_DETAIL
from tests.app.roster_fixtures import EN_HEADERS, people, to_csv

PROBLEM = "application/problem+json"
QUEVO = "CDCS-24-QUEVO1"
YENPHONG = "CDCS-24-YENPHONG"
TANTHUAN = "CDCS-79-TANTHUAN"


@pytest.fixture
def unions(session: Session) -> None:
    for code, name, province in [(QUEVO, "CĐCS Công ty Quế Võ 1", "24"),
                                 (YENPHONG, "CĐCS Công ty Yên Phong", "24"),
                                 (TANTHUAN, "CĐCS Công ty Tân Thuận", "79")]:
        session.add(Union(code=code, name=name, province_code=province))
    session.commit()


@pytest.fixture
def sync_jobs(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))


def upload(client: FlaskClient, headers: dict[str, str], data: bytes | str,
           name: str = "roster.csv", dry_run: bool = False) -> Any:
    body = data.encode("utf-8") if isinstance(data, str) else data
    form = {"file": (io.BytesIO(body), name)}
    if dry_run:
        form["dry_run"] = "true"
    return client.post("/api/v1/imports", data=form, headers=headers,
                       content_type="multipart/form-data")


def count_members(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Member)) or 0


pytestmark = pytest.mark.usefixtures("unions", "sync_jobs")


def test_dry_run_reports_rows_columns_values_and_reasons_and_writes_nothing(
        client: FlaskClient, factory: Any, session: Session) -> None:
    officer = factory.user("officer", province="24")
    rows = people(6, QUEVO)
    rows[1]["birth_date"] = "31/02/1990"                 # row 3: impossible date
    rows[2]["personal_id"] = rows[0]["personal_id"]      # row 4: duplicate in the file
    rows[3]["union_code"] = TANTHUAN                     # row 5: another province
    rows[4]["phone"] = "12345"                           # row 6: bad phone
    response = upload(client, factory.headers(officer), to_csv(rows), dry_run=True)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "succeeded" and job["dry_run"] is True
    assert job["counts"] == {"total": 6, "processed": 6, "created": 2, "updated": 0,
                             "unchanged": 0, "errors": 4, "warnings": 0}
    assert count_members(session) == 0

    report = client.get(f"/api/v1/jobs/{job['id']}/report",
                        headers=factory.headers(officer)).get_json()
    masked_dup = "********" + rows[0]["personal_id"][-4:]
    lines = [(i["row"], i["column"], i["value"], i["severity"], i["reason"])
             for i in report["items"]]
    assert (3, "Ngày sinh", "31/02/1990", "error", "'31/02/1990' is not a real date.") in lines
    assert (4, "Số CCCD", masked_dup, "error",
            "The same personal ID appears on an earlier row of this file.") in lines
    assert (5, "Mã công đoàn cơ sở", TANTHUAN, "error",
            f"No union {TANTHUAN} in your scope.") in lines
    assert [line[:3] for line in lines if line[0] == 6] == [(6, "Số điện thoại", "12345")]
    assert report["total"] == len(lines) and {line[0] for line in lines} == {3, 4, 5, 6}
    assert all(rows[0]["personal_id"] not in str(line) for line in lines)

    response = client.get(f"/api/v1/jobs/{job['id']}/report.csv",
                          headers=factory.headers(officer))
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    response.close()
    assert text.startswith("\ufeffrow,column,value,severity,reason\r\n")
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed[1:] == [[str(a), b, c, d, e] for a, b, c, d, e in lines]
    audit = session.scalar(select(AuditEntry).where(AuditEntry.object_id == job["id"]))
    assert audit is not None and audit.action == "roster.check"


def test_import_creates_then_updates_and_counts_unchanged(
        client: FlaskClient, factory: Any, session: Session) -> None:
    officer = factory.user("officer", province="24")
    headers = factory.headers(officer)
    rows = people(5, QUEVO)
    rows[0]["member_number"] = "24-BN-0001"
    first = upload(client, headers, to_csv(rows, EN_HEADERS)).get_json()
    assert first["counts"]["created"] == 5 and first["status"] == "succeeded"
    assert first["summary"].startswith("5 rows: created 5, updated 0, unchanged 0")
    members = session.scalars(select(Member).order_by(Member.id)).all()
    assert [m.member_number for m in members][0] == "24-BN-0001"
    assert all(m.member_number.startswith("24") and len(m.member_number) == 10
               for m in members[1:])
    assert len({m.member_number for m in members}) == 5
    assert all(m.province_code == "24" and m.union_code == QUEVO for m in members)
    assert members[0].personal_id_last4 == rows[0]["personal_id"][-4:]

    rows[1]["phone"] = "0987654321"            # changed
    rows[2]["union_code"] = YENPHONG           # moved within the province
    rows[3]["phone"] = ""                      # empty cell: keeps the stored phone
    rows.append(people(7, QUEVO, seed=99)[6])  # a new member
    second = upload(client, headers, to_csv(rows)).get_json()
    assert second["counts"] == {"total": 6, "processed": 6, "created": 1, "updated": 2,
                                "unchanged": 3, "errors": 0, "warnings": 0}
    session.expire_all()
    by_last4 = {m.personal_id_last4: m for m in session.scalars(select(Member))}
    assert by_last4[rows[1]["personal_id"][-4:]].phone == "+84987654321"
    assert by_last4[rows[2]["personal_id"][-4:]].union_code == YENPHONG
    assert by_last4[rows[3]["personal_id"][-4:]].phone is not None
    assert count_members(session) == 6
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "job")).all()
    assert actions.count("roster.import") == 2  # one entry per job, not per row


def test_rows_outside_scope_are_reported_never_written(
        client: FlaskClient, factory: Any, session: Session) -> None:
    hcm = factory.user("officer", province="79")
    bn = factory.user("officer", province="24")
    theirs = people(2, TANTHUAN, seed=3)
    upload(client, factory.headers(hcm), to_csv(theirs))
    before = {m.id: (m.union_code, m.full_name) for m in session.scalars(select(Member))}
    rows = people(2, QUEVO, seed=5)
    rows[0]["union_code"] = TANTHUAN                      # a union of another province
    rows[1]["personal_id"] = theirs[0]["personal_id"]     # registered by another office
    rows[1]["birth_date"], rows[1]["sex"] = theirs[0]["birth_date"], theirs[0]["sex"]
    job = upload(client, factory.headers(bn), to_csv(rows)).get_json()
    assert job["counts"]["errors"] == 2 and job["counts"]["created"] == 0
    report = client.get(f"/api/v1/jobs/{job['id']}/report",
                        headers=factory.headers(bn)).get_json()["items"]
    reasons = {(i["row"], i["reason"]) for i in report}
    assert (2, f"No union {TANTHUAN} in your scope.") in reasons
    assert (3, ELSEWHERE_DETAIL) in reasons
    session.expire_all()
    assert {m.id: (m.union_code, m.full_name) for m in session.scalars(select(Member))} == before


def test_union_scoped_officer_cannot_import_into_another_union(
        client: FlaskClient, factory: Any) -> None:
    officer = factory.user("officer", province="24", union=QUEVO)
    rows = people(2, QUEVO)
    rows[1]["union_code"] = YENPHONG
    job = upload(client, factory.headers(officer), to_csv(rows)).get_json()
    assert (job["counts"]["created"], job["counts"]["errors"]) == (1, 1)


def test_job_is_invisible_outside_its_scope(client: FlaskClient, factory: Any) -> None:
    bn = factory.user("officer", province="24")
    job = upload(client, factory.headers(bn), to_csv(people(1, QUEVO))).get_json()
    hcm = factory.user("officer", province="79")
    for path in ("", "/report", "/report.csv"):
        response = client.get(f"/api/v1/jobs/{job['id']}{path}", headers=factory.headers(hcm))
        assert response.status_code == 404 and response.mimetype == PROBLEM
    other_bn = factory.user("officer", province="24")
    assert client.get(f"/api/v1/jobs/{job['id']}",
                      headers=factory.headers(other_bn)).status_code == 200
    admin = factory.user("admin")
    assert client.get(f"/api/v1/jobs/{job['id']}",
                      headers=factory.headers(admin)).status_code == 200
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 401
    assert client.get("/api/v1/jobs/nope", headers=factory.headers(bn)).status_code == 404


def test_admin_imports_with_national_scope(client: FlaskClient, factory: Any,
                                           session: Session) -> None:
    admin = factory.user("admin")
    rows = people(2, QUEVO) + people(3, TANTHUAN, seed=11)[2:]
    job = upload(client, factory.headers(admin), to_csv(rows)).get_json()
    assert job["counts"]["created"] == 3
    assert sorted(session.scalars(select(Member.province_code))) == ["24", "24", "79"]


def test_xlsx_upload(client: FlaskClient, factory: Any, tmp_path: Any) -> None:
    import openpyxl

    from tests.app.roster_fixtures import VI_HEADERS

    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(VI_HEADERS)
    for row in people(4, QUEVO):
        ws.append([row[f] for f in EN_HEADERS])
    wb.save(path)
    wb.close()
    officer = factory.user("officer", province="24")
    response = upload(client, factory.headers(officer), path.read_bytes(), name="r.xlsx")
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["counts"]["created"] == 4


def test_xlsx_whose_dimension_understates_its_rows_imports_every_row(
        client: FlaskClient, factory: Any, session: Session, tmp_path: Any) -> None:
    import zipfile

    from tests.app.test_roster_hostile import rewrite, workbook

    real = workbook(tmp_path / "real.xlsx", 8)
    with zipfile.ZipFile(real) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    lying = rewrite(real, tmp_path / "lying.xlsx", {
        "xl/worksheets/sheet1.xml": sheet.replace(b'ref="A1:I9"', b'ref="A1:E2"')})
    officer = factory.user("officer", province="24")
    response = upload(client, factory.headers(officer), lying.read_bytes(), name="r.xlsx")
    assert response.status_code == 202, response.get_data(as_text=True)
    job = response.get_json()
    assert job["status"] == "succeeded"
    assert job["counts"]["created"] == 8 and job["counts"]["total"] == 8
    assert count_members(session) == 8


@pytest.mark.parametrize(("data", "config", "message"), [
    ("a,b\n1,2\n", {}, "Unknown column"),
    ("Họ và tên,Ngày sinh\nA,01/01/1990\n", {}, "Missing required column"),
    (to_csv(people(30, QUEVO)), {"IMPORT_MAX_BYTES": 500}, "larger than 500 bytes"),
    (to_csv(people(30, QUEVO)), {"IMPORT_MAX_ROWS": 10}, "more than 10 rows"),
    (to_csv(people(3, QUEVO)).encode("cp1258", "replace"), {}, "not valid UTF-8"),
    ("", {}, "empty"),
])
def test_file_level_errors_are_problems_and_write_nothing(
        client: FlaskClient, factory: Any, session: Session, app: Flask,
        monkeypatch: pytest.MonkeyPatch, data: Any, config: dict[str, Any],
        message: str) -> None:
    for key, value in config.items():
        monkeypatch.setitem(app.config, key, value)
    officer = factory.user("officer", province="24")
    response = upload(client, factory.headers(officer), data)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == "/problems/roster-invalid" and message in body["detail"]
    assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert count_members(session) == 0


def test_upload_needs_multipart_a_file_and_an_officer(client: FlaskClient,
                                                      factory: Any) -> None:
    officer = factory.user("officer", province="24")
    headers = factory.headers(officer)
    response = client.post("/api/v1/imports", data="x", headers=headers,
                           content_type="text/csv")
    assert response.status_code == 415
    response = client.post("/api/v1/imports", data={"dry_run": "true"}, headers=headers,
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "file"
    response = client.post("/api/v1/imports", data={"file": (io.BytesIO(b"x"), "r.csv"),
                                                     "dry_run": "maybe"},
                           headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422
    assert client.post("/api/v1/imports", data={"file": (io.BytesIO(b"x"), "r.csv")},
                       content_type="multipart/form-data").status_code == 401


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["roster-template.csv", "roster-template.xlsx"])
def test_documented_templates_have_every_column(name: str) -> None:
    from app.services.registry.roster import RosterInvalid, open_roster

    with pytest.raises(RosterInvalid, match="no data rows"):  # headers accepted, no rows yet
        open_roster(ROOT / "docs" / name)


@pytest.mark.parametrize(("role", "created", "errors"), [("admin", 30, 3), ("officer", 22, 11)])
def test_the_shipped_sample_roster(client: FlaskClient, factory: Any, role: str,
                                   created: int, errors: int) -> None:
    user = factory.user(role, province="24")
    data = (ROOT / "samples" / "roster-bac-ninh.csv").read_bytes()
    job = upload(client, factory.headers(user), data, name="roster-bac-ninh.csv").get_json()
    assert (job["counts"]["created"], job["counts"]["errors"]) == (created, errors)
    report = client.get(f"/api/v1/jobs/{job['id']}/report",
                        headers=factory.headers(user)).get_json()["items"]
    invalid = {(i["row"], i["column"]) for i in report if i["row"] in (29, 30, 31)}
    assert invalid == {(29, "Số CCCD"), (30, "Ngày sinh"), (31, "Số CCCD")}


def test_numbers_of_another_province_are_reported_rows(
        client: FlaskClient, factory: Any, session: Session) -> None:
    hcm = factory.user("officer", province="79")
    rows = people(2, TANTHUAN, seed=11)
    rows[0]["member_number"] = "2400000001"
    job = upload(client, factory.headers(hcm), to_csv(rows, EN_HEADERS)).get_json()
    assert job["status"] == "succeeded"
    assert (job["counts"]["created"], job["counts"]["errors"]) == (1, 1)
    report = client.get(f"/api/v1/jobs/{job['id']}/report", headers=factory.headers(hcm))
    assert [(i["row"], i["column"]) for i in report.get_json()["items"]] == [
        (2, "member_number")]
    # Bắc Ninh's own automatic numbering is untouched, also past a number taken by hand
    bn = factory.headers(factory.user("officer", province="24"))
    given = people(1, QUEVO, seed=12)
    given[0]["member_number"] = "2400000002"
    assert upload(client, bn, to_csv(given, EN_HEADERS)).get_json()["counts"]["created"] == 1
    job = upload(client, bn, to_csv(people(3, QUEVO, seed=13), EN_HEADERS)).get_json()
    assert (job["status"], job["counts"]["created"]) == ("succeeded", 3)
    numbers = sorted(session.scalars(select(Member.member_number)
                                     .where(Member.province_code == "24")))
    assert numbers == ["2400000001", "2400000002", "2400000003", "2400000004"]


def test_a_dry_run_is_no_bulk_lookup_of_other_offices(
        client: FlaskClient, factory: Any, session: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services.registry import members

    monkeypatch.setattr(members, "ELSEWHERE_PER_HOUR", 2)
    hcm = factory.user("officer", province="79")
    theirs = people(3, TANTHUAN, seed=21)
    upload(client, factory.headers(hcm), to_csv(theirs))
    bn = factory.user("officer", province="24")
    rows = people(4, QUEVO, seed=22)
    for row, other in zip(rows[:3], theirs, strict=True):
        row.update(personal_id=other["personal_id"], birth_date=other["birth_date"],
                   sex=other["sex"])
    job = upload(client, factory.headers(bn), to_csv(rows), dry_run=True).get_json()
    assert job["counts"]["errors"] == 4
    report = client.get(f"/api/v1/jobs/{job['id']}/report",
                        headers=factory.headers(bn)).get_json()["items"]
    reasons = [(i["row"], i["reason"]) for i in report]
    # two run-ins are answered (without saying where); after the limit no row is checked,
    # not even the last one, which nobody holds
    assert reasons == [(2, ELSEWHERE_DETAIL), (3, ELSEWHERE_DETAIL),
                       (4, members.ELSEWHERE_LIMIT), (5, members.ELSEWHERE_LIMIT)]
    assert not any("79" in r or TANTHUAN in r for _, r in reasons)
    audited = session.scalars(select(AuditEntry.province_code).where(
        AuditEntry.action == members.ELSEWHERE_ACTION)).all()
    assert audited == ["79", "79"]


def test_workbooks_read_at_once_are_bounded_and_a_busy_upload_is_503(
        client: FlaskClient, factory: Any, tmp_path: Any) -> None:
    """Each open workbook holds its shared strings in memory: at most XLSX_AT_ONCE are read at
    once in a process; one more upload is a 503 with Retry-After (CSV is not limited), and a
    slot comes free when a workbook is closed."""
    from app.services.registry import roster as roster_module
    from tests.app.test_roster_hostile import workbook

    book = workbook(tmp_path / "held.xlsx", 2)
    officer = factory.user("officer", province="24")
    headers = factory.headers(officer)
    held = [roster_module.open_roster(book) for _ in range(roster_module.XLSX_AT_ONCE)]
    try:
        busy = upload(client, headers, book.read_bytes(), name="r.xlsx", dry_run=True)
        assert busy.status_code == 503, busy.get_data(as_text=True)
        assert busy.mimetype == "application/problem+json"
        assert busy.get_json()["type"] == "/problems/rosters-busy"
        assert busy.headers["Retry-After"] == str(roster_module.XLSX_RETRY_AFTER)
        csv_upload = upload(client, headers, to_csv(people(2, QUEVO)), dry_run=True)
        assert csv_upload.status_code == 202, csv_upload.get_data(as_text=True)
    finally:
        for opened in held:
            opened.close()
    again = upload(client, headers, book.read_bytes(), name="r.xlsx", dry_run=True)
    assert again.status_code == 202, again.get_data(as_text=True)
    with pytest.raises(Exception) as waited:  # a job waits a bounded time for its turn
        held = [roster_module.open_roster(book) for _ in range(roster_module.XLSX_AT_ONCE)]
        try:
            roster_module.open_roster(book, wait_seconds=0.05)
        finally:
            for opened in held:
                opened.close()
    assert type(waited.value).__name__ == "RostersBusy"
