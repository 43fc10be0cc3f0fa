"""Batch issuance on a real committed database: the CLI, SIGKILL and rerun."""

from __future__ import annotations

import csv
import functools
import io
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from app.models import (
    AuditEntry,
    Card,
    CardStatus,
    Job,
    JobStatus,
    Member,
    MemberStatus,
)
from tests.app.test_batches import pdf_pages
from tests.conftest import invoke, make_cccd, unioncard_env

QUEVO = "CDCS-24-QUEVO1"
YENPHONG = "CDCS-24-YENPHONG"
ROOT = Path(__file__).resolve().parents[2]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hằng", "Khánh", "Lan", "Mạnh", "Ngọc", "Phúc"]


@pytest.fixture
def committed(committed_office: Any, tmp_path: Path) -> Any:
    """An app on its own migrated, committed database with two unions and two officers."""
    return committed_office("batch", CARD_BATCH_DIR=str(tmp_path / "batches"))


def add_members(app: Any, union: str, n: int, start: int = 0,
                status: MemberStatus = MemberStatus.ACTIVE) -> None:
    """Insert members in bulk."""
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services.registry import identity
    from app.services.registry.members import MemberRegistry

    session = db.new_session(app)
    registry = MemberRegistry(session, cipher_for_config(app.config), actor="test")
    rows = []
    for i in range(start, start + n):
        name = f"{FAMILY[i % 8]} Thị {GIVEN[(i // 8) % 10]}"
        birth = date(1980 + i % 20, 1 + i % 12, 1 + i % 28)
        rows.append({"province_code": "24", "union_code": union,
                     "member_number": f"24{i:08d}", "full_name": name,
                     "name_ascii": identity.transliterate(name), "birth_date": birth,
                     "sex": "F", "status": status, "status_reason": "",
                     **registry.personal_id_columns(make_cccd(birth, "F"))})
    session.execute(insert(Member), rows)
    session.commit()
    session.close()


def env_for(app: Any) -> dict[str, str]:
    return unioncard_env(app.config["DATABASE_URL"],
                         CARD_BATCH_DIR=app.config["CARD_BATCH_DIR"])


def _session(app: Any) -> Any:
    from app.extensions import db

    return db.new_session(app)


def check_letters(app: Any, text: str, job_id: str) -> list[dict[str, str]]:
    """Every letter's code opens its card; one letter per live card of the job."""
    from app.composition import cipher_for_config
    from app.services.issuing.issuance import ACTIVATION_CONTEXT

    cipher = cipher_for_config(app.config)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    session = _session(app)
    try:
        cards = {c.serial: c for c in session.scalars(
            select(Card).where(Card.batch_job_id == job_id))}
        assert sorted(r["card_serial"] for r in rows) == sorted(cards)
        for row in rows:
            assert cards[row["card_serial"]].activation_hash == cipher.lookup_hash(
                row["activation_code"], ACTIVATION_CONTEXT)
    finally:
        session.close()
    return rows


def test_cli_issues_for_a_union_end_to_end(committed: Any, tmp_path: Path) -> None:
    app = committed
    add_members(app, QUEVO, 25)
    add_members(app, YENPHONG, 5, start=100)
    done = invoke(app, "cards", "issue", "--here", "--union", QUEVO, "--as", "lan.bn", "--batch-size", "10",
               "--sheet-cards", "20", "--workers", "1")
    assert done.exit_code == 0, done.stderr
    assert "issued 25 cards" in done.stdout and "2 print sheet file(s), 6 A4 pages" \
        in done.stdout, done.stdout
    assert "issuing cards" in done.stderr  # the progress bar
    session = _session(app)
    job = session.scalars(select(Job)).one()
    session.close()
    sheets = sorted((Path(app.config["CARD_BATCH_DIR"]) / job.id).glob("sheet-*.pdf"))
    assert [pdf_pages(p.read_bytes()) for p in sheets] == [4, 2]
    out = tmp_path / "letters.csv"
    got = invoke(app, "cards", "letters", job.id, "--as", "lan.bn", "--out", str(out))
    assert got.exit_code == 0, got.stderr
    assert len(check_letters(app, out.read_text(encoding="utf-8"), job.id)) == 25
    again = invoke(app, "cards", "letters", job.id, "--as", "lan.bn", "--out",
                str(tmp_path / "again.csv"))
    assert again.exit_code == 1 and "downloaded" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1
    other = invoke(app, "cards", "letters", job.id, "--as", "minh.hcm", "--out",
                str(tmp_path / "x.csv"))
    assert other.exit_code == 1 and "No such" in other.stderr


def test_cli_usage_and_scope_errors_are_one_line(committed: Any) -> None:
    app = committed
    for args, fragment in (((), "exactly one"),
                           (("--union", QUEVO, "--province", "24"), "exactly one"),
                           (("--union", "NO-SUCH"), "No such union"),
                           (("--province", "24", "--as", "minh.hcm"), "No such province")):
        if "--as" not in args:
            args = (*args, "--as", "lan.bn")
        result = invoke(app, "cards", "issue", "--here", *args)
        assert result.exit_code in (1, 2), result
        assert fragment in result.stderr and "Traceback" not in result.stderr
    nobody = invoke(app, "cards", "issue", "--here", "--union", QUEVO, "--as", "nobody")
    assert nobody.exit_code == 1 and "No active staff account" in nobody.stderr


