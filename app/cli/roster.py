"""``unioncard roster``: import union members from roster files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from flask import Flask

from app.cli.common import JobProgress, cli_session, with_app


@click.group()
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
@click.option("--here", is_flag=True,
              help="Run the import in this process instead of a `unioncard worker`.")
@with_app
def roster_import(app: Flask, path: str, username: str, dry_run: bool, report_path: str | None,
                  batch_size: int, here: bool) -> None:
    """Import (or with --dry-run, check) the roster at PATH; rerun it to resume."""
    from app.composition import cipher_for_config, import_settings
    from app.services.registry import imports

    progress = JobProgress(app, "checking" if dry_run else "importing",
                           lambda job: job.checkpoint, here=here)
    with cli_session(app) as session:
        scope = imports.scope_of_account(session, username)
        settings = dataclasses.replace(import_settings(app.config), batch_size=batch_size)
        if here:  # read where it lies
            job, resumed = imports.start(
                session, scope, Path(path), file_name=path, dry_run=dry_run, settings=settings,
                cipher=cipher_for_config(app.config), launch=progress.launch,
                on_progress=progress)
        else:  # a private copy in IMPORT_DIR, where a worker reads it
            with open(path, "rb") as stream:
                job, resumed = imports.start(
                    session, scope, stream, file_name=path, dry_run=dry_run,
                    settings=settings, cipher=cipher_for_config(app.config),
                    launch=progress.launch, on_progress=progress)
        session.refresh(job)  # it ran in a session of its own
        if report_path:
            with open(report_path, "w", encoding="utf-8", newline="") as out:
                imports.write_report_csv(session, job, out)
        note = f" (resumed job {job.id})" if resumed else f" (job {job.id})"
        line = imports.summary_line(job) + note
        if job.counts.get("errors"):
            line += ("; rows with errors were skipped: see " +
                     (report_path or "the report (--report OUT.csv)"))
        click.echo(line)
