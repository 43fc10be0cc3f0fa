"""The application factory and configuration rules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import create_app
from app.config import ConfigError
from app.extensions import db
from tests.conftest import TEST_CONFIG, invoke


def test_factory_builds_independent_apps(make_app) -> None:
    one = make_app()
    two = make_app({"TOKEN_TTL_SECONDS": 60})
    assert one is not two
    assert one.config["TOKEN_TTL_SECONDS"] == 900
    assert two.config["TOKEN_TTL_SECONDS"] == 60
    assert one.config["TESTING"] is True


def test_environment_variables_are_read_with_prefix(monkeypatch: pytest.MonkeyPatch,
                                                    make_app) -> None:
    monkeypatch.setenv("UNIONCARD_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("UNIONCARD_PUBLIC_BASE_URL", "https://the.example")
    app = make_app()
    assert app.config["TOKEN_TTL_SECONDS"] == 120
    assert app.config["PUBLIC_BASE_URL"] == "https://the.example"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATA_KEY", "KEY_PASSPHRASE"])
def test_production_refuses_to_start_without_each_secret(
        monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "KEY_PASSPHRASE", "ENV"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    config = {k: v for k, v in TEST_CONFIG.items() if k not in (missing, "ENV")}
    with pytest.raises(ConfigError, match=f"UNIONCARD_{missing}"):
        create_app(config)


def test_production_is_the_default_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "KEY_PASSPHRASE", "ENV"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    with pytest.raises(ConfigError, match="production mode needs"):
        create_app({})


def test_production_rejects_a_short_secret_key(database_url: str) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        create_app({**TEST_CONFIG, "ENV": "production", "SECRET_KEY": "short",
                    "DATABASE_URL": database_url})


def test_production_starts_with_real_secrets(make_app) -> None:
    app = make_app({"ENV": "production"})
    assert app.config["TESTING"] is False


@pytest.mark.parametrize("value", ["not base64!!", "c2hvcnQ="])
def test_data_key_must_be_32_bytes_of_base64(value: str, database_url: str) -> None:
    with pytest.raises(ConfigError, match="DATA_KEY"):
        create_app({**TEST_CONFIG, "DATA_KEY": value, "DATABASE_URL": database_url})


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="UNIONCARD_ENV"):
        create_app({**TEST_CONFIG, "ENV": "staging"})


def test_development_generates_and_keeps_secrets(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                 make_app) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "KEY_PASSPHRASE"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    monkeypatch.setenv("UNIONCARD_ROOT", str(tmp_path))
    first = make_app({"ENV": "development", "LOG_LEVEL": "WARNING"}, base=False)
    second = make_app({"ENV": "development", "LOG_LEVEL": "WARNING"}, base=False)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["DATA_KEY_BYTES"]) == 32
    assert (tmp_path / "var" / "dev-secrets.json").stat().st_mode & 0o077 == 0
    assert str(tmp_path / "var" / "unioncard.db") in first.config["DATABASE_URL"]


def test_cli_reports_config_errors_in_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from app.cli import cli

    for name in [n for n in os.environ if n.startswith("UNIONCARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UNIONCARD_ENV", "production")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: production mode needs these secrets set: UNIONCARD_SECRET_KEY, "
        "UNIONCARD_DATA_KEY, UNIONCARD_KEY_PASSPHRASE"]


def test_cli_shows_the_database_revision(make_app) -> None:
    from app import migrate

    application = make_app()
    result = invoke(application, "db", "current")
    head = migrate.revisions(db.engine_for(application))[1]
    assert result.exit_code == 0 and result.stdout == f"current: {head}\nhead:    {head}\n"


@pytest.mark.slow
def test_cli_reports_config_errors_in_one_line_in_a_subprocess(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "UNIONCARD_ENV": "production", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "app", "db", "current"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: production mode needs these secrets set: UNIONCARD_SECRET_KEY, "
        "UNIONCARD_DATA_KEY, UNIONCARD_KEY_PASSPHRASE"]
    assert "Traceback" not in result.stderr
