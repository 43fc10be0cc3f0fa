"""Alembic environment: the models' metadata, the URL from the caller's config."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import context

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The caller's URL; for ``alembic`` run from the checkout, ``UNIONCARD_DATABASE_URL`` or
    the embedded default ``var/unioncard.db`` (as the service would use)."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    default = f"sqlite:///{Path(os.environ.get('UNIONCARD_ROOT', '.')).resolve() / 'var' / 'unioncard.db'}"
    return os.environ.get("UNIONCARD_DATABASE_URL", default)


def run_migrations_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=_url(),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live connection (given by the caller, or made from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
