"""``unioncard feeds``: health-record feed clients (OAuth 2 client credentials)."""

from __future__ import annotations

import click
from flask import Flask

from app.cli.common import cli_session, with_app

#: The audit actor of feed changes made on the command line.
CLI_ACTOR = "cli"


@click.group()
def feeds() -> None:
    """Health-record feed clients that push members' FHIR summaries."""


def _show_secret(client_id: str, secret: str) -> None:
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo("The secret is shown only now: give it to the feed's operator.", err=True)


@feeds.command("create")
@click.option("--name", required=True, help="Who runs the feed, e.g. the provincial system.")
@click.option("--province", "provinces", multiple=True, required=True,
              help="A province code whose members it may push for (repeat for more).")
@with_app
def feeds_create(app: Flask, name: str, provinces: tuple[str, ...]) -> None:
    """Create a feed client and print its client id and secret (once)."""
    from app.composition import cipher_for_config
    from app.services.health.feeds import FeedClients

    with cli_session(app) as session, session.begin():
        made = FeedClients(session, cipher_for_config(app.config),
                           actor=CLI_ACTOR).create(name, provinces)
        client_id, secret = made.feed.client_id, made.client_secret
    _show_secret(client_id, secret)


@feeds.command("list")
@with_app
def feeds_list(app: Flask) -> None:
    """List the feed clients: id, client id, state, provinces, name."""
    from app.composition import cipher_for_config
    from app.services.health.feeds import FeedClients

    with cli_session(app) as session:
        for feed in FeedClients(session, cipher_for_config(app.config), actor=CLI_ACTOR).list():
            state = "active" if feed.active else "disabled"
            click.echo(f"{feed.id}\t{feed.client_id}\t{state}\t{','.join(feed.provinces)}\t"
                       f"{feed.name}")


@feeds.command("rotate-secret")
@click.argument("client_id")
@with_app
def feeds_rotate(app: Flask, client_id: str) -> None:
    """Give a feed client a new secret (printed once); the old one and its tokens stop."""
    from app.composition import cipher_for_config
    from app.services.health.feeds import FeedClients

    with cli_session(app) as session, session.begin():
        service = FeedClients(session, cipher_for_config(app.config), actor=CLI_ACTOR)
        made = service.rotate_secret(service.find(client_id))
        secret = made.client_secret
    _show_secret(client_id, secret)


@feeds.command("disable")
@click.argument("client_id")
@with_app
def feeds_disable(app: Flask, client_id: str) -> None:
    """Disable a feed client: no new token, and its tokens stop working at once."""
    from app.composition import cipher_for_config
    from app.services.health.feeds import FeedClients

    with cli_session(app) as session, session.begin():
        service = FeedClients(session, cipher_for_config(app.config), actor=CLI_ACTOR)
        service.disable(service.find(client_id))
    click.echo(f"disabled {client_id}; its tokens are revoked")
