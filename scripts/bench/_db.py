"""Benchmark helpers: fresh databases (a SQLite file, or a new database on a PostgreSQL server)."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(pg_url: str | None, label: str) -> Iterator[str]:
    """Yield the URL of a new, migrated database; drop it afterwards."""
    from app import migrate

    if not pg_url:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/{label}.db"
            migrate.upgrade(url)
            yield url
        return
    name = f"uc_bench_{label}_{secrets.token_hex(3)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
