"""``unioncard clinics``: clinics, their API clients and devices on the command line; bad
input is a one-line message."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.app.test_health_feeds import TOKEN_URL, basic
from tests.conftest import invoke


def test_cli_manages_clinics(app: Flask, connection) -> None:
    made = invoke(app, "clinics", "create", "--code", "27201", "--name", "Phòng khám KCN Yên Phong",
                  "--province", "24", "--type", "industrial-park-clinic",
                  "--address", "KCN Yên Phong")
    assert made.exit_code == 0, made.stderr
    assert made.stdout == ("27201\taccredited\t24\tindustrial-park-clinic\t"
                           "Phòng khám KCN Yên Phong\n")
    invoke(app, "clinics", "create", "--code", "79201", "--name", "Bệnh viện Quận 7",
           "--province", "79", "--type", "district-hospital")
    assert invoke(app, "clinics", "list").stdout.count("\n") == 2
    assert invoke(app, "clinics", "list", "--province", "79").stdout.startswith("79201\t")
    assert invoke(app, "clinics", "list", "--q", "yen phong").stdout.startswith("27201\t")
    updated = invoke(app, "clinics", "update", "27201", "--name", "Phòng khám Yên Phong 1")
    assert updated.exit_code == 0 and updated.stdout.endswith("Phòng khám Yên Phong 1\n")
    suspended = invoke(app, "clinics", "suspend", "27201", "--reason", "thanh tra")
    assert suspended.exit_code == 0 and "\tsuspended\t" in suspended.stdout
    assert invoke(app, "clinics", "list", "--accreditation", "suspended").stdout.startswith(
        "27201\t")
    shown = invoke(app, "clinics", "show", "27201")
    assert "reason:\tthanh tra" in shown.stdout and "address:\tKCN Yên Phong" in shown.stdout
    assert invoke(app, "clinics", "reinstate", "27201").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (("create", "--code", "2720", "--name", "x", "--province", "24", "--type",
      "private-clinic"), "facility_code: A facility code is 5 digits"),
    (("create", "--code", "27202", "--name", "x", "--province", "99", "--type",
      "private-clinic"), "province_code: Unknown province code '99'"),
    (("reinstate", "27201"), "is accredited: it cannot be reinstated"),
    (("show", "27999"), "No such clinic"),
    (("update", "27201"), "Give at least one of"),
])
def test_cli_bad_input_is_one_line(app: Flask, connection, args, message) -> None:
    invoke(app, "clinics", "create", "--code", "27201", "--name", "Phòng khám Yên Phong",
           "--province", "24", "--type", "industrial-park-clinic")
    result = invoke(app, "clinics", *args)
    assert result.exit_code != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_duplicate_code_is_refused(app: Flask, connection) -> None:
    args = ("clinics", "create", "--code", "27201", "--name", "A", "--province", "24",
            "--type", "private-clinic")
    assert invoke(app, *args).exit_code == 0
    again = invoke(app, *args)
    assert again.exit_code == 1 and "facility code 27201 exists already" in again.stderr


def test_cli_manages_clients_and_devices(app: Flask, client: FlaskClient, connection) -> None:
    invoke(app, "clinics", "create", "--code", "27201", "--name", "Phòng khám Yên Phong",
           "--province", "24", "--type", "industrial-park-clinic")
    made = invoke(app, "clinics", "clients", "create", "27201", "--label", "lễ tân")
    assert made.exit_code == 0, made.stderr
    client_id = made.stdout.split("client_id:")[1].split()[0]
    secret = made.stdout.split("client_secret:")[1].split()[0]
    assert "shown only now" in made.stderr
    token = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=basic(client_id, secret))
    assert token.status_code == 200, token.get_json()
    listed = invoke(app, "clinics", "clients", "list", "27201").stdout
    assert listed == f"{client_id}\tactive\tlễ tân\n"
    rotated = invoke(app, "clinics", "clients", "rotate-secret", client_id)
    assert rotated.exit_code == 0 and secret not in rotated.stdout
    assert invoke(app, "clinics", "clients", "disable", client_id).exit_code == 0
    twice = invoke(app, "clinics", "clients", "disable", client_id)
    assert twice.exit_code == 1 and "disabled already" in twice.stderr
    unknown = invoke(app, "clinics", "clients", "disable", "clinic-27201-nope")
    assert unknown.exit_code == 1 and "No such clinic API client" in unknown.stderr

    device = invoke(app, "clinics", "devices", "register", "27201", "--device-id", "YP-01",
                    "--label", "quầy 1")
    assert device.exit_code == 0 and device.stdout == "YP-01\n"
    assert invoke(app, "clinics", "devices", "register", "27201").stdout.startswith("scanner-")
    taken = invoke(app, "clinics", "devices", "register", "27201", "--device-id", "YP-01")
    assert taken.exit_code == 1 and "device 'YP-01' already" in taken.stderr
    assert invoke(app, "clinics", "devices", "disable", "27201", "YP-01").exit_code == 0
    listed = invoke(app, "clinics", "devices", "list", "27201").stdout.splitlines()
    assert listed[0] == "YP-01\tdisabled\tquầy 1" and listed[1].startswith("scanner-")
    shown = invoke(app, "clinics", "show", "27201").stdout
    assert f"client:\t{client_id}\tdisabled" in shown and "device:\tYP-01\tdisabled" in shown


@pytest.mark.slow
def test_cli_clinics_in_a_subprocess(test_databases) -> None:
    """``python -m app clinics ...`` end to end: environment, output, exit status."""
    import subprocess
    import sys

    from app import migrate
    from tests.conftest import unioncard_env

    url = test_databases.new("clinics_cli")
    migrate.upgrade(url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", "clinics", *args],
                              env=unioncard_env(url), capture_output=True, text=True,
                              timeout=60)

    made = run("create", "--code", "27201", "--name", "Phòng khám Yên Phong", "--province",
               "24", "--type", "industrial-park-clinic")
    assert made.returncode == 0, made.stderr
    creds = run("clients", "create", "27201")
    assert creds.returncode == 0 and creds.stdout.startswith("client_id:     clinic-27201-")
    bad = run("create", "--code", "27201", "--name", "x", "--province", "24", "--type",
              "private-clinic")
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0
    assert "exists already" in bad.stderr
