"""Benchmark: the national scale on PostgreSQL — N members (default 2,000,000) over the 34
provinces, then a roster import on top of them, searches, status lists and the trust bundle.

    UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python scripts/bench/national_scale.py [--members N] [--import-rows M]

Reports: the bulk-load rate (personal IDs encrypted and hashed as the registry does), the roster
import rate (the import service, batches of 1,000) into a table already holding N - M members,
search medians (province officer and national administrator: name prefix, personal ID, family
name), the size of the status lists N cards need (signed JWTs as /status-lists serves them, with
1% of the cards revoked and 0.5% suspended), and the size of the signed trust bundle.
See docs/operations/scale.md.
"""

from __future__ import annotations

import argparse
import base64
import functools
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _db import fresh_database  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app import create_app  # noqa: E402
from app.models import Member, MemberStatus, Role, StatusListRecord, Union  # noqa: E402
from app.services.registry import identity  # noqa: E402

PROVINCES = ["01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33",
             "37", "38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79",
             "80", "82", "86", "91", "92", "96"]
FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý".split()
MIDDLE = {"M": "Văn Đức Minh Quốc Hữu Công Thành".split(),
          "F": "Thị Ngọc Thu Thanh Kim Mai Hồng".split()}
GIVEN = {"M": "An Bình Cường Dũng Hải Hùng Khánh Long Nam Phúc Quân Sơn Thắng Tuấn".split(),
         "F": "Anh Chi Dung Giang Hà Hạnh Hương Lan Linh Mai Ngân Nhung Thảo Trang".split()}
#: birth provinces of the bulk-loaded personal IDs (the imported roster uses 001, 024, 027)
BULK_BIRTH = [p for p in sorted(identity.CCCD_PROVINCE_CODES) if p not in ("001", "024", "027")]
UNIONS_PER_PROVINCE = 20


def config(url: str) -> dict[str, object]:
    return {"ENV": "testing", "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
            "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(36)).decode(),
            "DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LOOKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
            "KEY_PASSPHRASE": base64.urlsafe_b64encode(os.urandom(18)).decode()}


