"""Benchmark: member search by name prefix and by personal ID on N members (default 1,000,000).

    .venv/bin/python scripts/bench/search_members.py [--members N] [--queries Q]
    UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test  (also PostgreSQL)

Target (issue 4): median under 50 ms for both searches on 1,000,000 members.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _db import fresh_database  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.crypto import DataCipher  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.models import Member, MemberStatus, Union  # noqa: E402
from app.services import identity  # noqa: E402
from app.services.access.scope import Scope  # noqa: E402
from app.services.access.tokens import Principal  # noqa: E402
from app.services.demo import FAMILY, GIVEN, MIDDLE  # noqa: E402
from app.services.registry.members import MemberRegistry, SearchFilters  # noqa: E402

PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33",
             "37", "38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79",
             "80", "82", "86", "91", "92", "96"]


BIRTH_PROVINCES = sorted(identity.CCCD_PROVINCE_CODES)


def populate(session: Session, registry: MemberRegistry, n: int, rng: random.Random
             ) -> list[tuple[str, str, str]]:
    """Insert n members in bulk; return (province, name, personal id) samples."""
    unions = []
    for p in PROVINCES:
        for k in range(10):
            unions.append((p, f"CD-{p}-{k:04d}"))
            session.add(Union(code=f"CD-{p}-{k:04d}", name=f"CĐCS {p}-{k}", province_code=p))
    session.commit()
    samples: list[tuple[str, str, str]] = []
    batch: list[dict[str, object]] = []
    started = time.perf_counter()
    for i in range(n):
        sex = rng.choice("MF")
        province, union = rng.choice(unions)
        birth = date(rng.randint(1966, 2006), rng.randint(1, 12), rng.randint(1, 28))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        # the row number as the 6 random digits keeps every personal ID unique
        pid = (rng.choice(BIRTH_PROVINCES) + identity.cccd_century_digit(birth, sex)
               + f"{birth.year % 100:02d}" + f"{i % 1_000_000:06d}")
        batch.append({"province_code": province, "union_code": union,
                      "member_number": f"{province}{i:08d}", "full_name": name,
                      "name_ascii": identity.transliterate(name), "birth_date": birth, "sex": sex,
                      "status": MemberStatus.ACTIVE, "status_reason": "",
                      **registry.personal_id_columns(pid)})
        if rng.random() < 0.001:
            samples.append((province, name, pid))
        if len(batch) == 10_000:
            session.execute(insert(Member), batch)
            session.commit()
            batch.clear()
            print(f"\r  inserted {i + 1:,} members ({time.perf_counter() - started:.0f} s)",
                  end="", file=sys.stderr)
    if batch:
        session.execute(insert(Member), batch)
        session.commit()
    print(file=sys.stderr)
    return samples


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(url: str, label: str, n: int, queries: int) -> None:
    engine = make_engine(url)
    rng = random.Random(42)
    cipher = DataCipher([os.urandom(32)], lookup_key=os.urandom(32))
    with Session(engine) as session:
        registry = MemberRegistry(session, cipher, actor="bench")
        started = time.perf_counter()
        samples = populate(session, registry, n, rng)
        print(f"{label}: {n:,} members loaded in {time.perf_counter() - started:.0f} s")
        session.execute(text("ANALYZE"))
        session.commit()
        picks = [rng.choice(samples) for _ in range(queries)]
        name_ms, admin_ms, pid_ms, broad_ms = [], [], [], []
        for province, name, pid in picks:
            words = name.split()
            prefix = f"{words[0]} {words[1]} {words[2][:2]}".lower()  # typed: "nguyen thi ye"
            officer = Scope(Principal("user", 1, "officer", province))
            national = Scope(Principal("user", 1, "admin"))
            name_ms.append(timed(lambda: registry.search(officer, SearchFilters(
                q=identity.transliterate(prefix)))))
            admin_ms.append(timed(lambda: registry.search(national, SearchFilters(
                q=identity.transliterate(prefix)))))
            pid_ms.append(timed(lambda: registry.search(officer, SearchFilters(personal_id=pid))))
            broad_ms.append(timed(lambda: registry.search(national, SearchFilters(
                q=identity.transliterate(words[0])))))  # "nguyen": ~60,000 matches
        for what, values in (("name prefix, province officer", name_ms),
                             ("name prefix, national admin", admin_ms),
                             ("personal ID, province officer", pid_ms),
                             ("family name only, national", broad_ms)):
            values.sort()
            print(f"{label}: {what:32} median {statistics.median(values):6.1f} ms   "
                  f"p95 {values[int(len(values) * 0.95) - 1]:6.1f} ms   ({len(values)} queries)")
        if engine.dialect.name == "postgresql":
            province, name, _ = picks[0]
            prefix = identity.transliterate(" ".join(name.split()[:2]))
            plan = session.execute(text(
                "EXPLAIN SELECT * FROM members WHERE province_code = :p AND name_ascii >= :a "
                "AND name_ascii < :b ORDER BY name_ascii, id LIMIT 50"),
                {"p": province, "a": prefix, "b": prefix + "\x7f"}).scalars().all()
            print(f"{label}: plan: " + " | ".join(line.strip() for line in plan[:3]))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with fresh_database(None, "search") as url:
        run(url, "SQLite", args.members, args.queries)
    pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
    if pg:
        with fresh_database(pg, "search") as url:
            run(url, "PostgreSQL", args.members, args.queries)


if __name__ == "__main__":
    main()
