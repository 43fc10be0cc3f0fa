"""Batch issuance: a resumable job issuing cards to a union's or province's active members,
with A4 print sheets and an encrypted, download-once file of activation letters.

Idempotence comes from the selection: each batch takes the next active members in scope that
have no live (active or suspended) card, re-checks them under a row lock, issues, and commits
the cards together with the job's checkpoint (the last member id done). A kill loses at most the
uncommitted batch; a rerun picks up whoever still has no card, so nobody gets a second card.

Print sheets are files ``sheet-0001.pdf``...: sheet k holds this job's cards k*N..(k+1)*N-1 in
card-id order, so a sheet missing after a kill is rebuilt identically. Complete sheets are built
by a process pool while the next batch is issued; the last, partial one is always rebuilt.

Activation codes are shown once. After each commit the batch's codes go to an encrypted part
file; at the end the parts become one encrypted ``letters.csv.enc``. A code lost to a kill between
a commit and its part file cannot be recovered (only its hash is stored), so such cards get a
new code (as ``CardDesk.new_activation_code`` does; the lost code never reached anyone).
"""

from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import Card, CardStatus, Job, Member, MemberStatus, Province, Union
from app.services import audit, jobs
from app.services.access.scope import Scope
from app.services.csv_out import CsvOut
from app.services.errors import DomainError, LettersGone, NotFound, ValidationFailed
from app.services.issuing.issuance import CardDesk
from cards.errors import CardError
from cards.printing import CardFace, SheetFile, write_atomically, write_sheet

KIND = "card-batch"
COUNT_KEYS = ("total", "processed", "issued", "skipped", "failed")
#: Render workers are replaced after this many sheets, so their heaps cannot creep up.
TASKS_PER_WORKER = 20
LETTERS_CONTEXT = "batch.letters"
LETTERS_FILE = "letters.csv.enc"
LETTER_COLUMNS = ("member_number", "full_name", "union_code", "union_name", "card_serial",
                  "activation_code")
MAX_FAILURES_LISTED = 100
LIVE = (CardStatus.ACTIVE, CardStatus.SUSPENDED)
ProgressCallback = Callable[[Job], None]
#: A card desk for a session, acting for an actor (``user:7``).
DeskFactory = Callable[[Session, str], CardDesk]

@dataclass(frozen=True)
class BatchSettings:
    """How card batches run: where their files live, members per transaction, cards per print
    sheet (10 per A4 page pair), and render processes (0: in the running process)."""

    root: Path
    batch_size: int
    sheet_cards: int
    workers: int


@dataclass(frozen=True)
class Target:
    """The members a batch covers: a province, or one grassroots union."""

    province_code: str
    union_code: str | None = None

    @property
    def fingerprint(self) -> str:
        """What identifies "the same batch" for resuming."""
        return f"{self.province_code}:{self.union_code or '*'}"

    def label(self) -> str:
        """For messages: ``union CD-24-001`` or ``province 24``."""
        return f"union {self.union_code}" if self.union_code else f"province {self.province_code}"


def resolve_target(session: Session, scope: Scope, *, union_code: str | None = None,
                   province_code: str | None = None) -> Target:
    """The batch target named by exactly one of a union or a province code, within scope.

    Raises:
        ValidationFailed: neither or both given. NotFound: unknown or outside the scope.
    """
    if bool(union_code) == bool(province_code):
        raise ValidationFailed("Give either a union code or a province code.", errors=[{
            "location": "json", "field": "union_code", "pointer": "#/union_code",
            "detail": "Exactly one of union_code and province_code."}])
    if union_code:
        union = session.scalar(select(Union).where(Union.code == union_code.strip().upper()))
        if union is None:
            raise NotFound("No such union.")
        scope.ensure(union.province_code, union.code, "union")
        return Target(union.province_code, union.code)
    code = str(province_code).strip()
    if session.get(Province, code) is None:
        raise NotFound("No such province.")
    scope.ensure(code, None, "province")
    return Target(code)


def _in_target(target: Target) -> list[Any]:
    clauses = [Member.province_code == target.province_code,
               Member.status == MemberStatus.ACTIVE]
    if target.union_code:
        clauses.append(Member.union_code == target.union_code)
    return clauses


def _has_live_card() -> Any:
    return exists().where(Card.member_id == Member.id, Card.status.in_(LIVE))


def start_or_resume(session: Session, scope: Scope, target: Target, *, batch_size: int,
                    sheet_cards: int) -> tuple[Job, bool]:
    """The caller's unfinished batch for this target, or a new one (committed); (job, resumed).

    Raises:
        JobBusy: the same batch is running in another live process.
    """
    return jobs.retry_busy(session, lambda: _start_or_resume(
        session, scope, target, batch_size, sheet_cards))


