"""Backups that restore: a backup taken while members and cards are being written, restored
into a new database and new directories, holds every member, card and audit entry committed
before it started, nothing that was never committed, and every card still verifies."""

from __future__ import annotations

import base64
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Card, Job, Member
from tests.app.test_batches_jobs import (
    FAMILY,
    GIVEN,
    QUEVO,
    YENPHONG,
    add_members,
    check_letters,
)
from tests.conftest import TEST_CONFIG, invoke, make_cccd


def _session(app: Any) -> Any:
    from app.extensions import db

    return db.new_session(app)


def snapshot(app: Any) -> dict[str, set[Any]]:
    """The ids of every member, card and audit entry in the app's database."""
    session = _session(app)
    try:
        return {"members": set(session.scalars(select(Member.id))),
                "cards": set(session.scalars(select(Card.serial))),
                "audit": set(session.scalars(select(AuditEntry.id)))}
    finally:
        session.close()


class Writer(threading.Thread):
    """Keeps adding members and issuing each a card, one transaction each, until stopped."""

    def __init__(self, app: Any) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from app.composition import card_desk_for, cipher_for_config
        from app.services.access.scope import Scope
        from app.services.access.tokens import Principal
        from app.services.registry.members import MemberRegistry

        scope = Scope(Principal("user", 0, "admin"))
        i = 0
        try:
            while not self.stop.is_set():
                session = _session(self.app)
                try:
                    registry = MemberRegistry(session, cipher_for_config(self.app.config),
                                              actor="load")
                    birth = date(1985, 1 + i % 12, 1 + i % 28)
                    member, _ = registry.create(scope, {
                        "union_code": YENPHONG, "full_name": f"Lê Văn {GIVEN[i % 10]} {FAMILY[i // 10 % 8]}",
                        "birth_date": birth, "sex": "M", "personal_id": make_cccd(birth, "M")})
                    card_desk_for(self.app, session, "load").issue_for(member)
                    session.commit()
                finally:
                    session.close()
                self.written += 1
                i += 1
        except BaseException as exc:  # reported by the test
            self.error = exc


