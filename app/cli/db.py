"""``unioncard db``: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask

from app.cli.common import with_app
from app.composition import cipher_for_config


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_app
def db_upgrade(app: Flask, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from app import migrate

    migrate.upgrade(app.config["SQLALCHEMY_URL"], revision,
                    cipher=cipher_for_config(app.config))
    click.echo(f"database at {migrate.revisions(_engine(app))[0]}")


@db.command("downgrade")
@click.argument("revision")
@with_app
def db_downgrade(app: Flask, revision: str) -> None:
    """Revert migrations down to REVISION (``base`` removes every table)."""
    from app import migrate

    migrate.downgrade(app.config["SQLALCHEMY_URL"], revision,
                      cipher=cipher_for_config(app.config))
    click.echo(f"database at {migrate.revisions(_engine(app))[0]}")


@db.command("current")
@with_app
def db_current(app: Flask) -> None:
    """Show the database's revision and the newest one."""
    from app import migrate

    current, head = migrate.revisions(_engine(app))
    click.echo(f"current: {current}\nhead:    {head}")


def _engine(app: Flask) -> Any:
    from app.extensions import db as database

    return database.engine_for(app)