@pytest.mark.slow
def test_kill_the_cli_mid_batch_and_rerun(committed: Any, tmp_path: Path) -> None:
    """SIGKILL after a batch is committed; the rerun completes and nobody has two cards."""
    from app.composition import card_desk_for

    app = committed
    add_members(app, QUEVO, 300)
    add_members(app, QUEVO, 4, start=1000, status=MemberStatus.SUSPENDED)
    add_members(app, QUEVO, 3, start=2000, status=MemberStatus.LEFT)
    session = _session(app)
    desk = card_desk_for(app, session, "test")
    carded = list(session.scalars(select(Member).where(
        Member.status == MemberStatus.ACTIVE).order_by(Member.id).limit(3)))
    before = {m.id: desk.issue_for(m).card.serial for m in carded}
    session.commit()

    command = [sys.executable, "-m", "app", "cards", "issue", "--here", "--union", QUEVO, "--as",
               "lan.bn", "--batch-size", "40", "--sheet-cards", "50", "--workers", "2"]
    first = subprocess.Popen(command, cwd=ROOT, env=env_for(app), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
    killed_at = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            checkpoint = session.scalar(select(Job.checkpoint)) or 0
            session.rollback()
            if checkpoint > 0:
                os.killpg(first.pid, signal.SIGKILL)  # the command and its render workers
                killed_at = checkpoint
                break
            time.sleep(0.01)
        first.communicate(timeout=30)
        issued_before_rerun = session.scalar(select(func.count()).select_from(Card)) or 0
        session.rollback()
        assert killed_at > 0 and issued_before_rerun < 300, "finished before the kill"

        second = subprocess.run(command, cwd=ROOT, env=env_for(app), capture_output=True,
                                check=False, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        assert "resumed job" in second.stdout, second.stdout
        session.rollback()
        job = session.scalars(select(Job)).one()
        assert job.status is JobStatus.SUCCEEDED
        assert job.counts["issued"] == 297 and job.counts["skipped"] == 3
        assert job.counts["total"] == job.counts["processed"] == 300
        per_member = dict(session.execute(
            select(Card.member_id, func.count()).where(Card.status != CardStatus.REVOKED)
            .group_by(Card.member_id)).all())
        active = set(session.scalars(select(Member.id).where(
            Member.status == MemberStatus.ACTIVE)))
        assert set(per_member) == active and set(per_member.values()) == {1}
        assert session.scalar(select(func.count()).select_from(Card).where(
            Card.status == CardStatus.REVOKED)) == 0  # nobody was superseded
        for member_id, serial in before.items():  # the earlier cards were kept
            assert session.scalar(select(Card.serial).where(
                Card.member_id == member_id)) == serial
        directory = Path(app.config["CARD_BATCH_DIR"]) / job.id
        sheets = sorted(directory.glob("sheet-*.pdf"))
        assert len(sheets) == 6 and [s["cards"] for s in job.result["sheets"]] == [50] * 5 + [47]
        for path, listed in zip(sheets, job.result["sheets"], strict=True):
            data = path.read_bytes()
            assert data.startswith(b"%PDF") and path.name == listed["file"]
            assert pdf_pages(data) == listed["pages"] == -(-listed["cards"] // 10) * 2
        out = tmp_path / "letters.csv"
        got = invoke(app, "cards", "letters", job.id, "--as", "lan.bn", "--out", str(out))
        assert got.exit_code == 0, got.stderr
        rows = check_letters(app, out.read_text(encoding="utf-8"), job.id)
        assert len(rows) == 297
        assert not list(directory.glob("letters*"))  # the letters left the server
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
        session.close()


def test_codes_lost_between_a_commit_and_its_letters_file_are_replaced(
        committed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after a batch commits but before its letters are written: the rerun gives
    those cards new codes, so the letters file is complete and every code works."""
    from app.composition import card_desk_for, cipher_for_config
    from app.services import jobs
    from app.services.issuing import batches
    from app.services.registry.imports import scope_of_account

    app = committed
    add_members(app, YENPHONG, 30)
    root = Path(app.config["CARD_BATCH_DIR"])
    session = _session(app)
    scope = scope_of_account(session, "lan.bn")
    target = batches.resolve_target(session, scope, union_code=YENPHONG)
    settings = batches.BatchSettings(root=root, batch_size=10, sheet_cards=10, workers=0)
    desks = functools.partial(card_desk_for, app)
    launch = functools.partial(jobs.run, functools.partial(_session, app))

    class Crash(Exception):
        pass

    real = batches.CardBatch._write_letters_part
    calls = 0

    def crash_on_second(self: Any, directory: Path, letters: list[dict[str, Any]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        real(self, directory, letters)

    monkeypatch.setattr(batches.CardBatch, "_write_letters_part", crash_on_second)
    with pytest.raises(Crash):
        batches.start(session, scope, target, settings=settings, desks=desks, launch=launch)
    job = session.scalars(select(Job)).one()
    assert job.status is JobStatus.FAILED and job.checkpoint > 0
    assert job.error == "internal error (Crash)"
    assert session.scalar(select(func.count()).select_from(Card)) == 20
    monkeypatch.setattr(batches.CardBatch, "_write_letters_part", real)

    job, resumed = batches.start(session, scope, target, settings=settings, desks=desks,
                                 launch=launch)
    assert resumed
    session.refresh(job)
    assert job.status is JobStatus.SUCCEEDED and job.counts["issued"] == 30
    regenerated = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "card.activation-code"))
    assert regenerated == 10  # the batch whose letters were lost
    text = batches.take_letters(session, cipher_for_config(app.config), root, job,
                                actor="user:1")
    session.close()
    assert len(check_letters(app, text, job.id)) == 30
