"""``unioncard keys``: card-signing keys and the trust-bundle root key."""

from __future__ import annotations

import json

import click
from flask import Flask

from app.cli.common import cli_session, with_app


@click.group()
def keys() -> None:
    """Card-signing keys and the trust-bundle root key (private keys never leave the server)."""


@keys.command("generate")
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


@keys.command("rotate")
@click.option("--issuer", help="Issuer id (default: the configured CARD_ISSUER).")
@with_app
def keys_rotate(app: Flask, issuer: str | None) -> None:
    """Make a new active key; the old one keeps verifying its cards until they expire."""
    from app.composition import key_store

    with cli_session(app) as session, session.begin():
        new, old = key_store(session, app.config, "cli").rotate(
            issuer or app.config["CARD_ISSUER"])
        click.echo(f"active key {new.kid}" + (f"; retired {old.kid}" if old else ""))


@keys.command("list")
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


@keys.command("revoke")
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
