"""The application factory and configuration rules."""

from __future__ import annotations

import base64
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


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE"])
def test_production_refuses_to_start_without_each_secret(
        monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE", "ENV"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    config = {k: v for k, v in TEST_CONFIG.items() if k not in (missing, "ENV")}
    with pytest.raises(ConfigError, match=f"UNIONCARD_{missing}"):
        create_app(config)


def test_production_is_the_default_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE", "ENV"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    with pytest.raises(ConfigError, match="production mode needs"):
        create_app({})


def test_production_rejects_a_short_secret_key(database_url: str) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        create_app({**TEST_CONFIG, "ENV": "production", "SECRET_KEY": "short",
                    "DATABASE_URL": database_url})


#: Production secrets that pass its checks (random, like the README's commands make them).
PRODUCTION_SECRETS = {
    "SECRET_KEY": "oE4tQx9vK2mZr7LwB1nYc6HdPj3sUa8GfTe5Xk0VqRi",
    "DATA_KEY": "q3Jx8mZ0b2Vt9L4kP7sN1cR6yH5wE2aD0fG3uI8oT1Q=",
    "LOOKUP_KEY": "Zk7pW2xR9mL4vB6nQ1tY8cH3sJ5dF0gK2aE7uO4iP9M=",
    "KEY_PASSPHRASE": "correct horse battery staple",
    "AUDIT_CHECKPOINT_KEY": "Hn3vQ8rT1xKz5mWb9LcY2pDs7JfE4gUaRk6NtV0oBi",
}


def test_production_starts_with_real_secrets(make_app) -> None:
    app = make_app({"ENV": "production", **PRODUCTION_SECRETS,
                    "PUBLIC_BASE_URL": "https://the.example/"})
    assert app.config["TESTING"] is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is False
    assert app.config["PUBLIC_BASE_URL"] == "https://the.example"


def test_production_refuses_to_start_without_a_public_url(database_url: str) -> None:
    """Cards and status lists carry the public URL: production never guesses it."""
    with pytest.raises(ConfigError, match="UNIONCARD_PUBLIC_BASE_URL must be set"):
        create_app({**TEST_CONFIG, "ENV": "production", **PRODUCTION_SECRETS,
                    "DATABASE_URL": database_url})


def test_the_public_url_defaults_to_where_the_service_listens(make_app) -> None:
    """Regression (issue 14): ``scripts/serve`` on another port wrote 127.0.0.1:5000 into
    status lists and NFC links."""
    assert make_app({"PORT": 8123}).config["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert make_app({"PORT": 8123, "PUBLIC_BASE_URL": "https://cards.example/u/"}).config[
        "PUBLIC_BASE_URL"] == "https://cards.example/u"
    for bad in ("cards.example", "ftp://cards.example", "https://cards.example/?x=1"):
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an absolute"):
            make_app({"PUBLIC_BASE_URL": bad})


@pytest.mark.parametrize("name, value, reason", [
    ("SECRET_KEY", "a" * 32, "SECRET_KEY is too predictable"),
    ("SECRET_KEY", "ab" * 24, "SECRET_KEY is too predictable"),
    ("SECRET_KEY", "password" * 4, "SECRET_KEY is too predictable"),
    ("SECRET_KEY", "abcdefghijklmnopqrstuvwxyz0123456789", "SECRET_KEY is too predictable"),
    ("DATA_KEY", base64.b64encode(bytes(32)).decode(), "DATA_KEY is a byte pattern"),
    ("DATA_KEY", base64.b64encode(b"\x5a" * 32).decode(), "DATA_KEY is a byte pattern"),
    ("DATA_KEY", base64.b64encode(bytes(range(32))).decode(), "DATA_KEY is a byte pattern"),
    ("DATA_KEY", base64.b64encode(b"0123456789abcdef" * 2).decode(),
     "DATA_KEY is a byte pattern"),
    ("LOOKUP_KEY", base64.b64encode(bytes(32)).decode(), "LOOKUP_KEY is a byte pattern"),
    ("LOOKUP_KEY", PRODUCTION_SECRETS["DATA_KEY"], "LOOKUP_KEY must differ"),
    ("KEY_PASSPHRASE", " ", "KEY_PASSPHRASE must have at least 16"),
    ("KEY_PASSPHRASE", " " * 20, "KEY_PASSPHRASE must have at least 16"),
    ("KEY_PASSPHRASE", "short-passphrase"[:15], "KEY_PASSPHRASE must have at least 16"),
    ("KEY_PASSPHRASE", "a" * 16, "KEY_PASSPHRASE is too predictable"),
    ("KEY_PASSPHRASE", "passphrase" * 2, "KEY_PASSPHRASE is too predictable"),
    ("DATA_KEY", base64.b64encode(b"my-very-secret-unioncard-key-123").decode(),
     "DATA_KEY is text"),
    ("LOOKUP_KEY", base64.b64encode(b"Lookup key for the union cards!!").decode(),
     "LOOKUP_KEY is text"),
    ("RATELIMIT_ENABLED", False, "RATELIMIT_ENABLED cannot be switched off"),
    ("RATELIMIT_ENABLED", "false", "RATELIMIT_ENABLED cannot be switched off"),
    ("DEBUG", True, "DEBUG cannot be on"),
    ("PROPAGATE_EXCEPTIONS", True, "PROPAGATE_EXCEPTIONS cannot be on"),
])
def test_production_refuses_weak_settings_in_one_line(database_url: str, name: str,
                                                      value: object, reason: str) -> None:
    config = {**TEST_CONFIG, "ENV": "production", **PRODUCTION_SECRETS, name: value,
              "DATABASE_URL": database_url}
    with pytest.raises(ConfigError, match=f"UNIONCARD_{reason}") as refused:
        create_app(config)
    assert "\n" not in str(refused.value)


def test_production_reads_weak_settings_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """``UNIONCARD_DEBUG=true`` as an operator would set it."""
    for name, value in {**PRODUCTION_SECRETS, "ENV": "production", "DEBUG": "true",
                        "DATABASE_URL": database_url}.items():
        monkeypatch.setenv(f"UNIONCARD_{name}", value)
    with pytest.raises(ConfigError, match="UNIONCARD_DEBUG cannot be on in production"):
        create_app({})
    monkeypatch.setenv("UNIONCARD_DEBUG", "false")
    monkeypatch.setenv("UNIONCARD_RATELIMIT_ENABLED", "false")
    with pytest.raises(ConfigError, match="UNIONCARD_RATELIMIT_ENABLED"):
        create_app({})


def test_production_answers_problem_json_even_when_testing_is_on(make_app) -> None:
    """Flask re-raises unhandled errors to the server under TESTING or DEBUG; production
    never does, so a crash is still one problem+json 500."""
    app = make_app({"ENV": "production", "TESTING": True, **PRODUCTION_SECRETS,
                    "PUBLIC_BASE_URL": "https://the.example"})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("name", ["LOGIN_RATE_LIMIT", "LOGIN_ADDRESS_RATE_LIMIT"])
@pytest.mark.parametrize("env", ["production", "testing"])
def test_an_unreadable_login_limit_is_refused_at_start(database_url: str, name: str,
                                                       env: str) -> None:
    # flask-limiter skips a limit it cannot parse: logins were then not limited at all
    config = {**TEST_CONFIG, "ENV": env, **PRODUCTION_SECRETS, name: "10 per minutes please",
              "DATABASE_URL": database_url}
    with pytest.raises(ConfigError, match=f"UNIONCARD_{name}") as refused:
        create_app(config)
    assert "\n" not in str(refused.value)


def test_weak_settings_are_allowed_outside_production(make_app) -> None:
    app = make_app({"KEY_PASSPHRASE": " ", "DEBUG": True, "RATELIMIT_ENABLED": False})
    assert app.config["DEBUG"] is True


@pytest.mark.parametrize("value", ["not base64!!", "c2hvcnQ="])
def test_data_key_must_be_32_bytes_of_base64(value: str, database_url: str) -> None:
    with pytest.raises(ConfigError, match="DATA_KEY"):
        create_app({**TEST_CONFIG, "DATA_KEY": value, "DATABASE_URL": database_url})


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="UNIONCARD_ENV"):
        create_app({**TEST_CONFIG, "ENV": "staging"})


