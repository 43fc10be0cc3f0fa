"""Batch issuance through the API: 202 + job, counts, sheets, one-time letters, scope."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Card, CardStatus, MemberStatus

pytestmark = pytest.mark.usefixtures("sync_batches")


@pytest.fixture
def sync_batches(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "CARD_BATCH_WORKERS", 0)
    monkeypatch.setitem(app.config, "CARD_BATCH_SIZE", 4)
    monkeypatch.setitem(app.config, "CARD_BATCH_SHEET_CARDS", 10)
    monkeypatch.setitem(app.config, "CARD_BATCH_DIR", str(tmp_path / "batches"))


NAMES = ["Trần Thị Bích", "Lê Văn Đức", "Nguyễn Thị Kim Yến", "Phạm Minh Châu", "Hoàng Văn Dũng",
         "Vũ Thị Hằng", "Đặng Quốc Khánh", "Bùi Thị Lan", "Đỗ Văn Mạnh", "Ngô Thị Ngọc",
         "Dương Văn Phúc", "Lý Thị Quyên"]


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF written by fpdf (page objects are uncompressed)."""
    return len(re.findall(rb"/Type /Page\b", data))


def letters(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def live_cards(session: Session, member_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Card).where(
        Card.member_id == member_id, Card.status != CardStatus.REVOKED)) or 0


def test_union_batch_issues_to_every_active_member_without_a_card(
        client: FlaskClient, factory: Any, session: Session, app: Flask) -> None:
    from app.composition import cipher_for_config
    from app.services.issuing.issuance import ACTIVATION_CONTEXT

    union = factory.union()
    other = factory.union()
    members = [factory.member(union, full_name=NAMES[n]) for n in range(12)]
    outsider = factory.member(other)
    officer = factory.user(province="24")
    headers = factory.headers(officer)
    # one member already has a card; one is suspended; one has left
    first = client.post(f"/api/v1/members/{members[0].id}/cards", headers=headers)
    assert first.status_code == 201, first.get_json()
    members[1].status = MemberStatus.SUSPENDED
    members[2].status = MemberStatus.LEFT
    session.commit()

    response = client.post("/api/v1/card-batches", json={"union_code": union.code},
                           headers=headers)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "card-batch" and job["status"] == "succeeded"
    assert job["counts"] == {"total": 10, "processed": 10, "issued": 9, "skipped": 1,
                             "failed": 0}
    assert job["target"] == {"province_code": "24", "union_code": union.code}
    status = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).get_json()
    assert status["status"] == "succeeded" and status["counts"]["issued"] == 9

    session.expire_all()
    for member in members[3:]:
        assert live_cards(session, member.id) == 1
    assert live_cards(session, members[0].id) == 1  # kept its card, not superseded
    assert live_cards(session, members[1].id) == live_cards(session, members[2].id) == 0
    assert live_cards(session, outsider.id) == 0

    listing = client.get(f"/api/v1/card-batches/{job['id']}/sheets", headers=headers)
    assert listing.status_code == 200
    items = listing.get_json()["items"]
    assert [(s["number"], s["cards"], s["pages"]) for s in items] == [(1, 9, 2)]
    pdf = client.get(items[0]["href"], headers=headers)
    data = pdf.get_data()
    pdf.close()
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert data.startswith(b"%PDF") and pdf_pages(data) == 2
    assert client.get(f"/api/v1/card-batches/{job['id']}/sheets/2.pdf",
                      headers=headers).status_code == 404

    download = client.get(f"/api/v1/card-batches/{job['id']}/letters.csv", headers=headers)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = letters(download.get_data(as_text=True))
    assert {r["member_number"] for r in rows} == {m.member_number for m in members[3:]}
    cipher = cipher_for_config(app.config)
    for row in rows:
        card = session.scalar(select(Card).where(Card.serial == row["card_serial"]))
        assert card is not None and card.batch_job_id == job["id"]
        assert card.activation_hash == cipher.lookup_hash(row["activation_code"],
                                                          ACTIVATION_CONTEXT)
    again = client.get(f"/api/v1/card-batches/{job['id']}/letters.csv", headers=headers)
    assert again.status_code == 410
    assert again.get_json()["type"] == "/problems/letters-gone"

    rerun = client.post("/api/v1/card-batches", json={"union_code": union.code},
                        headers=headers).get_json()
    assert rerun["id"] != job["id"]
    assert rerun["counts"]["issued"] == 0 and rerun["counts"]["skipped"] == 10
    assert rerun["letters"] is None


