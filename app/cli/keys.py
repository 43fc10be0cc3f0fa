"""``unioncard keys``: card-signing keys, the trust-bundle root key, and the data-encryption
keys of data at rest."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask

from app.cli.common import JobProgress, cli_session, with_app


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
    from app.services.issuing.keys import CARD, ROOT, ROOT_ISSUER

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


@keys.command("rotate-data-key")
@click.option("--check", is_flag=True, help="Only list what still uses which KEK version.")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="Rows per committed batch.")
@click.option("--here", is_flag=True,
              help="Run the rotation in this process instead of a `unioncard worker`.")
@with_app
def keys_rotate_data_key(app: Flask, check: bool, batch_size: int, here: bool) -> None:
    """Re-wrap every data key with the newest KEK (UNIONCARD_DATA_KEY) and re-encrypt values of
    the older one-key format, in committed batches, as a background job (waited for here);
    rerun after an interruption to continue."""
    from app.composition import cipher_for_config
    from app.services import data_key_jobs
    from app.services.data_keys import DataKeyRotation

    cipher = cipher_for_config(app.config)
    with cli_session(app) as session:
        if check:
            rotation = DataKeyRotation(session, cipher, batch_size=batch_size)
            click.echo(f"newest KEK {cipher.current}; configured {', '.join(cipher.versions)}")
            for target, counts in rotation.census().items():
                listed = ", ".join(f"{v}: {n}" for v, n in sorted(counts.items())) or "none"
                click.echo(f"{target:24} {listed}")
            left = sum(rotation.left(target) for target in rotation.census())
            click.echo(f"{left} rows not under the newest KEK")
            return

        def report(progress: Any) -> None:
            click.echo(f"{progress.target}: {progress.rewrapped} re-wrapped, "
                       f"{progress.left} left under older keys", err=True)

        job, _ = data_key_jobs.start(session, batch_size=batch_size)
        progress = JobProgress(app, "re-wrapping data keys",
                               lambda job: int(job.counts.get("processed", 0)), here=here)
        progress.launch(job.id, data_key_jobs.rotation_work(cipher, on_batch=report,
                                                            on_progress=progress))
        session.refresh(job)
        for target in job.result.get("targets", []):
            click.echo(f"{target['target']:24} {target['rewrapped']} re-wrapped, "
                       f"{target['skipped']} changed meanwhile, {target['left']} left")
    click.echo(f"every value is under KEK {cipher.current}")