def _start_or_resume(session: Session, scope: Scope, target: Target, batch_size: int,
                     sheet_cards: int) -> tuple[Job, bool]:
    subject = scope.principal.subject
    job = jobs.find_resumable(session, kind=KIND, created_by=subject,
                              fingerprint=target.fingerprint)
    if job is not None:
        jobs.ensure_idle(job)
        return job, True
    total = session.scalar(select(func.count()).select_from(Member)
                           .where(*_in_target(target))) or 0
    carded = session.scalar(select(func.count()).select_from(Member)
                            .where(*_in_target(target), _has_live_card())) or 0
    job = jobs.create(session, kind=KIND, created_by=subject,
                      province_code=target.province_code, union_code=target.union_code,
                      counts={"total": total, "processed": carded, "issued": 0,
                              "skipped": carded, "failed": 0},
                      params={"fingerprint": target.fingerprint,
                              "province_code": target.province_code,
                              "union_code": target.union_code, "batch_size": batch_size,
                              "sheet_cards": sheet_cards, "role": scope.principal.role})
    session.commit()
    return job, False


def target_of(job: Job) -> Target:
    """The target a batch job was started for."""
    return Target(str(job.params["province_code"]), job.params.get("union_code"))


def summary_line(job: Job) -> str:
    """One line: what the batch did."""
    c = job.counts
    sheets = job.result.get("sheets", [])
    return (f"{c.get('total', 0)} active members: issued {c.get('issued', 0)} cards, skipped "
            f"{c.get('skipped', 0)} with a card, {c.get('failed', 0)} failed; "
            f"{len(sheets)} print sheet file(s), "
            f"{sum(int(s['pages']) for s in sheets)} A4 pages")


