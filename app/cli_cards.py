"""Operator commands for batch issuance (``unioncard cards issue`` and ``cards letters``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask

from app.cli import cli_session as _session
from app.cli import with_app


@click.group("cards")
def cards_group() -> None:
    """Union cards in bulk: batch issuance, print sheets and activation letters."""


@cards_group.command("issue")
@click.option("--union", "union_code", help="Issue for this grassroots union's members.")
@click.option("--province", "province_code", help="Issue for this province's members.")
@click.option("--as", "username", required=True,
              help="The staff account whose scope applies (administrators: national).")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=200, show_default=True,
              help="Members per transaction (the checkpoint advances after each).")
@click.option("--sheet-cards", type=click.IntRange(10, 2000), default=100, show_default=True,
              help="Cards per print-sheet PDF (10 cards per A4 page pair).")
@click.option("--workers", type=click.IntRange(0, 32), default=2, show_default=True,
              help="Processes rendering cards and sheets (0: in this process).")
@with_app
def cards_issue(app: Flask, union_code: str | None, province_code: str | None, username: str,
                batch_size: int, sheet_cards: int, workers: int) -> None:
    """Issue cards to every active member without one (rerun to resume after a stop)."""
    from app.composition import card_desk_for
    from app.services import batches
    from app.services.imports import scope_of_account

    if bool(union_code) == bool(province_code):
        raise click.UsageError("give exactly one of --union CODE and --province CODE")
    with _session(app) as session:
        scope = scope_of_account(session, username)
        target = batches.resolve_target(session, scope, union_code=union_code,
                                        province_code=province_code)
        job, resumed = batches.start_or_resume(session, scope, target, batch_size=batch_size,
                                               sheet_cards=sheet_cards)
        root = batches.batch_root(app.config)
        desk = card_desk_for(app, session, scope.principal.subject)
        done = int(job.counts.get("processed", 0))
        with click.progressbar(length=max(int(job.counts.get("total", 0)), 1), file=sys.stderr,
                               label=f"issuing cards ({target.label()})") as bar:
            bar.update(done)

            def progress(current: Any) -> None:
                nonlocal done
                processed = int(current.counts.get("processed", 0))
                bar.update(processed - done)
                done = processed

            batches.run_job(session, desk, scope, job, root, workers=workers,
                            on_progress=progress)
        note = f" (resumed job {job.id})" if resumed else f" (job {job.id})"
        click.echo(batches.summary_line(job) + note)
        if job.result.get("sheets"):
            click.echo(f"print sheets: {root / job.id}")
        if job.result.get("letters"):
            click.echo(f"activation letters (once): unioncard cards letters {job.id} "
                       f"--as {username} --out FILE.csv")


@cards_group.command("letters")
@click.argument("job_id")
@click.option("--as", "username", required=True, help="The staff account whose scope applies.")
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the CSV (it can be written once; keep it safe).")
@with_app
def cards_letters(app: Flask, job_id: str, username: str, out_path: Path) -> None:
    """Write a finished batch's activation letters to a CSV file (they are then deleted)."""
    from app.composition import cipher_for_config
    from app.services import batches
    from app.services.imports import scope_of_account

    if out_path.exists():
        raise click.ClickException(f"{out_path} exists; choose a new file")
    with _session(app) as session:
        scope = scope_of_account(session, username)
        job = batches.batch_job(session, scope, job_id)
        text = batches.take_letters(session, cipher_for_config(app.config),
                                    batches.batch_root(app.config), job,
                                    actor=scope.principal.subject)
    with out_path.open("x", encoding="utf-8", newline="") as out:
        out.write(text)
    out_path.chmod(0o600)
    click.echo(f"wrote {job.result['letters']['count']} activation letters to {out_path}")
