"""``unioncard backup`` and ``unioncard restore``: an online backup of the database and the
files a restore needs, and putting one back into a new place."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from app.cli.common import with_app

#: The directories a backup carries, by the setting that places them.
DIRECTORIES = {"batches": "CARD_BATCH_DIR", "imports": "IMPORT_DIR"}


def _directories(app: Flask) -> dict[str, Path]:
    return {name: Path(str(app.config[setting])) for name, setting in DIRECTORIES.items()}


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_app
def backup(app: Flask, path: Path) -> None:
    """Back up the database and the card-batch and roster files into PATH (new or empty),
    while the service runs. The keys and secrets in the settings are not part of it."""
    from app.services import backup as backups

    summary = backups.backup(app.config["SQLALCHEMY_URL"], path, _directories(app))
    click.echo(f"backed up the {summary.backend} database (schema {summary.schema}) and "
               f"{summary.files - 1} file(s), {summary.bytes} bytes, into {summary.path}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_app
def restore(app: Flask, path: Path) -> None:
    """Restore the backup at PATH into the configured database (new and empty) and file
    directories (new or empty), after checking every file's checksum."""
    from app.services import backup as backups

    summary = backups.restore(path, app.config["SQLALCHEMY_URL"], _directories(app))
    click.echo(f"restored the {summary.backend} database (schema {summary.schema}) and "
               f"{summary.files - 1} file(s); run `unioncard db upgrade` if this version is newer")
