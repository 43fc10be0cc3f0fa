"""End to end: a card issued through the API, downloaded as PNG, verifies offline with the
published trust bundle (python -m cards verify, zxing-cpp decoding); after revocation and a
bundle refresh it verifies as revoked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.app.cards_helpers import office
from tests.conftest import TEST_CONFIG


def offline_verify(tmp_path: Path, client, png: bytes) -> tuple[int, dict]:
    (tmp_path / "card.png").write_bytes(png)
    (tmp_path / "bundle.jws").write_text(client.get("/api/v1/trust-bundle").get_data(
        as_text=True))
    (tmp_path / "root.jwk").write_text(client.get("/.well-known/unioncard-root.jwk").get_data(
        as_text=True))
    result = subprocess.run(
        [sys.executable, "-m", "cards", "verify", "--image", str(tmp_path / "card.png"),
         "--trust", str(tmp_path / "bundle.jws"), "--root", str(tmp_path / "root.jwk"),
         "--json"], capture_output=True, text=True, timeout=60)
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def test_issued_card_png_verifies_offline_then_revoked(client, factory, tmp_path) -> None:
    world = office(factory)
    h = world["headers"]
    card = client.post(f"/api/v1/members/{world['yen'].id}/cards", headers=h).get_json()
    png = client.get(f"/api/v1/cards/{card['serial']}/card.png", headers=h).data
    code, result = offline_verify(tmp_path, client, png)
    assert code == 0 and result["status"] == "valid"
    assert result["claims"]["name"] == "Nguyễn Thị Kim Yến"
    assert result["claims"]["serial"] == card["serial"]
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "stolen"}, headers=h)
    code, result = offline_verify(tmp_path, client, png)
    assert code == 1 and result["status"] == "revoked"


def test_suspended_card_verifies_as_suspended(client, factory, tmp_path) -> None:
    world = office(factory)
    h = world["headers"]
    card = client.post(f"/api/v1/members/{world['binh'].id}/cards", headers=h).get_json()
    client.post(f"/api/v1/cards/{card['serial']}/suspend", json={"reason": "lost"}, headers=h)
    png = client.get(f"/api/v1/cards/{card['serial']}/qr.png", headers=h).data
    code, result = offline_verify(tmp_path, client, png)
    assert (code, result["status"]) == (1, "suspended")


def test_unioncard_cli_keys_bundle_and_verify(test_databases, tmp_path) -> None:
    """The operator commands against a real database: keys, export, verify."""
    from app import migrate

    url = test_databases.new("clikeys")
    migrate.upgrade(url)
    env = {**os.environ, **{f"UNIONCARD_{k}": str(v) for k, v in TEST_CONFIG.items()},
           "UNIONCARD_DATABASE_URL": url, "UNIONCARD_ENV": "development",
           "UNIONCARD_ROOT": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    assert run("keys", "generate", "--root").returncode == 0
    generated = run("keys", "generate")
    assert generated.returncode == 0 and "generated card key" in generated.stdout
    again = run("keys", "generate")
    assert again.returncode == 1 and again.stderr.startswith("Error: VN-VGCL already has")
    assert run("demo", "load").returncode == 0
    listed = run("keys", "list").stdout.splitlines()
    assert len(listed) == 2 and any(" root " in line for line in listed)
    export = run("trust-bundle", "export", str(tmp_path / "b.jws"), "--root-out",
                 str(tmp_path / "root.jwk"))
    assert export.returncode == 0 and (tmp_path / "b.jws").read_text().startswith("eyJ")
    assert run("verify", "--text", "UC1:NOT-A-CARD").returncode == 1
    usage = run("verify")
    assert usage.returncode == 2 and "exactly one of --text or --image" in usage.stderr
    rotated = run("keys", "rotate")
    assert rotated.returncode == 0 and "retired" in rotated.stdout
    revoked = run("keys", "revoke", listed[0].split()[0] if " card " in listed[0]
                  else listed[1].split()[0], "--reason", "test compromise", "--yes")
    assert revoked.returncode == 0 and "50 cards revoked" in revoked.stdout, revoked.stdout
    assert "Traceback" not in generated.stderr + again.stderr + usage.stderr + revoked.stderr