def test_development_generates_and_keeps_secrets(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                 make_app) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    monkeypatch.setenv("UNIONCARD_ROOT", str(tmp_path))
    first = make_app({"ENV": "development", "LOG_LEVEL": "WARNING"}, base=False)
    second = make_app({"ENV": "development", "LOG_LEVEL": "WARNING"}, base=False)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["DATA_KEY_BYTES"]) == 32
    assert first.config["LOOKUP_KEY"] == second.config["LOOKUP_KEY"] != first.config["DATA_KEY"]
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
        "UNIONCARD_DATA_KEY, UNIONCARD_LOOKUP_KEY, UNIONCARD_KEY_PASSPHRASE"]


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
        "UNIONCARD_DATA_KEY, UNIONCARD_LOOKUP_KEY, UNIONCARD_KEY_PASSPHRASE"]
    assert "Traceback" not in result.stderr


def test_root_and_port_are_read_as_before(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                          make_app) -> None:
    numeric_root = tmp_path / "2024"
    monkeypatch.setenv("UNIONCARD_ROOT", str(numeric_root))
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("UNIONCARD_JOBS_SYNC", "true")
    app = make_app()
    assert app.config["ROOT"] == str(numeric_root)
    assert app.config["IMPORT_DIR"] == str(numeric_root / "var" / "imports")
    assert app.config["PORT"] == 8080 and app.config["JOBS_SYNC"] is True
    monkeypatch.setenv("UNIONCARD_PORT", "9090")
    assert make_app().config["PORT"] == 9090


