"""``unioncard trust-bundle``: the signed trust bundle for offline scanners."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask

from app.cli.common import cli_session, with_app


@click.group("trust-bundle")
def trust_bundle() -> None:
    """The signed trust bundle for offline scanners."""


@trust_bundle.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--root-out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the root public key (JWK) that scanners pin.")
@with_app
def bundle_export(app: Flask, path: Path, root_out: Path | None) -> None:
    """Write the current trust bundle (JWS) to PATH."""
    from app.composition import publisher_for

    with cli_session(app) as session, session.begin():
        publisher = publisher_for(app, session)
        text, version = publisher.trust_bundle()
        root = publisher.root_jwk()
    path.write_text(text + "\n", encoding="ascii")
    if root_out is not None:
        root_out.write_text(json.dumps(root, sort_keys=True) + "\n", encoding="ascii")
    click.echo(f"trust bundle version {version} written to {path}")
