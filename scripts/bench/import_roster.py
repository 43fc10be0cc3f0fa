"""Benchmark: import a generated roster (valid CCCDs) on SQLite and, if configured, PostgreSQL.

Run: .venv/bin/python scripts/bench/import_roster.py [--rows 100000] [--batch-size 1000]
     [--only sqlite|postgresql]
PostgreSQL: set UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres;
a fresh database is created on that server and dropped afterwards.

Prints rows/s of the import (a dry run, a first import that creates every member, and a rerun
where every row is unchanged) and the process's peak RSS. Targets: >= 5,000 rows/s on both
databases; peak RSS < 300 MB even for --rows 1000000 (the file is streamed, not loaded).
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app, migrate  # noqa: E402

CONFIG = {"ENV": "testing", "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
          "DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
          "LOOKUP_KEY": "bG9va3VwLWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWE=",
          "KEY_PASSPHRASE": "bench", "LOG_LEVEL": "WARNING"}
UNIONS = ["CDCS-24-QUEVO1", "CDCS-24-YENPHONG"]
FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý".split()
MIDDLE = {"M": "Văn Đức Minh Quốc Hữu Công Thành".split(),
          "F": "Thị Ngọc Thu Thanh Kim Mai Hồng".split()}
GIVEN = {"M": "An Bình Cường Dũng Hải Hùng Khánh Long Nam Phúc Quân Sơn Thắng Tuấn".split(),
         "F": "Anh Chi Dung Giang Hà Hạnh Hương Lan Linh Mai Ngân Nhung Thảo Trang".split()}
HEADERS = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Mã số BHXH", "Số điện thoại",
           "Mã công đoàn cơ sở", "Ngày vào công đoàn"]


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write a roster of ``rows`` valid, distinct members (streamed to disk)."""
    rng = random.Random(seed)
    base = date(1965, 1, 1)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for i in range(rows):
            sex = "M" if rng.random() < 0.5 else "F"
            birth = base + timedelta(days=rng.randrange(365 * 40))
            century = (birth.year - 1900) // 100 * 2 + (sex == "F")
            # birth-province code + century/sex + year + 6 digits; 3 provinces x 1e6 serials
            pid = f"{('001', '027', '024')[i % 3]}{century}{birth.year % 100:02d}{i // 3:06d}"
            writer.writerow([
                f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}",
                birth.strftime("%d/%m/%Y"), "Nam" if sex == "M" else "Nữ", pid,
                f"{rng.randrange(10**9, 10**10)}", f"09{rng.randrange(10**8):08d}",
                UNIONS[i % 2], (birth + timedelta(days=7000)).strftime("%d/%m/%Y")])


def prepare(url: str) -> tuple[object, object]:
    """Migrate the database, add the unions and an officer; (app, scope)."""
    from app.extensions import db
    from app.models import Role, Union
    from app.services.access import accounts
    from app.services.registry import imports

    migrate.upgrade(url)
    app = create_app({**CONFIG, "DATABASE_URL": url})
    session = db.new_session(app)
    session.add_all([Union(code=code, name=code, province_code="24") for code in UNIONS])
    accounts.create_user(session, username="bench.bn", password="bench-password-1",
                         role=Role.OFFICER, province_code="24")
    session.commit()
    scope = imports.scope_of_account(session, "bench.bn")
    session.close()
    return app, scope


def run_import(app: object, scope: object, path: Path, rows: int, batch: int,
               dry_run: bool) -> tuple[float, dict[str, int]]:
    """Run one import job; (seconds, counts)."""
    from app.composition import cipher_for_config
    from app.extensions import db
    from app.services import jobs
    from app.services.registry import imports
    from app.services.registry.roster import Limits

    settings = imports.ImportSettings(limits=Limits(max_bytes=1 << 40, max_rows=max(rows, 1)),
                                      batch_size=batch, directory=path.parent)
    session = db.new_session(app)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        job, _ = imports.start(session, scope, path, file_name=path.name,  # type: ignore
                               dry_run=dry_run, settings=settings,
                               cipher=cipher_for_config(app.config),  # type: ignore
                               launch=functools.partial(jobs.run, functools.partial(
                                   db.new_session, app)))
        seconds = time.perf_counter() - started
        session.refresh(job)
        return seconds, dict(job.counts)
    finally:
        session.close()


def bench(label: str, url: str, path: Path, rows: int, batch: int) -> None:
    """Dry run, first import, unchanged rerun on one database; print rates and memory."""
    from app.extensions import db
    from app.models import Member

    app, scope = prepare(url)
    try:
        for name, dry in (("dry run", True), ("import (create)", False),
                          ("rerun (unchanged)", False)):
            seconds, counts = run_import(app, scope, path, rows, batch, dry)
            print(f"{label:10} {name:18} {rows:>9,} rows {seconds:7.1f} s "
                  f"{rows / seconds:9,.0f} rows/s  created {counts['created']:,} unchanged "
                  f"{counts['unchanged']:,} errors {counts['errors']}  peak RSS "
                  f"{peak_rss_mb():.0f} MB", flush=True)
        session = db.new_session(app)  # type: ignore[arg-type]
        total = session.scalar(select(func.count()).select_from(Member))
        session.close()
        assert total == rows, (total, rows)
    finally:
        db.engine_for(app).dispose()  # type: ignore[arg-type]


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.csv"
        started = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mb():.0f} MB",
              flush=True)
        if args.only in (None, "sqlite"):
            bench("sqlite", f"sqlite:///{tmp}/bench.db", path, args.rows, args.batch_size)
        pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
        if pg and args.only in (None, "postgresql"):
            name = f"uc_bench_{secrets.token_hex(4)}"
            admin = create_engine(pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(pg).set(database=name).render_as_string(hide_password=False)
                bench("postgresql", url, path, args.rows, args.batch_size)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        elif args.only == "postgresql":
            print("set UNIONCARD_BENCH_PG_URL to benchmark PostgreSQL")


if __name__ == "__main__":
    main()
