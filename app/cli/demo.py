"""``unioncard demo``: demo data for development."""

from __future__ import annotations

import click
from flask import Flask

from app.cli.common import cli_session, with_app


@click.group()
def demo() -> None:
    """Demo data for development."""


@demo.command("load")
@with_app
def demo_load(app: Flask) -> None:
    """Load demo data into an empty database (idempotent; refused in production)."""
    from app.composition import card_desk_for, cipher_for_config
    from app.services import demo as demo_service

    if app.config["ENV"] == "production":
        raise click.ClickException("demo data is for development only (UNIONCARD_ENV=production)")
    with cli_session(app) as session, session.begin():
        report = demo_service.load(session, cipher_for_config(app.config),
                                   card_desk_for(app, session, "demo"))
    for line in report.lines():
        click.echo(line)
