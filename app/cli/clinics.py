"""``unioncard clinics``: the clinic directory, clinics' API clients and scanner devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from flask import Flask

from app.cli.common import cli_session, with_app
from app.facility_types import FACILITY_TYPES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.services.clinics.register import ClinicRegister

#: The audit actor of clinic changes made on the command line.
CLI_ACTOR = "cli"
_PAGE = 200


def _register(session: Session) -> ClinicRegister:
    """The clinic register with an operator's (national) scope."""
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.clinics.register import ClinicRegister

    return ClinicRegister(session, Scope(Principal("user", 0, "admin")), actor=CLI_ACTOR)


def _line(clinic: Any) -> str:
    return (f"{clinic.facility_code}\t{clinic.accreditation}\t{clinic.province_code}\t"
            f"{clinic.facility_type}\t{clinic.name}")


@click.group()
def clinics() -> None:
    """Clinics (health facilities by 5-digit facility code), their API clients and scanner
    devices."""


@clinics.command("create")
@click.option("--code", "facility_code", required=True, help="5-digit facility code.")
@click.option("--name", required=True)
@click.option("--province", "province_code", required=True, help="2-digit province code.")
@click.option("--type", "facility_type", required=True, type=click.Choice(list(FACILITY_TYPES)))
@click.option("--address", default="")
@with_app
def clinics_create(app: Flask, **fields: str) -> None:
    """Create an accredited clinic."""
    with cli_session(app) as session, session.begin():
        clinic = _register(session).create(fields)
        line = _line(clinic)
    click.echo(line)


@clinics.command("list")
@click.option("--province", "province_code", help="Only this province.")
@click.option("--type", "facility_type", type=click.Choice(list(FACILITY_TYPES)))
@click.option("--accreditation", type=click.Choice(["accredited", "suspended", "withdrawn"]))
@click.option("--q", help="A fragment of the name (diacritics optional) or the code's start.")
@with_app
def clinics_list(app: Flask, province_code: str | None, facility_type: str | None,
                 accreditation: str | None, q: str | None) -> None:
    """List clinics: facility code, accreditation, province, type, name."""
    from app.services.clinics.register import ClinicQuery

    query = ClinicQuery(province_code=province_code, facility_type=facility_type,
                        accreditation=accreditation, q=q)
    with cli_session(app) as session:
        page = 1
        while True:
            rows, total = _register(session).list(query, page=page, per_page=_PAGE)
            for clinic in rows:
                click.echo(_line(clinic))
            if page * _PAGE >= total:
                break
            page += 1


@clinics.command("show")
@click.argument("facility_code")
@with_app
def clinics_show(app: Flask, facility_code: str) -> None:
    """Show one clinic with its API clients and devices."""
    from app.composition import cipher_for_config
    from app.services.clinics.clients import ClinicClients
    from app.services.clinics.devices import ScannerDevices

    with cli_session(app) as session:
        clinic = _register(session).get(facility_code)
        click.echo(_line(clinic))
        if clinic.address:
            click.echo(f"address:\t{clinic.address}")
        if clinic.accreditation_reason:
            click.echo(f"reason:\t{clinic.accreditation_reason}")
        for client in ClinicClients(session, cipher_for_config(app.config),
                                    actor=CLI_ACTOR).list(clinic):
            click.echo(f"client:\t{client.client_id}\t{client.status}\t{client.label}")
        for device in ScannerDevices(session, actor=CLI_ACTOR).list(clinic):
            click.echo(f"device:\t{device.device_id}\t{device.status}\t{device.label}")


@clinics.command("update")
@click.argument("facility_code")
@click.option("--name")
@click.option("--province", "province_code")
@click.option("--type", "facility_type", type=click.Choice(list(FACILITY_TYPES)))
@click.option("--address")
@with_app
def clinics_update(app: Flask, facility_code: str, **changes: str | None) -> None:
    """Change a clinic's name, province, type or address."""
    given = {name: value for name, value in changes.items() if value is not None}
    if not given:
        raise click.UsageError("Give at least one of --name, --province, --type, --address.")
    with cli_session(app) as session, session.begin():
        line = _line(_register(session).update(facility_code, given))
    click.echo(line)


def _accreditation_command(action: str, help_text: str) -> None:
    @clinics.command(action, help=help_text)
    @click.argument("facility_code")
    @click.option("--reason", default="", help="Why (kept with the clinic and audited).")
    @with_app
    def change(app: Flask, facility_code: str, reason: str) -> None:
        with cli_session(app) as session, session.begin():
            line = _line(_register(session).change_accreditation(facility_code, action,
                                                                 reason))
        click.echo(line)


