"""Configuration: defaults, then ``UNIONCARD_*`` environment variables, then a test mapping."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

ENV_PREFIX = "UNIONCARD"

#: Secrets that production must receive from the environment (never defaulted there).
REQUIRED_SECRETS = ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE")


class ConfigError(RuntimeError):
    """The configuration is missing or has an invalid value."""


def defaults(root: Path) -> dict[str, Any]:
    """Every setting's default (``root``: where ``var/`` lives, ``UNIONCARD_ROOT`` or the cwd)."""
    var = root / "var"
    return {
        "ENV": "production",
        "ROOT": str(root),
        # secrets: required outside development (generated there), never defaulted
        "SECRET_KEY": None,
        "DATA_KEY": None,
        "LOOKUP_KEY": None,
        "DATA_KEYS_PREVIOUS": "",
        "KEY_PASSPHRASE": None,
        "DATABASE_URL": f"sqlite:///{var / 'unioncard.db'}",
        "DATABASE_ECHO": False,
        "TOKEN_TTL_SECONDS": 900,
        "TOKEN_ISSUER": "unioncard",
        "LOGIN_RATE_LIMIT": "10 per minute",
        "LOGIN_ADDRESS_RATE_LIMIT": "30 per minute",
        "LOGIN_MAX_FAILURES": 10,
        "LOGIN_LOCK_SECONDS": 900,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": True,
        "JSON_MAX_BYTES": 64 * 1024,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "LOG_LEVEL": "INFO",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "PORT": 5000,
        "CARD_ISSUER": "VN-VGCL",
        "CARD_ISSUER_NAME": "Tổng Liên đoàn Lao động Việt Nam",
        "CARD_VALIDITY_DAYS": 1826,
        # roster imports
        "IMPORT_MAX_BYTES": 20 * 1024 * 1024,
        "IMPORT_MAX_ROWS": 200_000,
        "IMPORT_MAX_CELL": 500,
        "IMPORT_BATCH_SIZE": 1000,
        "IMPORT_DIR": str(var / "imports"),
        # card batches
        "CARD_BATCH_DIR": str(var / "batches"),
        "CARD_BATCH_SIZE": 200,
        "CARD_BATCH_SHEET_CARDS": 100,  # 20 A4 pages (fronts and backs) per PDF file
        "CARD_BATCH_WORKERS": 2,
        # background jobs run inside the request instead (tests)
        "JOBS_SYNC": False,
        # flask-smorest / OpenAPI
        "API_TITLE": "unioncard API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "api/v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    }


def _dev_secrets(instance_dir: Path) -> dict[str, str]:
    """Load or create per-checkout development secrets, so a dev database stays readable."""
    path = instance_dir / "dev-secrets.json"
    if path.exists():
        values = dict(json.loads(path.read_text(encoding="utf-8")))
        if "LOOKUP_KEY" in values:
            return values
        # a checkout from before the lookup key: its hashes were made with its data key
        values["LOOKUP_KEY"] = values["DATA_KEY"]
    else:
        instance_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "LOOKUP_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "KEY_PASSPHRASE": secrets.token_urlsafe(24),
        }
    path.write_text(json.dumps(values, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return values


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config``: defaults, then ``UNIONCARD_*`` variables (JSON values parsed), then
    ``overrides``; fail fast on missing or invalid settings.

    Raises:
        ConfigError: production mode without real secrets, or an invalid value.
    """
    root = Path(os.environ.get(f"{ENV_PREFIX}_ROOT", Path.cwd()))
    app.config.update(defaults(root))
    if "PORT" in os.environ:  # the platform's unprefixed PORT; UNIONCARD_PORT still wins
        app.config["PORT"] = _json_or_text(os.environ["PORT"])
    app.config.from_prefixed_env(ENV_PREFIX)
    app.config["ROOT"] = str(root)  # UNIONCARD_ROOT is a path, never parsed as JSON
    if overrides:
        app.config.update(overrides)
    prefix = f"{ENV_PREFIX}_"

    env = app.config["ENV"]
    if env not in ("production", "development", "testing"):
        raise ConfigError(f"UNIONCARD_ENV must be production, development or testing, not {env!r}")
    app.config["TESTING"] = env == "testing" or bool(app.config["TESTING"])

    missing = [name for name in REQUIRED_SECRETS if not app.config[name]]
    if missing and env == "development":
        generated = _dev_secrets(root / "var")
        for name in missing:
            app.config[name] = generated[name]
        missing = []
    if missing:
        names = ", ".join(f"{prefix}{name}" for name in missing)
        raise ConfigError(f"{env} mode needs these secrets set: {names}")

    if env == "production" and len(str(app.config["SECRET_KEY"])) < 32:
        raise ConfigError(f"{prefix}SECRET_KEY must be at least 32 characters in production")
    app.config["DATA_KEY_BYTES"] = decode_data_key(str(app.config["DATA_KEY"]))
    decode_data_key(str(app.config["LOOKUP_KEY"]), "LOOKUP_KEY")
    app.config["SQLALCHEMY_URL"] = app.config["DATABASE_URL"]


def _json_or_text(value: str) -> Any:
    """An environment string read as ``from_prefixed_env`` reads it: JSON, else text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def decode_data_key(value: str, name: str = "DATA_KEY") -> bytes:
    """Decode a base64 32-byte key (the data-encryption key, or ``name``).

    Raises:
        ConfigError: the value is not base64 of exactly 32 bytes.
    """
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}_{name} must be base64") from exc
    if len(key) != 32:
        raise ConfigError(f"{ENV_PREFIX}_{name} must decode to 32 bytes")
    return key
