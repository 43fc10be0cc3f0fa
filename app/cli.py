"""The ``unioncard`` operator command: migrations, accounts, demo data."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from flask import Flask

from app.config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def _make_app() -> Flask:
    from app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def with_app(func: F) -> F:
    """Run the command inside an app context, turning expected errors into one-line messages."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.services.errors import DomainError

        app = _make_app()
        with app.app_context():
            try:
                return func(app, *args, **kwargs)
            except DomainError as exc:
                details = "; ".join(f"{e['field']}: {e['detail']}" for e in exc.errors)
                raise click.ClickException(details or exc.detail) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def cli_session(app: Flask) -> Iterator[Any]:
    """A database session for a command; database errors become one-line messages."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db as database

    session = database.new_session(app)
    try:
        yield session
    except SQLAlchemyError as exc:
        session.rollback()
        raise click.ClickException(f"database error: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0]}") from None
    finally:
        session.close()


@click.group()
def cli() -> None:
    """unioncard: union member cards carrying the member's electronic health record."""


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_app
def db_upgrade(app: Flask, revision: str) -> None:
    """Apply migrations up to REVISION."""
    from app import migrate

    migrate.upgrade(app.config["SQLALCHEMY_URL"], revision)
    click.echo(f"database at {migrate.revisions(_engine(app))[0]}")


@db.command("downgrade")
@click.argument("revision")
@with_app
def db_downgrade(app: Flask, revision: str) -> None:
    """Revert migrations down to REVISION (``base`` removes every table)."""
    from app import migrate

    migrate.downgrade(app.config["SQLALCHEMY_URL"], revision)
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


@cli.group()
def users() -> None:
    """Staff accounts (administrators and officers)."""


@users.command("create")
@click.option("--role", type=click.Choice(["admin", "officer"]), required=True)
@click.option("--username", required=True)
@click.option("--province", "province_code", help="Province code (officers).")
@click.option("--union", "union_code", help="Grassroots union code (officers, optional).")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (required: never on the command line).")
@with_app
def users_create(app: Flask, role: str, username: str, province_code: str | None,
                 union_code: str | None, full_name: str, password_stdin: bool) -> None:
    """Create a staff account (bootstraps a fresh production install)."""
    from app.extensions import db as database
    from app.models import Role
    from app.services import accounts

    password = sys.stdin.readline().rstrip("\r\n")
    session = database.new_session(app)
    with session.begin():
        user = accounts.create_user(session, username=username, password=password,
                                    role=Role(role), province_code=province_code,
                                    union_code=union_code, full_name=full_name)
    scope = f" province {province_code}" if province_code else " (national)"
    scope += f" union {union_code}" if union_code else ""
    click.echo(f"created {role} {user.username}{scope}")


@cli.group()
def demo() -> None:
    """Demo data for development."""


@demo.command("load")
@with_app
def demo_load(app: Flask) -> None:
    """Load demo data into an empty database (idempotent; refused in production)."""
    from app.composition import card_desk_for, cipher_for_config
    from app.extensions import db as database
    from app.services import demo as demo_service

    if app.config["ENV"] == "production":
        raise click.ClickException("demo data is for development only (UNIONCARD_ENV=production)")
    session = database.new_session(app)
    with session.begin():
        report = demo_service.load(session, cipher_for_config(app.config),
                                   card_desk_for(app, session, "demo"))
    for line in report.lines():
        click.echo(line)


def register(app: Flask) -> None:
    """Expose the operator commands under ``flask`` too (``flask --app app db upgrade``)."""
    for name, command in cli.commands.items():
        app.cli.add_command(command, name)


def main() -> None:
    """Entry point of the ``unioncard`` console script."""
    cli(prog_name="unioncard")


@cli.group()
def roster() -> None:
    """Roster files: import union members from CSV or XLSX (see docs/roster.md)."""


@roster.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--as", "username", required=True,
              help="The staff account whose scope applies (administrators: national).")
@click.option("--dry-run", is_flag=True, help="Validate every row and report; write nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the row report (errors and warnings) to this CSV file.")
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=1000, show_default=True,
              help="Rows per transaction (the checkpoint advances after each).")
@with_app
def roster_import(app: Flask, path: str, username: str, dry_run: bool, report_path: str | None,
                  batch_size: int) -> None:
    """Import (or with --dry-run, check) the roster at PATH; rerun it to resume."""
    from app.composition import cipher_for_config
    from app.services import imports
    from app.services.roster import open_roster

    with cli_session(app) as session:
        scope = imports.scope_of_account(session, username)
        limits = imports.limits_from(app.config)
        with open_roster(path, limits) as checked:
            job, resumed = imports.start_or_resume(
                session, scope, checked, sha256=imports.file_sha256(path),
                file_name=path, dry_run=dry_run, batch_size=batch_size)
        done = job.checkpoint
        with click.progressbar(length=max(job.counts.get("total", 0), 1), file=sys.stderr,
                               label="checking" if dry_run else "importing") as bar:
            bar.update(done)

            def progress(current: Any) -> None:
                nonlocal done
                bar.update(current.checkpoint - done)
                done = current.checkpoint

            imports.run_job(session, cipher_for_config(app.config), scope, job, path, limits,
                            on_progress=progress)
        if report_path:
            with open(report_path, "w", encoding="utf-8", newline="") as out:
                imports.write_report_csv(session, job, out)
        note = f" (resumed job {job.id})" if resumed else f" (job {job.id})"
        line = imports.summary_line(job) + note
        if job.counts.get("errors"):
            line += ("; rows with errors were skipped: see " +
                     (report_path or "the report (--report OUT.csv)"))
        click.echo(line)


def _add_command_modules() -> None:
    """Attach the command groups that live in their own modules."""
    from app.cli_keys import bundle_group, keys_group, verify_command

    for command in (keys_group, bundle_group, verify_command):
        cli.add_command(command)
    from app.cli_cards import cards_group
    cli.add_command(cards_group)


_add_command_modules()
