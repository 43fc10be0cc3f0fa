"""Benchmark: batch issuance of N cards (default 10,000) — signing, status-list entries, QR,
A4 print sheets (vector PDF) and the encrypted letters — on SQLite, and on PostgreSQL too.

    .venv/bin/python scripts/bench/batch_issue.py [--members N] [--workers 2] [--batch-size 200]
                                                  [--sheet-cards 100] [--only sqlite|postgresql]
    UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test  (also PostgreSQL)

Target (issue 5): at least 40 cards/s on the 2-core machine, memory flat.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _db import fresh_database
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.db import make_engine
from app.models import Member, MemberStatus, Union
from app.services import jobs
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.demo import FAMILY, GIVEN, MIDDLE
from app.services.issuing import batches
from app.services.issuing.issuance import CardDesk, CardSettings
from app.services.issuing.keys import KeyStore
from app.services.registry import identity
from app.services.registry.members import MemberRegistry

UNIONS = [f"CD-24-{k:04d}" for k in range(10)]


def populate(session: Session, registry: MemberRegistry, n: int, rng: random.Random) -> None:
    """Insert n active members of province 24 in bulk."""
    for code in UNIONS:
        session.add(Union(code=code, name=f"CĐCS Khu công nghiệp Quế Võ {code[-2:]}",
                          province_code="24"))
    session.commit()
    batch: list[dict[str, object]] = []
    for i in range(n):
        sex = rng.choice("MF")
        birth = date(rng.randint(1966, 2006), rng.randint(1, 12), rng.randint(1, 28))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        pid = ("024" + identity.cccd_century_digit(birth, sex) + f"{birth.year % 100:02d}"
               + f"{i % 1_000_000:06d}")
        batch.append({"province_code": "24", "union_code": rng.choice(UNIONS),
                      "member_number": f"24{i:08d}", "full_name": name,
                      "name_ascii": identity.transliterate(name), "birth_date": birth,
                      "sex": sex, "status": MemberStatus.ACTIVE, "status_reason": "",
                      **registry.personal_id_columns(pid)})
        if len(batch) == 5000:
            session.execute(insert(Member), batch)
            session.commit()
            batch.clear()
    if batch:
        session.execute(insert(Member), batch)
        session.commit()


class RssSampler:
    """Samples this process's and its children's resident memory every 0.5 s."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def _children(self) -> list[int]:
        try:
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children",
                      encoding="ascii") as fh:
                return [int(p) for p in fh.read().split()]
        except OSError:
            return []

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(0.5):
            own = self._rss_kb(os.getpid())
            kids = sum(self._rss_kb(p) for p in self._children())
            self.samples.append((time.perf_counter() - started, own + kids))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(url: str, label: str, n: int, workers: int, batch_size: int, sheet_cards: int) -> None:
    engine = make_engine(url)
    rng = random.Random(5)
    cipher = DataCipher([os.urandom(32)], lookup_key=os.urandom(32))
    with Session(engine) as session, tempfile.TemporaryDirectory() as tmp:
        populate(session, MemberRegistry(session, cipher, actor="bench"), n, rng)
        admin = Scope(Principal("user", 1, "admin"))
        settings = CardSettings(issuer="VN-VGCL", issuer_name="Tổng Liên đoàn Lao động Việt Nam",
                                validity_days=1826, public_base_url="https://the.card")

        def desk(desk_session: Session, actor: str) -> CardDesk:
            return CardDesk(desk_session, cipher,
                            KeyStore(desk_session, "bench-passphrase", actor="bench"), settings,
                            actor=actor)

        session.commit()
        marks: list[tuple[float, int]] = []
        started = time.perf_counter()
        with RssSampler() as rss:
            job, _ = batches.start(
                session, admin, batches.Target("24"),
                settings=batches.BatchSettings(root=Path(tmp), batch_size=batch_size,
                                               sheet_cards=sheet_cards, workers=workers),
                desks=desk, launch=functools.partial(jobs.run, functools.partial(Session, engine)),
                on_progress=lambda j: marks.append(
                    (time.perf_counter() - started, j.counts["issued"])))
        elapsed = time.perf_counter() - started
        session.rollback()  # a new transaction sees what the job's own session committed
        session.refresh(job)
        issued = job.counts["issued"]
        sheet_bytes = sum(s["size"] for s in job.result["sheets"])
        print(f"{label}: {issued:,} cards in {elapsed:.1f} s = {issued / elapsed:.1f} cards/s "
              f"({workers} render workers, {batch_size} per transaction); "
              f"{len(job.result['sheets'])} sheet PDFs, {sheet_bytes / 2**20:.0f} MiB "
              f"({sheet_bytes / max(issued, 1) / 1024:.1f} KiB a card)")
        if rss.samples:
            tenth = max(1, len(rss.samples) // 10)
            early = max(kb for _, kb in rss.samples[:tenth + 1])
            late = max(kb for _, kb in rss.samples[-tenth:])
            peak = max(kb for _, kb in rss.samples)
            print(f"{label}: RSS (main + workers) peak {peak / 1024:.0f} MiB; first tenth "
                  f"{early / 1024:.0f} MiB, last tenth {late / 1024:.0f} MiB")
        print(f"{label}: main process max RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--sheet-cards", type=int, default=100)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    options = (args.members, args.workers, args.batch_size, args.sheet_cards)
    if args.only != "postgresql":
        with fresh_database(None, "batch") as url:
            run(url, "SQLite", *options)
    pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
    if pg and args.only != "sqlite":
        with fresh_database(pg, "batch") as url:
            run(url, "PostgreSQL", *options)


if __name__ == "__main__":
    main()
