"""The ``unioncard`` operator command: one module per command group."""

from __future__ import annotations

import click
from flask import Flask

from app.cli import (
    audit,
    cards,
    clinics,
    db,
    demo,
    feeds,
    keys,
    notifications,
    roster,
    trust_bundle,
    users,
    verify,
)
from app.cli import backup as backups
from app.cli import worker as workers


@click.group()
def cli() -> None:
    """unioncard: union member cards carrying the member's electronic health record."""


for _command in (db.db, users.users, demo.demo, roster.roster, keys.keys,
                 trust_bundle.trust_bundle, verify.verify, cards.cards, feeds.feeds,
                 clinics.clinics, audit.audit, notifications.notifications):
    cli.add_command(_command)
for _command in (backups.backup, backups.restore, workers.worker):
    cli.add_command(_command)


def register(app: Flask) -> None:
    """Expose the operator commands under ``flask`` too (``flask --app app db upgrade``)."""
    for name, command in cli.commands.items():
        app.cli.add_command(command, name)


def main() -> None:
    """Entry point of the ``unioncard`` console script."""
    cli(prog_name="unioncard")
