"""Operator commands for keys, the trust bundle and verification (``unioncard keys ...``)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask

from app.cli import cli_session, with_app


@click.group("keys")
def keys_group() -> None:
    """Card-signing keys and the trust-bundle root key (private keys never leave the server)."""


@keys_group.command("generate")
@click.option("--issuer", help="Issuer id (default: the configured CARD_ISSUER).")
@click.option("--root", is_flag=True, help="Generate the root key that signs trust bundles.")
@with_app
def keys_generate(app: Flask, issuer: str | None, root: bool) -> None:
    """Generate the first signing key of an issuer (or the root key)."""
    from app.composition import key_store
    from app.services.keys import CARD, ROOT, ROOT_ISSUER

    with cli_session(app) as session, session.begin():
        store = key_store(session, app.config, "cli")
        record = store.generate(ROOT_ISSUER if root else issuer or app.config["CARD_ISSUER"],
                                ROOT if root else CARD)
        click.echo(f"generated {record.purpose} key {record.kid} for {record.issuer}")
        if root:
            click.echo("pin this root public key in scanners:\n"
                       + json.dumps(record.public_jwk, sort_keys=True))


@keys_group.command("rotate")
@click.option("--issuer", help="Issuer id (default: the configured CARD_ISSUER).")
@with_app
def keys_rotate(app: Flask, issuer: str | None) -> None:
    """Make a new active key; the old one keeps verifying its cards until they expire."""
    from app.composition import key_store

    with cli_session(app) as session, session.begin():
        new, old = key_store(session, app.config, "cli").rotate(
            issuer or app.config["CARD_ISSUER"])
        click.echo(f"active key {new.kid}" + (f"; retired {old.kid}" if old else ""))


@keys_group.command("list")
@with_app
def keys_list(app: Flask) -> None:
    """List every key with its status."""
    from app.composition import key_store

    with cli_session(app) as session, session.begin():
        store = key_store(session, app.config, "cli")
        for record in store.all_keys():
            last = store.last_expiry(record.kid)
            until = f"  cards until {last:%Y-%m-%d}" if last else ""
            click.echo(f"{record.kid}  {record.purpose:4}  {record.issuer:14}  "
                       f"{record.status.value:8}  created {record.created_at:%Y-%m-%d}{until}")


@keys_group.command("revoke")
@click.argument("kid")
@click.option("--reason", required=True, help="Why (e.g. 'private key leaked').")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def keys_revoke(app: Flask, kid: str, reason: str, yes: bool) -> None:
    """Revoke a compromised key: every card it signed becomes revoked (key-compromise)."""
    from app.composition import key_store

    if not yes:
        click.confirm(f"Revoke key {kid} and every card it signed?", abort=True)
    with cli_session(app) as session, session.begin():
        record, count = key_store(session, app.config, "cli").revoke(kid, reason)
        click.echo(f"revoked key {record.kid}; {count} cards revoked (key-compromise)")


@click.group("trust-bundle")
def bundle_group() -> None:
    """The signed trust bundle for offline scanners."""


@bundle_group.command("export")
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


@click.command("verify")
@click.option("--text", "text", help="The card text (UC1:...).")
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A photo or PNG of the card's QR code.")
@click.option("--at", "at", help="Verify as of this ISO-8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_app
def verify_command(app: Flask, text: str | None, image: Path | None, at: str | None,
                   as_json: bool) -> None:
    """Verify a card against the service's current keys and status lists (exit 0 if valid)."""
    import cards
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
        now = datetime.fromisoformat(at) if at else datetime.now(timezone.utc)
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
