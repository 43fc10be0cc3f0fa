"""``unioncard audit``: checkpoints of the access-event chains and their verification."""

from __future__ import annotations

import re

import click
from flask import Flask

from app.cli.common import cli_session, with_app

#: Broken chains listed after the first one.
SHOWN = 50
#: What a checkpoint digest looks like (SHA-256, hex).
DIGEST = re.compile(r"[0-9a-f]{64}")


def _digest(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    digest = value.strip().lower()
    if not DIGEST.fullmatch(digest):
        raise click.BadParameter("a checkpoint digest is 64 hexadecimal characters, as "
                                 "'unioncard audit checkpoint' and the workers' log print it")
    return digest


@click.group()
def audit() -> None:
    """The access log's hash chains: checkpoint them, verify them."""


@audit.command("checkpoint")
@with_app
def audit_checkpoint(app: Flask) -> None:
    """Record the head of every chain that moved since the last checkpoint now (the workers
    make one hourly); keep the printed digest outside the database too."""
    import logging

    from app.composition import checkpoint_key
    from app.services.access_events.checkpoints import make_checkpoint

    with cli_session(app) as session, session.begin():
        made = make_checkpoint(session, actor="cli", key=checkpoint_key(app.config))
    logging.getLogger("unioncard.audit").info(
        "access checkpoint %s digest %s heads %s", made.id, made.digest, made.heads)
    click.echo(f"checkpoint {made.id} at {made.at:%Y-%m-%dT%H:%M:%SZ}: {made.heads} chain heads,"
               f" digest {made.digest}")


@audit.command("verify")
@click.option("--expect", metavar="DIGEST", callback=_digest,
              help="a checkpoint digest kept outside the database (printed by 'audit "
                   "checkpoint', logged by the workers): fail unless a checkpoint has it")
@with_app
def audit_verify(app: Flask, expect: str | None) -> None:
    """Check every chain, emergency text and checkpoint (signatures included), and with
    --expect that the checkpoints still hold a digest kept elsewhere; name the first changed or
    missing event of each broken chain (exit code 1)."""
    from sqlalchemy.engine import Engine

    from app.composition import checkpoint_key, cipher_for_config
    from app.services.access_events.verify import verify

    with cli_session(app) as session:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql" and isinstance(bind, Engine):
            # one snapshot for the whole walk: appends committed meanwhile are not half-seen
            # (SQLite's read transaction is one snapshot already; a session bound to an open
            # connection, as in tests, keeps that connection's transaction)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = verify(session, cipher=cipher_for_config(app.config),
                        key=checkpoint_key(app.config), expect=expect)
        session.rollback()
    click.echo(f"checked {report.chains} chains, {report.events} events, {report.checkpoints} "
               f"checkpoints ({report.checkpoint_heads} recorded heads)")
    if report.ok:
        click.echo("access log intact")
        return
    first, *rest = report.findings
    click.echo(f"FIRST changed or missing: {first.describe()}", err=True)
    for finding in rest[:SHOWN]:
        click.echo(f"also: {finding.describe()}", err=True)
    if len(rest) > SHOWN:
        click.echo(f"... and {len(rest) - SHOWN} more broken chains", err=True)
    raise click.exceptions.Exit(1)
