"""``unioncard cards``: batch issuance, print sheets and activation letters."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import click
from flask import Flask

from app.cli.common import JobProgress, cli_session, with_app


@click.group()
def cards() -> None:
    """Union cards in bulk: batch issuance, print sheets and activation letters."""


@cards.command("issue")
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
@click.option("--here", is_flag=True,
              help="Run the batch in this process instead of a `unioncard worker`.")
@with_app
def cards_issue(app: Flask, union_code: str | None, province_code: str | None, username: str,
                batch_size: int, sheet_cards: int, workers: int, here: bool) -> None:
    """Issue cards to every active member without one (rerun to resume after a stop)."""
    from app.composition import batch_settings, card_desk_for
    from app.services.issuing import batches
    from app.services.registry.imports import scope_of_account

    if bool(union_code) == bool(province_code):
        raise click.UsageError("give exactly one of --union CODE and --province CODE")
    settings = dataclasses.replace(batch_settings(app.config), batch_size=batch_size,
                                   sheet_cards=sheet_cards, workers=workers)
    with cli_session(app) as session:
        scope = scope_of_account(session, username)
        target = batches.resolve_target(session, scope, union_code=union_code,
                                        province_code=province_code)
        progress = JobProgress(app, f"issuing cards ({target.label()})",
                               lambda job: int(job.counts.get("processed", 0)), here=here)
        job, resumed = batches.start(session, scope, target, settings=settings,
                                     desks=functools.partial(card_desk_for, app),
                                     launch=progress.launch, on_progress=progress)
        session.refresh(job)  # it ran in a session of its own
        note = f" (resumed job {job.id})" if resumed else f" (job {job.id})"
        click.echo(batches.summary_line(job) + note)
        if job.result.get("sheets"):
            click.echo(f"print sheets: {settings.root / job.id}")
        if job.result.get("letters"):
            click.echo(f"activation letters (once): unioncard cards letters {job.id} "
                       f"--as {username} --out FILE.csv")


@cards.command("letters")
@click.argument("job_id")
@click.option("--as", "username", required=True, help="The staff account whose scope applies.")
@click.option("--out", "out_path", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the CSV (it can be written once; keep it safe).")
@with_app
def cards_letters(app: Flask, job_id: str, username: str, out_path: Path) -> None:
    """Write a finished batch's activation letters to a CSV file (they are then deleted)."""
    from app.composition import batch_settings, cipher_for_config
    from app.services.issuing import batches
    from app.services.registry.imports import scope_of_account

    if out_path.exists():
        raise click.ClickException(f"{out_path} exists; choose a new file")
    with cli_session(app) as session:
        scope = scope_of_account(session, username)
        job = batches.batch_job(session, scope, job_id)
        text = batches.take_letters(session, cipher_for_config(app.config),
                                    batch_settings(app.config).root, job,
                                    actor=scope.principal.subject)
    with out_path.open("x", encoding="utf-8", newline="") as out:
        out.write(text)
    out_path.chmod(0o600)
    click.echo(f"wrote {job.result['letters']['count']} activation letters to {out_path}")


@cards.command("refresh-on-card")
@with_app
def cards_refresh_on_card(app: Flask) -> None:
    """Reissue, without the emergency core, the cards whose on-card consent has expired (each
    flagged for reprint). The workers do it daily; idempotent: a second run does nothing."""
    from app.composition import card_desk_for
    from app.services.health.on_card import refresh_lapsed

    with cli_session(app) as session:
        result = refresh_lapsed(card_desk_for(app, session, "system:refresh-on-card"),
                                after_each=session.commit)
        session.commit()
    click.echo(f"{len(result.lapsed)} card(s) carried an emergency core whose on-card consent "
               f"has lapsed; {len(result.reissued)} reissued without it for reprint")
    for serial in result.reissued:
        click.echo(f"reissued {serial}")
