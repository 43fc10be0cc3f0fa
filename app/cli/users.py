"""``unioncard users``: staff accounts."""

from __future__ import annotations

import sys

import click
from flask import Flask

from app.cli.common import cli_session, with_app

#: The audit actor of account changes made on the command line.
CLI_ACTOR = "cli"


@click.group()
def users() -> None:
    """Staff accounts (administrators and officers)."""


@users.command("create")
@click.option("--role", type=click.Choice(["admin", "officer"]), required=True)
@click.option("--username", required=True)
@click.option("--province", "province_code", help="Province code (officers).")
@click.option("--union", "union_code", help="Grassroots union code (officers, optional).")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True,
              help="Read the password as one line of standard input (scripts); without it the "
                   "password is asked for, hidden, twice. Never on the command line.")
@with_app
def users_create(app: Flask, role: str, username: str, province_code: str | None,
                 union_code: str | None, full_name: str, password_stdin: bool) -> None:
    """Create a staff account (bootstraps a fresh production install)."""
    from app.models import Role
    from app.services.access import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    with cli_session(app) as session, session.begin():
        user = accounts.create_user(session, username=username, password=password,
                                    role=Role(role), province_code=province_code,
                                    union_code=union_code, full_name=full_name)
    scope = f" province {province_code}" if province_code else " (national)"
    scope += f" union {union_code}" if union_code else ""
    click.echo(f"created {role} {user.username}{scope}")


@users.command("disable")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@with_app
def users_disable(app: Flask, username: str, reason: str) -> None:
    """Disable an account and revoke every token it holds, at once."""
    from app.services.access import accounts

    with cli_session(app) as session, session.begin():
        user = accounts.disable_user(session, accounts.find_user(session, username),
                                     actor=CLI_ACTOR, reason=reason)
        name = user.username
    click.echo(f"disabled {name}; its tokens are revoked")


@users.command("enable")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@with_app
def users_enable(app: Flask, username: str, reason: str) -> None:
    """Let a disabled account log in again (tokens revoked by disabling stay revoked)."""
    from app.services.access import accounts

    with cli_session(app) as session, session.begin():
        user = accounts.enable_user(session, accounts.find_user(session, username),
                                    actor=CLI_ACTOR, reason=reason)
        name = user.username
    click.echo(f"enabled {name}")