def test_province_batch_spans_unions_and_makes_several_sheets(
        client: FlaskClient, factory: Any, session: Session) -> None:
    unions = [factory.union(), factory.union()]
    for n in range(23):
        factory.member(unions[n % 2], full_name=NAMES[n % 12])
    admin = factory.user(role="admin")
    headers = factory.headers(admin)
    job = client.post("/api/v1/card-batches", json={"province_code": "24"},
                      headers=headers).get_json()
    assert job["status"] == "succeeded" and job["counts"]["issued"] >= 23
    sheets = client.get(f"/api/v1/card-batches/{job['id']}/sheets",
                        headers=headers).get_json()["items"]
    issued = job["counts"]["issued"]
    assert sum(s["cards"] for s in sheets) == issued
    assert all(s["cards"] == 10 for s in sheets[:-1])
    for sheet in sheets:
        response = client.get(sheet["href"], headers=headers)
        data = response.get_data()
        response.close()
        assert pdf_pages(data) == -(-sheet["cards"] // 10) * 2


def test_batches_are_invisible_outside_their_scope(
        client: FlaskClient, factory: Any) -> None:
    union = factory.union(province="24")
    factory.member(union)
    mine = factory.headers(factory.user(province="24"))
    theirs = factory.headers(factory.user(province="79"))
    other_union = factory.headers(factory.user(province="24", union=factory.union().code))
    job = client.post("/api/v1/card-batches", json={"union_code": union.code},
                      headers=mine).get_json()
    for headers in (theirs, other_union):
        for path in ("", "/sheets", "/sheets/1.pdf", "/letters.csv"):
            response = client.get(f"/api/v1/card-batches/{job['id']}{path}", headers=headers)
            assert response.status_code == 404, path
        assert client.get(f"/api/v1/jobs/{job['id']}", headers=headers).status_code == 404
        assert client.post("/api/v1/card-batches", json={"union_code": union.code},
                           headers=headers).status_code == 404
    assert client.post("/api/v1/card-batches", json={"province_code": "24"},
                       headers=theirs).status_code == 404
    assert client.post("/api/v1/card-batches", json={"province_code": "24"},
                       headers=other_union).status_code == 404
    assert client.get(f"/api/v1/card-batches/{job['id']}/letters.csv",
                      headers=mine).status_code == 200


def test_start_needs_exactly_one_target_and_staff(client: FlaskClient, factory: Any) -> None:
    headers = factory.headers(factory.user(province="24"))
    for body in ({}, {"union_code": "X", "province_code": "24"}, {"province_code": "ab"}):
        response = client.post("/api/v1/card-batches", json=body, headers=headers)
        assert response.status_code == 422, body
    assert client.post("/api/v1/card-batches", json={"union_code": "NO-SUCH"},
                       headers=headers).status_code == 404
    assert client.post("/api/v1/card-batches", json={"province_code": "24"}).status_code == 401


def test_write_sheet_lays_out_the_cards_as_vectors(tmp_path: Path) -> None:
    """The pool task writes the sheet PDF: fronts and backs, text and QR drawn, no images."""
    from datetime import date

    from cards.printing import CardFace, write_sheet

    face = CardFace(name="Nguyễn Thị Kim Yến", birth_date=date(1994, 3, 14),
                    member_number="24000001", union_name="CĐCS Quế Võ",
                    province_name="Bắc Ninh", valid_from=date(2026, 1, 1),
                    valid_until=date(2030, 12, 31), serial="ABCDEFGH12345678",
                    issuer_name="Tổng Liên đoàn Lao động Việt Nam", qr_text="UC1:ABC123",
                    sex="F")
    written = write_sheet(str(tmp_path / "sheet.pdf"), [face] * 11)
    data = (tmp_path / "sheet.pdf").read_bytes()
    assert (written.cards, written.pages, written.size) == (11, 4, len(data))
    assert pdf_pages(data) == 4
    assert b"/Subtype /Image" not in data and b"/FontFile2" in data
    assert write_sheet(str(tmp_path / "one.pdf"), [face]).pages == 2
    with pytest.raises(ValueError):
        write_sheet(str(tmp_path / "none.pdf"), [])
    assert not (tmp_path / "none.pdf").exists()