def test_every_documented_variable_has_its_default_in_config() -> None:
    """The configuration table (docs/reference/configuration.md) and ``config.defaults`` name
    the same settings."""
    import json
    import re
    from pathlib import Path

    from app.config import defaults

    page = Path(__file__).resolve().parents[2] / "docs" / "reference" / "configuration.md"
    table = page.read_text(encoding="utf-8").split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `UNIONCARD_([A-Z0-9_]+)`", table, re.MULTILINE))
    settings = set(defaults(Path("/srv"))) - {"API_TITLE", "API_VERSION", "OPENAPI_VERSION",
                                               "OPENAPI_URL_PREFIX", "OPENAPI_JSON_PATH",
                                               "OPENAPI_SWAGGER_UI_PATH",
                                               "OPENAPI_SWAGGER_UI_URL", "PORT"}
    outside_the_app = {"MIGRATIONS_DIR", "TEST_DATABASE_URL"}  # read by migrate.py and tests
    assert documented - outside_the_app == settings
    values = defaults(Path("/srv"))
    for name, shown in re.findall(r"^\| `UNIONCARD_([A-Z0-9_]+)` \| `([^`<]*)` \|", table,
                                  re.MULTILINE):
        value = values[name]
        assert (value if isinstance(value, str) else json.dumps(value)) == shown, name


def test_an_older_development_checkout_keeps_its_lookup_hashes(
        tmp_path, monkeypatch: pytest.MonkeyPatch, make_app) -> None:
    import json

    for name in ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE"):
        monkeypatch.delenv(f"UNIONCARD_{name}", raising=False)
    monkeypatch.setenv("UNIONCARD_ROOT", str(tmp_path))
    (tmp_path / "var").mkdir()
    older = {"SECRET_KEY": "s" * 48, "DATA_KEY": TEST_CONFIG["DATA_KEY"], "KEY_PASSPHRASE": "p"}
    (tmp_path / "var" / "dev-secrets.json").write_text(json.dumps(older))
    app = make_app({"ENV": "development", "LOG_LEVEL": "WARNING"}, base=False)
    # its hashes were made from its data key, so that becomes its lookup key, kept on disk
    assert app.config["LOOKUP_KEY"] == TEST_CONFIG["DATA_KEY"]
    saved = json.loads((tmp_path / "var" / "dev-secrets.json").read_text())
    assert saved == {**older, "LOOKUP_KEY": TEST_CONFIG["DATA_KEY"]}
