"""Benchmark: appending access events to the per-member hash chains (one write transaction per
event, as a clinic request does), from one thread and from several, to many members' chains and
all to one; then a checkpoint and ``verify`` over everything.

Run: .venv/bin/python scripts/bench/access_log.py [--events N] [--members M] [--threads T]
     (UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test adds PostgreSQL)
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._db import fresh_database  # noqa: E402

#: The key the bench's checkpoints are signed with.
BENCH_KEY = b"bench checkpoint key"


def cipher() -> Any:
    from app.crypto import DataCipher

    return DataCipher([b"b" * 32], lookup_key=b"l" * 32)


def setup(url: str, members: int) -> tuple[Any, list[Any]]:
    """A session factory and ``members`` members."""
    from sqlalchemy.orm import sessionmaker

    from app.db import WRITE_INTENT, make_engine
    from app.models import Union
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.registry.identity import cccd_century_digit
    from app.services.registry.members import MemberRegistry

    maker = sessionmaker(bind=make_engine(url), expire_on_commit=False)

    def writer() -> Any:
        session = maker()
        session.connection(execution_options={WRITE_INTENT: True})
        return session

    session = writer()
    session.add(Union(code="CD-24-BENCH", name="Công đoàn bench", province_code="24"))
    session.commit()
    registry = MemberRegistry(session, cipher(), actor="bench")
    made = []
    for n in range(members):
        birth = date(1980 + n % 20, 1 + n % 12, 1 + n % 28)
        member, _ = registry.create(Scope(Principal("user", 0, "admin")), {
            "full_name": "Nguyễn Văn An", "birth_date": birth, "sex": "M",
            "personal_id": "024" + cccd_century_digit(birth, "M") + f"{birth.year % 100:02d}"
                           + f"{n:06d}", "union_code": "CD-24-BENCH"})
        made.append(member)
    session.commit()
    session.close()
    return writer, made


def record(member: Any, n: int) -> Any:
    from app.services.access_events.log import AccessRecord

    return AccessRecord(kind="pull", member_id=member.id, province_code="24",
                        card_serial=f"UC-{member.id:08d}", clinic_code="27001",
                        clinic_name="Phòng khám KCN Quế Võ", client_id="clinic-27001",
                        purpose="treatment", released=("allergies", "emergency-core"),
                        denied={"medications": "no-consent"}, outcome="released")


def append(writer: Any, members: list[Any], count: int, threads: int) -> float:
    """Append ``count`` events spread over ``members`` from ``threads`` threads; events/s."""
    from app.services.access_events.log import AccessLog

    def work(share: int, offset: int) -> None:
        for i in range(share):
            session = writer()
            AccessLog(session, cipher()).record(record(members[(offset + i) % len(members)], i))
            session.commit()
            session.close()

    share = count // threads
    workers = [threading.Thread(target=work, args=(share, t * 7)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return share * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    from app.services.access_events.checkpoints import make_checkpoint
    from app.services.access_events.verify import verify

    backends = [("sqlite", None)]
    if os.environ.get("UNIONCARD_BENCH_PG_URL"):
        backends.append(("postgresql", os.environ["UNIONCARD_BENCH_PG_URL"]))
    for name, pg in backends:
        with fresh_database(pg, "access") as url:
            writer, members = setup(url, args.members)
            one = append(writer, members, args.events, 1)
            many = append(writer, members, args.events, args.threads)
            hot = append(writer, members[:1], args.events // 2, args.threads)
            session = writer()
            start = time.perf_counter()
            made = make_checkpoint(session, actor="bench", key=BENCH_KEY)
            session.commit()
            checkpoint_s = time.perf_counter() - start
            start = time.perf_counter()
            report = verify(session, cipher=cipher(), key=BENCH_KEY)
            verify_s = time.perf_counter() - start
            session.close()
            assert report.ok, report.findings
            print(f"{name:10} append 1 thread {one:7.0f}/s | {args.threads} threads, "
                  f"{args.members} members {many:7.0f}/s | {args.threads} threads, one member "
                  f"{hot:7.0f}/s | checkpoint of {made.heads} heads {checkpoint_s * 1000:6.0f} ms"
                  f" | verify {report.events} events {report.events / verify_s:7.0f}/s")


if __name__ == "__main__":
    main()
