"""``unioncard verify``: verify a card against the service's current keys and status lists."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask

from app.cli.common import cli_session, with_app


@click.command("verify")
@click.option("--text", "text", help="The card text (UC1:...).")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A photo or PNG of the card's QR code.")
@click.option("--at", "at", help="Verify as of this ISO-8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_app
def verify(app: Flask, text: str | None, image: Path | None, at: str | None,
           as_json: bool) -> None:
    """Verify a card against the service's current keys and status lists (exit 0 if valid)."""
    import cards
    from app import clock
    from app.composition import publisher_for

    if (text is None) == (image is None):
        raise click.UsageError("give exactly one of --text or --image")
    if image is not None:
        from cards.scan import ScanError, read_qr_image

        try:
            text = read_qr_image(image)
        except ScanError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        now = datetime.fromisoformat(at) if at else clock.now()
    except ValueError:
        raise click.UsageError(f"--at {at!r} is not an ISO-8601 time") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    with cli_session(app) as session, session.begin():
        result = cards.verify(text or "", publisher_for(app, session).live_trust(), now=now)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True, default=str))
    else:
        click.echo(f"{result.status} ({result.reason})")
        if result.claims is not None:
            for name, value in result.claims.to_dict().items():
                click.echo(f"  {name}: {value}")
    sys.exit(0 if result.valid else 1)