class CardBatch:
    """Runs one batch job: issue in committed batches, print sheets, activation letters."""

    def __init__(self, desk: CardDesk, scope: Scope, root: Path, *, workers: int) -> None:
        self.desk = desk
        self.session = desk.session
        self.scope = scope
        self.root = root
        self.workers = max(0, workers)
        self._unions: dict[str, str] = {}
        self._pending: dict[int, Future[SheetFile]] = {}
        self._pool: ProcessPoolExecutor | None = None

    # -- the run ---------------------------------------------------------------------------
    def run(self, job: Job, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Issue to everyone left, build the sheets and letters; the job's result
        (``jobs.run`` finishes it)."""
        target = target_of(job)
        batch_size = int(job.params["batch_size"])
        per_sheet = int(job.params["sheet_cards"])
        directory = self.root / job.id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        counts = {k: int(job.counts.get(k, 0)) for k in COUNT_KEYS}
        job_cards = self._card_count(job)
        if self.workers:
            self._pool = ProcessPoolExecutor(  # spawn: safe from a threaded web process
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=TASKS_PER_WORKER)
        try:
            while True:
                ids = list(self.session.scalars(
                    select(Member.id).where(*_in_target(target), Member.id > job.checkpoint,
                                            ~_has_live_card())
                    .order_by(Member.id).limit(batch_size)))
                if not ids:
                    break
                letters = self._commit_batch(job, target, ids, counts)
                self._write_letters_part(directory, letters)
                job_cards += len(letters)
                for number in range(job_cards // per_sheet):  # complete sheets only
                    self._schedule_sheet(job, directory, number, per_sheet)
                if on_progress:
                    on_progress(job)
            self.session.rollback()  # end the read transaction before the long tail
            sheets = self._finish_sheets(job, directory, per_sheet)
            letters_count = self._finish_letters(job, directory)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        counts["total"] = max(counts["total"], counts["processed"])
        jobs.record_progress(job, job.checkpoint, counts)
        audit.record(self.session, actor=self.desk.actor, action="card.batch", object_type="job",
                     object_id=job.id, province_code=target.province_code,
                     details={"target": target.fingerprint, "sheets": len(sheets),
                              "letters": letters_count, **counts})
        job.result = {**job.result, "sheets": sheets,
                      "letters": {"file": LETTERS_FILE, "count": letters_count,
                                  "downloaded_at": None} if letters_count else None}
        return {"summary": summary_line(job)}

    def _card_count(self, job: Job) -> int:
        return self.session.scalar(select(func.count()).select_from(Card)
                                   .where(Card.batch_job_id == job.id)) or 0

    def _commit_batch(self, job: Job, target: Target, ids: list[int],
                      counts: dict[str, int]) -> list[dict[str, Any]]:
        """Issue to one batch of members and commit it with the checkpoint; the letter rows."""

        def work() -> tuple[dict[str, int], list[dict[str, Any]]]:
            delta = dict.fromkeys(COUNT_KEYS, 0)
            letters: list[dict[str, Any]] = []
            failures: list[dict[str, Any]] = []
            members = list(self.session.scalars(
                select(Member).where(Member.id.in_(ids)).order_by(Member.id)
                .with_for_update()))
            live = set(self.session.scalars(select(Card.member_id).where(
                Card.member_id.in_(ids), Card.status.in_(LIVE))))
            for member in members:
                delta["processed"] += 1
                if (member.id in live or member.status is not MemberStatus.ACTIVE
                        or not self.scope.allows(member.province_code, member.union_code)):
                    delta["skipped"] += 1  # carded or changed since it was selected
                    continue
                try:
                    with self.session.begin_nested():
                        issued = self.desk.issue_for(member, batch_job_id=job.id)
                except (DomainError, CardError, ValueError) as exc:
                    delta["failed"] += 1
                    failures.append({"member_id": member.id, "error": str(exc)[:200]})
                    continue
                delta["issued"] += 1
                letters.append(self._letter(issued.card, member, issued.activation_code))
            merged = {k: counts[k] + delta[k] for k in COUNT_KEYS}
            merged["total"] = counts["total"]
            if failures:
                listed = list(job.result.get("failures", []))
                job.result = {**job.result, "failures": (listed + failures)[
                    :MAX_FAILURES_LISTED]}
            jobs.record_progress(job, ids[-1], merged)
            return merged, letters

        merged, letters = jobs.commit_batch(self.session, job, work)
        counts.update(merged)
        return letters

    def _union_name(self, code: str) -> str:
        if code not in self._unions:
            name = self.session.scalar(select(Union.name).where(Union.code == code))
            self._unions[code] = name or code
        return self._unions[code]

    def _letter(self, card: Card, member: Member, code: str) -> dict[str, Any]:
        return {"card_id": card.id, "member_number": member.member_number,
                "full_name": member.full_name, "union_code": card.union_code,
                "union_name": self._union_name(card.union_code), "card_serial": card.serial,
                "activation_code": code}

    # -- print sheets ----------------------------------------------------------------------
    def _faces(self, job: Job, number: int, per_sheet: int) -> list[CardFace]:
        cards = self.session.scalars(select(Card).where(Card.batch_job_id == job.id)
                                     .order_by(Card.id).offset(number * per_sheet)
                                     .limit(per_sheet))
        return [self.desk.face(card) for card in cards]

    def _schedule_sheet(self, job: Job, directory: Path, number: int, per_sheet: int,
                        *, rebuild: bool = False) -> None:
        path = directory / sheet_name(number + 1)
        if number in self._pending or (path.exists() and not rebuild):
            return
        faces = self._faces(job, number, per_sheet)
        if not faces:
            return
        if self._pool is None:
            done: Future[SheetFile] = Future()
            done.set_result(write_sheet(str(path), faces))
            self._pending[number] = done
            return
        while sum(not f.done() for f in self._pending.values()) >= 2 * self.workers:
            next(f for f in self._pending.values() if not f.done()).result()
        self._pending[number] = self._pool.submit(write_sheet, str(path), faces)

    def _finish_sheets(self, job: Job, directory: Path, per_sheet: int) -> list[dict[str, Any]]:
        """Build every sheet still missing (the last, partial one always); their listing."""
        total = self._card_count(job)
        count = math.ceil(total / per_sheet)
        for number in range(count):
            partial = (number + 1) * per_sheet > total
            self._schedule_sheet(job, directory, number, per_sheet, rebuild=partial)
        for future in self._pending.values():
            future.result()
        self._pending.clear()
        sheets = []
        for number in range(count):
            cards = min(per_sheet, total - number * per_sheet)
            path = directory / sheet_name(number + 1)
            sheets.append({"number": number + 1, "file": path.name, "cards": cards,
                           "pages": math.ceil(cards / 10) * 2, "size": path.stat().st_size})
        return sheets

    # -- activation letters ----------------------------------------------------------------
    def _write_letters_part(self, directory: Path, letters: list[dict[str, Any]]) -> None:
        if not letters:
            return
        blob = self.desk.cipher.encrypt(json.dumps(letters, ensure_ascii=False),
                                        LETTERS_CONTEXT)
        write_atomically(directory / f"letters-part-{letters[0]['card_id']:012d}.enc", blob)

    def _read_rows(self, path: Path) -> list[dict[str, Any]]:
        text = self.desk.cipher.decrypt(path.read_bytes(), LETTERS_CONTEXT)
        if path.name == LETTERS_FILE:
            return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        return list(json.loads(text))

    def _finish_letters(self, job: Job, directory: Path) -> int:
        """Merge the letter parts into one encrypted CSV, giving lost codes a new one."""
        parts = sorted(directory.glob("letters-part-*.enc"))
        merged = directory / LETTERS_FILE
        rows: dict[str, dict[str, Any]] = {}
        for path in ([merged] if merged.exists() else []) + parts:
            for row in self._read_rows(path):
                rows[str(row["card_serial"])] = row
        cards = list(self.session.scalars(select(Card).where(
            Card.batch_job_id == job.id, Card.status != CardStatus.REVOKED).order_by(Card.id)))
        lost = [c for c in cards if c.serial not in rows]
        if lost:  # committed, but killed before its letters were written: issue new codes
            fresh = []
            for card in lost:
                member = self.session.get(Member, card.member_id)
                assert member is not None
                code = self.desk.new_activation_code(self.scope, card.serial)
                fresh.append(self._letter(card, member, code))
            self.session.commit()
            self._write_letters_part(directory, fresh)
            rows.update({str(r["card_serial"]): r for r in fresh})
        keep = [rows[c.serial] for c in cards]
        if keep:
            out = io.StringIO()
            letters = CsvOut(out, LETTER_COLUMNS)
            for row in keep:
                letters.record(row)
            write_atomically(merged, self.desk.cipher.encrypt(out.getvalue(), LETTERS_CONTEXT))
        for path in directory.glob("letters-part-*.enc"):
            path.unlink()
        self.session.rollback()
        return len(keep)


def sheet_name(number: int) -> str:
    """The file name of print sheet ``number`` (from 1)."""
    return f"sheet-{number:04d}.pdf"


def start(session: Session, scope: Scope, target: Target, *, settings: BatchSettings,
          desks: DeskFactory, launch: jobs.Launch,
          on_progress: ProgressCallback | None = None) -> tuple[Job, bool]:
    """Find or create the caller's batch for a target and launch it; (job, resumed).

    Raises:
        JobBusy: the same batch is running in another live process.
    """
    job, resumed = start_or_resume(session, scope, target, batch_size=settings.batch_size,
                                   sheet_cards=settings.sheet_cards)
    job_id = job.id
    session.commit()  # the job runs in a session of its own: hold no transaction open on it
    launch(job_id, batch_work(scope, settings, desks, on_progress))
    return job, resumed


def batch_work(scope: Scope, settings: BatchSettings, desks: DeskFactory,
               on_progress: ProgressCallback | None = None) -> jobs.Work:
    """The work of a batch job (for ``jobs.run``): issue, print sheets, activation letters."""

    def work(session: Session, job: Job) -> dict[str, Any]:
        desk = desks(session, scope.principal.subject)
        return CardBatch(desk, scope, settings.root, workers=settings.workers).run(
            job, on_progress)

    return work


def batch_job(session: Session, scope: Scope, job_id: str) -> Job:
    """A batch job in the caller's scope.

    Raises:
        NotFound: no such batch job in scope.
    """
    job = jobs.get_in_scope(session, scope, job_id)
    if job.kind != KIND:
        raise NotFound("No such card batch.")
    return job


def sheet_path(root: Path, job: Job, number: int) -> Path:
    """The file of a finished batch's sheet.

    Raises:
        NotFound: no such sheet (or the batch has not finished).
    """
    listed = {int(s["number"]) for s in job.result.get("sheets", [])}
    path = root / job.id / sheet_name(number)
    if number not in listed or not path.exists():
        raise NotFound("No such print sheet.")
    return path


def take_letters(session: Session, cipher: Any, root: Path, job: Job, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> str:
    """The batch's letters as CSV text, deleted from disk as they are handed out (once).

    Raises:
        NotFound: the batch has not finished or had no letters. LettersGone: taken already.
    """
    info = job.result.get("letters")
    if not info:
        raise NotFound("This batch has no activation letters (not finished, or no card "
                       "issued).")
    path = root / job.id / LETTERS_FILE
    taken = path.with_name(f".{LETTERS_FILE}.{secrets.token_hex(4)}")
    try:
        os.replace(path, taken)  # one caller wins even when two download at once
    except FileNotFoundError:
        raise LettersGone(f"The activation letters of batch {job.id} were downloaded "
                          f"{info.get('downloaded_at') or 'already'} and deleted.") from None
    try:
        text: str = cipher.decrypt(taken.read_bytes(), LETTERS_CONTEXT)
    finally:
        taken.unlink(missing_ok=True)
    when = clock()
    job.result = {**job.result, "letters": {**info, "downloaded_at": when.isoformat(),
                                            "downloaded_by": actor}}
    audit.record(session, actor=actor, action="card.batch.letters", object_type="job",
                 object_id=job.id, province_code=job.province_code,
                 details={"count": info.get("count")})
    session.commit()
    return text