def secrets_in_clear() -> list[bytes]:
    """The settings' secrets, as text and as raw key bytes: none may be in a backup."""
    found = [str(TEST_CONFIG[name]).encode() for name in
             ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE")]
    found += [base64.b64decode(str(TEST_CONFIG[name])) for name in ("DATA_KEY", "LOOKUP_KEY")]
    return found


def test_restore_drill_under_write_load(committed_office: Any, test_databases: Any,
                                        make_app: Any, tmp_path: Path) -> None:
    import cards
    from app import clock
    from app.composition import card_desk_for, publisher_for

    app = committed_office("drill", CARD_BATCH_DIR=str(tmp_path / "batches"),
                           IMPORT_DIR=str(tmp_path / "imports"))
    add_members(app, QUEVO, 24)
    issued = invoke(app, "cards", "issue", "--here", "--union", QUEVO, "--as", "lan.bn", "--workers", "0",
                    "--sheet-cards", "10")
    assert issued.exit_code == 0, issued.stderr
    writer = Writer(app)
    writer.start()
    while writer.written < 3 and writer.is_alive():
        time.sleep(0.01)
    before = snapshot(app)
    written_at_start = writer.written
    made = invoke(app, "backup", str(tmp_path / "backup"))
    written_during = writer.written - written_at_start
    while writer.written < written_at_start + written_during + 3 and writer.is_alive():
        time.sleep(0.01)
    writer.stop.set()
    writer.join(timeout=60)
    assert writer.error is None, repr(writer.error)
    assert made.exit_code == 0, made.stderr
    assert "backed up the" in made.stdout
    after = snapshot(app)
    assert after["members"] > before["members"]  # the load went on around the backup

    for path in (tmp_path / "backup").rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert not any(secret in body for secret in secrets_in_clear()), path
            assert path.stat().st_mode & 0o077 == 0, path

    restored = make_app({"DATABASE_URL": test_databases.new("restored"),
                         "CARD_BATCH_DIR": str(tmp_path / "restored-batches"),
                         "IMPORT_DIR": str(tmp_path / "restored-imports")})
    done = invoke(restored, "restore", str(tmp_path / "backup"))
    assert done.exit_code == 0, done.stderr
    got = snapshot(restored)
    for kind in ("members", "cards", "audit"):
        assert before[kind] <= got[kind] <= after[kind], kind
    assert len(got["cards"]) >= 24 + 3

    session = _session(restored)
    try:
        desk = card_desk_for(restored, session, "drill")
        trust = publisher_for(restored, session).live_trust()
        members = set(session.scalars(select(Member.id)))
        for card in session.scalars(select(Card)):
            assert card.member_id in members
            result = cards.verify(desk.text(card), trust, now=clock.now())
            assert result.valid, (card.serial, result.status, result.reason)
        job = session.scalars(select(Job).where(Job.kind == "card-batch")).one()
    finally:
        session.close()
    sheets = sorted(p.name for p in (tmp_path / "batches" / job.id).glob("sheet-*.pdf"))
    assert sheets and sheets == sorted(
        p.name for p in (tmp_path / "restored-batches" / job.id).glob("sheet-*.pdf"))
    letters = invoke(restored, "cards", "letters", job.id, "--as", "lan.bn", "--out",
                     str(tmp_path / "letters.csv"))
    assert letters.exit_code == 0, letters.stderr
    assert len(check_letters(restored, (tmp_path / "letters.csv").read_text("utf-8"),
                             job.id)) == 24

    again = invoke(restored, "restore", str(tmp_path / "backup"))
    assert again.exit_code == 1
    assert "not empty" in again.stderr or "exists" in again.stderr, again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_a_damaged_backup_is_refused(committed_office: Any, test_databases: Any, make_app: Any,
                                     tmp_path: Path) -> None:
    app = committed_office("damaged", CARD_BATCH_DIR=str(tmp_path / "batches"),
                           IMPORT_DIR=str(tmp_path / "imports"))
    assert invoke(app, "backup", str(tmp_path / "backup")).exit_code == 0
    taken = invoke(app, "backup", str(tmp_path / "backup"))
    assert taken.exit_code == 1 and "not an empty directory" in taken.stderr
    database = next(p for p in (tmp_path / "backup").iterdir() if p.name.startswith("database"))
    body = bytearray(database.read_bytes())
    body[len(body) // 2] ^= 0xFF
    database.write_bytes(bytes(body))
    restored = make_app({"DATABASE_URL": test_databases.new("damaged-restore"),
                         "CARD_BATCH_DIR": str(tmp_path / "r-batches"),
                         "IMPORT_DIR": str(tmp_path / "r-imports")})
    refused = invoke(restored, "restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1 and "damaged" in refused.stderr, refused.stderr
    assert invoke(restored, "restore", str(tmp_path)).exit_code == 1  # no manifest


@pytest.mark.slow
def test_backup_and_restore_commands_in_a_subprocess(committed_office: Any,
                                                     test_databases: Any,
                                                     tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import unioncard_env

    app = committed_office("backup-e2e", CARD_BATCH_DIR=str(tmp_path / "batches"))
    add_members(app, QUEVO, 3)
    env = unioncard_env(app.config["DATABASE_URL"], CARD_BATCH_DIR=str(tmp_path / "batches"),
                        IMPORT_DIR=str(tmp_path / "imports"))
    done = subprocess.run([sys.executable, "-m", "app", "backup", str(tmp_path / "bk")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    target = test_databases.new("backup-e2e-restored")
    env = {**env, "UNIONCARD_DATABASE_URL": target,
           "UNIONCARD_CARD_BATCH_DIR": str(tmp_path / "rb")}
    done = subprocess.run([sys.executable, "-m", "app", "restore", str(tmp_path / "bk")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "restored the" in done.stdout
