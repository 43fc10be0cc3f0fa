"""``unioncard notifications``: delivering the e-mail outbox over SMTP."""

from __future__ import annotations

import click
from flask import Flask

from app.cli.common import with_app


@click.group()
def notifications() -> None:
    """E-mail notifications to members (emergency access to their record)."""


@notifications.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="At most this many messages in this run.")
@click.option("--requeue-uncertain", is_flag=True,
              help="First put back the messages a stopped run may have sent (they may arrive "
                   "twice).")
@with_app
def notifications_deliver(app: Flask, limit: int, requeue_uncertain: bool) -> None:
    """Send the due outbox messages now (the workers do it every minute; safe to run again
    or at once from two places: a message is never picked twice)."""
    from app.composition import notification_delivery

    try:
        delivery = notification_delivery(app)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if requeue_uncertain:
        click.echo(f"requeued {delivery.requeue_uncertain()} uncertain messages")
    report = delivery.run(limit=limit)
    click.echo(f"sent {report.sent}, retrying later {report.retrying}, failed {report.failed}, "
               f"no address {report.no_address}, newly uncertain {report.uncertain}")
    if report.stopped:
        raise click.ClickException(f"stopped: {report.stopped}")