_accreditation_command("suspend", "Suspend a clinic: its clients get no token, and their "
                                  "tokens stop working at once.")
_accreditation_command("reinstate", "Reinstate a suspended clinic.")
_accreditation_command("withdraw", "Withdraw a clinic's accreditation for good.")


@clinics.group("clients")
def clients() -> None:
    """A clinic's OAuth 2 API clients (client credentials)."""


def _show_secret(client_id: str, secret: str) -> None:
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo("The secret is shown only now: give it to the clinic's system operator.",
               err=True)


@clients.command("create")
@click.argument("facility_code")
@click.option("--label", default="", help="What it is for, e.g. the reception system.")
@with_app
def clients_create(app: Flask, facility_code: str, label: str) -> None:
    """Create an API client of a clinic and print its id and secret (once)."""
    from app.composition import cipher_for_config
    from app.services.clinics.clients import ClinicClients

    with cli_session(app) as session, session.begin():
        clinic = _register(session).get(facility_code)
        made = ClinicClients(session, cipher_for_config(app.config),
                             actor=CLI_ACTOR).create(clinic, label)
        client_id, secret = made.client.client_id, made.client_secret
    _show_secret(client_id, secret)


@clients.command("list")
@click.argument("facility_code")
@with_app
def clients_list(app: Flask, facility_code: str) -> None:
    """List a clinic's API clients: client id, state, label."""
    from app.composition import cipher_for_config
    from app.services.clinics.clients import ClinicClients

    with cli_session(app) as session:
        clinic = _register(session).get(facility_code)
        for client in ClinicClients(session, cipher_for_config(app.config),
                                    actor=CLI_ACTOR).list(clinic):
            click.echo(f"{client.client_id}\t{client.status}\t{client.label}")


@clients.command("rotate-secret")
@click.argument("client_id")
@with_app
def clients_rotate(app: Flask, client_id: str) -> None:
    """Give a clinic client a new secret (printed once); the old one and its tokens stop."""
    from app.composition import cipher_for_config
    from app.services.clinics.clients import ClinicClients

    with cli_session(app) as session, session.begin():
        service = ClinicClients(session, cipher_for_config(app.config), actor=CLI_ACTOR)
        secret = service.rotate_secret(*service.find(client_id)).client_secret
    _show_secret(client_id, secret)


@clients.command("disable")
@click.argument("client_id")
@with_app
def clients_disable(app: Flask, client_id: str) -> None:
    """Disable a clinic client for good: no new token, and its tokens stop at once."""
    from app.composition import cipher_for_config
    from app.services.clinics.clients import ClinicClients

    with cli_session(app) as session, session.begin():
        service = ClinicClients(session, cipher_for_config(app.config), actor=CLI_ACTOR)
        service.disable(*service.find(client_id))
    click.echo(f"disabled {client_id}; its tokens are revoked")


@clinics.group("devices")
def devices() -> None:
    """A clinic's scanner devices."""


@devices.command("register")
@click.argument("facility_code")
@click.option("--device-id", help="What the clinic's system calls it (made up if not given).")
@click.option("--label", default="")
@with_app
def devices_register(app: Flask, facility_code: str, device_id: str | None, label: str) -> None:
    """Register a scanner device of a clinic; prints its device id."""
    from app.services.clinics.devices import ScannerDevices

    with cli_session(app) as session, session.begin():
        clinic = _register(session).get(facility_code)
        made = ScannerDevices(session, actor=CLI_ACTOR).register(clinic, label, device_id)
        shown = made.device_id
    click.echo(shown)


@devices.command("list")
@click.argument("facility_code")
@with_app
def devices_list(app: Flask, facility_code: str) -> None:
    """List a clinic's scanner devices: device id, state, label."""
    from app.services.clinics.devices import ScannerDevices

    with cli_session(app) as session:
        clinic = _register(session).get(facility_code)
        for device in ScannerDevices(session, actor=CLI_ACTOR).list(clinic):
            click.echo(f"{device.device_id}\t{device.status}\t{device.label}")


@devices.command("disable")
@click.argument("facility_code")
@click.argument("device_id")
@with_app
def devices_disable(app: Flask, facility_code: str, device_id: str) -> None:
    """Disable a scanner device for good."""
    from app.services.clinics.devices import ScannerDevices

    with cli_session(app) as session, session.begin():
        clinic = _register(session).get(facility_code)
        service = ScannerDevices(session, actor=CLI_ACTOR)
        service.disable(clinic, service.get(clinic, device_id))
    click.echo(f"disabled device {device_id} of {facility_code}")
