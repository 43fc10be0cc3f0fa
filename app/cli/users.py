"""``unioncard users``: staff accounts."""

from __future__ import annotations

import sys

import click
from flask import Flask

from app.cli.common import cli_session, with_app


@click.group()
def users() -> None:
    """Staff accounts (administrators and officers)."""


@users.command("create")
@click.option("--role", type=click.Choice(["admin", "officer"]), required=True)
@click.option("--username", required=True)
@click.option("--province", "province_code", help="Province code (officers).")
@click.option("--union", "union_code", help="Grassroots union code (officers, optional).")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (required: never on the command line).")
@with_app
def users_create(app: Flask, role: str, username: str, province_code: str | None,
                 union_code: str | None, full_name: str, password_stdin: bool) -> None:
    """Create a staff account (bootstraps a fresh production install)."""
    from app.models import Role
    from app.services import accounts

    password = sys.stdin.readline().rstrip("\r\n")
    with cli_session(app) as session, session.begin():
        user = accounts.create_user(session, username=username, password=password,
                                    role=Role(role), province_code=province_code,
                                    union_code=union_code, full_name=full_name)
    scope = f" province {province_code}" if province_code else " (national)"
    scope += f" union {union_code}" if union_code else ""
    click.echo(f"created {role} {user.username}{scope}")