def bulk_load(app: object, n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """Insert n members over every province in batches of 10,000; (province, name, personal ID)
    samples."""
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services.registry.members import MemberRegistry

    session = db.new_session(app)  # type: ignore[arg-type]
    registry = MemberRegistry(session, cipher_for_config(app.config), actor="bench")  # type: ignore[attr-defined]
    unions = [(p, f"CD-{p}-{k:04d}") for p in PROVINCES for k in range(UNIONS_PER_PROVINCE)]
    session.add_all([Union(code=code, name=f"CĐCS {code}", province_code=p)
                     for p, code in unions])
    session.commit()
    samples: list[tuple[str, str, str]] = []
    batch: list[dict[str, object]] = []
    started = time.perf_counter()
    for i in range(n):
        sex = "M" if rng.random() < 0.5 else "F"
        province, union = unions[rng.randrange(len(unions))]
        birth = date(rng.randint(1966, 2006), rng.randint(1, 12), rng.randint(1, 28))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        # a distinct birth province per million rows keeps every personal ID unique
        pid = (BULK_BIRTH[i // 1_000_000] + identity.cccd_century_digit(birth, sex)
               + f"{birth.year % 100:02d}" + f"{i % 1_000_000:06d}")
        batch.append({"province_code": province, "union_code": union,
                      "member_number": f"{province}{i:09d}", "full_name": name,
                      "name_ascii": identity.transliterate(name), "birth_date": birth,
                      "sex": sex, "status": MemberStatus.ACTIVE, "status_reason": "",
                      **registry.personal_id_columns(pid)})
        if rng.random() < 0.0005:
            samples.append((province, name, pid))
        if len(batch) == 10_000:
            session.execute(insert(Member), batch)
            session.commit()
            batch.clear()
            print(f"\r  loaded {i + 1:,} members ({time.perf_counter() - started:.0f} s)",
                  end="", file=sys.stderr)
    if batch:
        session.execute(insert(Member), batch)
        session.commit()
    print(file=sys.stderr)
    session.close()
    return samples


def import_roster(app: object, rows: int, workdir: Path) -> tuple[float, dict[str, int]]:
    """Import a generated roster of ``rows`` members into province 24 with the import service;
    (seconds, counts)."""
    import import_roster as generator

    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services import jobs
    from app.services.access import accounts
    from app.services.registry import imports
    from app.services.registry.roster import Limits

    session = db.new_session(app)  # type: ignore[arg-type]
    session.add_all([Union(code=code, name=code, province_code="24")
                     for code in generator.UNIONS])
    accounts.create_user(session, username="bench.bn", password="bench-password-1",
                         role=Role.OFFICER, province_code="24")
    session.commit()
    scope = imports.scope_of_account(session, "bench.bn")
    path = workdir / "roster.csv"
    generator.generate(path, rows)
    settings = imports.ImportSettings(limits=Limits(max_bytes=1 << 40, max_rows=rows),
                                      batch_size=1000, directory=workdir)
    started = time.perf_counter()
    job, _ = imports.start(session, scope, path, file_name=path.name, dry_run=False,
                           settings=settings, cipher=cipher_for_config(app.config),  # type: ignore[attr-defined]
                           launch=functools.partial(jobs.run, functools.partial(
                               db.new_session, app)))
    seconds = time.perf_counter() - started
    session.refresh(job)
    counts = dict(job.counts)
    session.close()
    return seconds, counts


def searches(app: object, samples: list[tuple[str, str, str]], queries: int,
             rng: random.Random) -> None:
    """Median and p95 of the searches officers and administrators make."""
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.registry.members import MemberRegistry, SearchFilters

    session = db.new_session(app)  # type: ignore[arg-type]
    session.execute(text("ANALYZE"))
    session.commit()
    registry = MemberRegistry(session, cipher_for_config(app.config), actor="bench")  # type: ignore[attr-defined]
    timings: dict[str, list[float]] = {}

    def timed(what: str, call: object) -> None:
        started = time.perf_counter()
        call()  # type: ignore[operator]
        timings.setdefault(what, []).append((time.perf_counter() - started) * 1000)
        session.rollback()

    national = Scope(Principal("user", 1, "admin"))
    for province, name, pid in (rng.choice(samples) for _ in range(queries)):
        officer = Scope(Principal("user", 1, "officer", province))
        words = identity.transliterate(name).split()
        prefix = f"{words[0]} {words[1]} {words[2][:2]}"
        timed("name prefix, province officer",
              lambda: registry.search(officer, SearchFilters(q=prefix)))
        timed("name prefix, national admin",
              lambda: registry.search(national, SearchFilters(q=prefix)))
        timed("personal ID, province officer",
              lambda: registry.search(officer, SearchFilters(personal_id=pid)))
        timed("personal ID, national admin",
              lambda: registry.search(national, SearchFilters(personal_id=pid)))
        timed("family name only, national",
              lambda: registry.search(national, SearchFilters(q=words[0])))
    for what, values in timings.items():
        values.sort()
        print(f"search {what:32} median {statistics.median(values):7.1f} ms   "
              f"p95 {values[max(int(len(values) * 0.95) - 1, 0)]:7.1f} ms")
    session.close()


def publications(app: object, cards_count: int, rng: random.Random) -> None:
    """Sizes of the status lists ``cards_count`` cards fill, and of the trust bundle."""
    from app.composition import ensure_root_key, key_store, publisher_for
    from app.extensions import db
    from app.services.issuing.status_lists import FILL_LIMIT
    from cards.status import MIN_ENTRIES, StatusList

    ensure_root_key(app)  # type: ignore[arg-type]
    session = db.new_session(app)  # type: ignore[arg-type]
    store = key_store(session, app.config, "bench")  # type: ignore[attr-defined]
    store.ensure(str(app.config["CARD_ISSUER"]))  # type: ignore[attr-defined]
    store.rotate(str(app.config["CARD_ISSUER"]))  # type: ignore[attr-defined]
    session.commit()
    lists = math.ceil(cards_count / FILL_LIMIT)
    for list_id in range(1, lists + 1):
        used = rng.sample(range(MIN_ENTRIES), min(FILL_LIMIT, cards_count
                                                  - (list_id - 1) * FILL_LIMIT))
        for purpose, rate in (("revocation", 0.01), ("suspension", 0.005)):
            bits = StatusList(list_id, purpose)  # type: ignore[arg-type]
            for index in used:
                if rng.random() < rate:
                    bits.set(index)
            session.add(StatusListRecord(list_id=list_id, purpose=purpose,
                                         size=MIN_ENTRIES, bits=bits.to_bytes()))
    session.commit()
    publisher = publisher_for(app, session)  # type: ignore[arg-type]
    sizes = [len(publisher.status_list_jwt(list_id, purpose)[0])
             for list_id in range(1, lists + 1) for purpose in ("revocation", "suspension")]
    bundle, _ = publisher.trust_bundle()
    print(f"status lists for {cards_count:,} cards: {lists} lists x 2 purposes, "
          f"{statistics.median(sizes) / 1024:.1f} KiB a signed list (median), "
          f"{sum(sizes) / 1024 / 1024:.2f} MiB in all (1% revoked, 0.5% suspended)")
    print(f"trust bundle (root-signed: 2 card keys and all {2 * lists} status lists): "
          f"{len(bundle):,} bytes")
    session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2_000_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
    if not pg:
        sys.exit("set UNIONCARD_BENCH_PG_URL (this benchmark is for PostgreSQL)")
    rng = random.Random(2026)
    bulk = args.members - args.import_rows
    with fresh_database(pg, "national") as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(config(url))
        started = time.perf_counter()
        samples = bulk_load(app, bulk, rng)
        seconds = time.perf_counter() - started
        print(f"bulk load {bulk:,} members over {len(PROVINCES)} provinces: {seconds:.0f} s, "
              f"{bulk / seconds:,.0f} rows/s")
        seconds, counts = import_roster(app, args.import_rows, Path(tmp))
        print(f"roster import of {args.import_rows:,} rows on top of {bulk:,}: {seconds:.1f} s, "
              f"{args.import_rows / seconds:,.0f} rows/s (created {counts['created']:,}, "
              f"errors {counts['errors']})")
        searches(app, samples, args.queries, rng)
        publications(app, args.members, rng)
        from app.extensions import db

        with db.engine_for(app).connect() as conn:
            size = conn.scalar(text("SELECT pg_total_relation_size('members')"))
        print(f"members table with indexes: {size / 1024 / 1024:,.0f} MiB")
        db.engine_for(app).dispose()


if __name__ == "__main__":
    main()
