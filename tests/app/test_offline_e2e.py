"""End to end: a card issued through the API, downloaded as PNG, verifies offline with the
published trust bundle (the ``cards verify`` command, zxing-cpp decoding); after revocation and
a bundle refresh it verifies as revoked. And the operator commands for keys, the trust bundle
and verification."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cards.__main__ import main as cards_main
from tests.app.cards_helpers import office
from tests.conftest import invoke, unioncard_env


def offline_verify(tmp_path: Path, client, png: bytes,
                   capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    (tmp_path / "card.png").write_bytes(png)
    (tmp_path / "bundle.jws").write_text(client.get("/api/v1/trust-bundle").get_data(
        as_text=True))
    (tmp_path / "root.jwk").write_text(client.get("/.well-known/unioncard-root.jwk").get_data(
        as_text=True))
    capsys.readouterr()
    code = cards_main(["verify", "--image", str(tmp_path / "card.png"),
                       "--trust", str(tmp_path / "bundle.jws"), "--root", str(tmp_path / "root.jwk"),
                       "--json"])
    out, err = capsys.readouterr()
    assert err == "", err
    return code, json.loads(out)


def test_issued_card_png_verifies_offline_then_revoked(client, factory, tmp_path, capsys) -> None:
    world = office(factory)
    h = world["headers"]
    card = client.post(f"/api/v1/members/{world['yen'].id}/cards", headers=h).get_json()
    png = client.get(f"/api/v1/cards/{card['serial']}/card.png", headers=h).data
    code, result = offline_verify(tmp_path, client, png, capsys)
    assert code == 0 and result["status"] == "valid"
    assert result["claims"]["name"] == "Nguyễn Thị Kim Yến"
    assert result["claims"]["serial"] == card["serial"]
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "stolen"}, headers=h)
    code, result = offline_verify(tmp_path, client, png, capsys)
    assert code == 1 and result["status"] == "revoked"


def test_suspended_card_verifies_as_suspended(client, factory, tmp_path, capsys) -> None:
    world = office(factory)
    h = world["headers"]
    card = client.post(f"/api/v1/members/{world['binh'].id}/cards", headers=h).get_json()
    client.post(f"/api/v1/cards/{card['serial']}/suspend", json={"reason": "lost"}, headers=h)
    png = client.get(f"/api/v1/cards/{card['serial']}/qr.png", headers=h).data
    code, result = offline_verify(tmp_path, client, png, capsys)
    assert (code, result["status"]) == (1, "suspended")


def test_unioncard_cli_keys_bundle_and_verify(app, connection, tmp_path) -> None:
    """The operator commands: keys, demo data, export, verify."""
    assert invoke(app, "keys", "generate", "--root").exit_code == 0
    generated = invoke(app, "keys", "generate")
    assert generated.exit_code == 0 and "generated card key" in generated.stdout
    again = invoke(app, "keys", "generate")
    assert again.exit_code == 1 and again.stderr.startswith("Error: VN-VGCL already has")
    assert invoke(app, "demo", "load").exit_code == 0
    listed = invoke(app, "keys", "list").stdout.splitlines()
    assert len(listed) == 2 and any(" root " in line for line in listed)
    export = invoke(app, "trust-bundle", "export", str(tmp_path / "b.jws"), "--root-out",
                    str(tmp_path / "root.jwk"))
    assert export.exit_code == 0 and (tmp_path / "b.jws").read_text().startswith("eyJ")
    assert invoke(app, "verify", "--text", "UC1:NOT-A-CARD").exit_code == 1
    usage = invoke(app, "verify")
    assert usage.exit_code == 2 and "exactly one of --text or --image" in usage.stderr
    rotated = invoke(app, "keys", "rotate")
    assert rotated.exit_code == 0 and "retired" in rotated.stdout
    kid = listed[0].split()[0] if " card " in listed[0] else listed[1].split()[0]
    # a key id is base64url and may begin with "-": "--" ends the options before it
    revoked = invoke(app, "keys", "revoke", "--reason", "test compromise", "--yes", "--", kid)
    assert revoked.exit_code == 0 and "50 cards revoked" in revoked.stdout, revoked.stdout


@pytest.mark.slow
def test_unioncard_demo_keys_bundle_and_verify_in_a_subprocess(test_databases,
                                                               tmp_path: Path) -> None:
    """``python -m app`` end to end for the demo, keys, trust-bundle and verify groups."""
    from app import migrate

    url = test_databases.new("clikeys")
    migrate.upgrade(url)
    env = unioncard_env(url, ENV="development", ROOT=str(tmp_path))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    loaded = run("demo", "load")
    assert loaded.returncode == 0, loaded.stderr
    listed = run("keys", "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2
    export = run("trust-bundle", "export", str(tmp_path / "b.jws"))
    assert export.returncode == 0 and (tmp_path / "b.jws").read_text().startswith("eyJ")
    rejected = run("verify", "--text", "UC1:NOT-A-CARD")
    assert rejected.returncode == 1 and rejected.stdout.startswith("invalid"), rejected.stdout
    assert "Traceback" not in loaded.stderr + listed.stderr + export.stderr + rejected.stderr
