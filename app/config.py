"""Configuration: defaults, then ``UNIONCARD_*`` environment variables, then a test mapping."""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import limits
from flask import Flask

ENV_PREFIX = "UNIONCARD"

#: Secrets that production must receive from the environment (never defaulted there).
REQUIRED_SECRETS = ("SECRET_KEY", "DATA_KEY", "LOOKUP_KEY", "KEY_PASSPHRASE")
#: Production floors: the secret key's length and its estimated entropy in bits (32 random
#: hex digits estimate at 89 or more, 32 random URL-safe characters at 123 or more), the
#: passphrase's length, distinct bytes in a 32-byte key.
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_BITS = 80
MIN_PASSPHRASE_LENGTH = 16
MIN_KEY_DISTINCT_BYTES = 16
#: Settings that are rate limits (flask-limiter ignores one it cannot parse).
RATE_LIMITS = ("LOGIN_RATE_LIMIT", "LOGIN_ADDRESS_RATE_LIMIT")
#: Clinic-flow rate limits (verify, pull, emergency access), checked like the login ones.
CLINIC_RATE_LIMITS = ("VERIFY_RATE_LIMIT", "VERIFY_CARD_RATE_LIMIT", "PULL_RATE_LIMIT",
                "EMERGENCY_RATE_LIMIT")
#: Optional dedicated secrets; when unset each is derived from SECRET_KEY with its own label
#: (outside production only for the last ones, ``PRODUCTION_DEDICATED_SECRETS``).
DEDICATED_SECRETS = ("PRESENCE_TOKEN_SECRET", "PULL_GRANT_SECRET", "AUDIT_CHECKPOINT_KEY")
#: Dedicated secrets production must be given: the key that signs the access log's
#: checkpoints (derived from SECRET_KEY, a leak of that key would also let its holder re-sign a
#: rewritten log).
PRODUCTION_DEDICATED_SECRETS = ("AUDIT_CHECKPOINT_KEY",)


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
        "DEBUG": False,
        "JSON_MAX_BYTES": 64 * 1024,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "LOG_LEVEL": "INFO",
        # None: derived from where the service listens (PORT); required in production
        "PUBLIC_BASE_URL": None,
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
        # health-record feeds (push) and the FHIR server pulled on link
        "HEALTH_FEED_MAX_BYTES": 1_000_000,
        "HEALTH_FEED_BATCH_MAX_BYTES": 8 * 1024 * 1024,
        "HEALTH_FEED_BATCH_MAX_ITEMS": 200,
        "HEALTH_FHIR_URL": "",
        "HEALTH_FHIR_TOKEN": "",
        "HEALTH_FHIR_TIMEOUT": 5.0,
        "HEALTH_FHIR_RETRIES": 3,
        # flask-smorest / OpenAPI
        "API_TITLE": "unioncard API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "api/v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
        # member accounts
        "ACTIVATION_CODE_DAYS": 30,
        "ACTIVATION_RATE_LIMIT": "5 per 15 minutes",
        "ACTIVATION_ADDRESS_RATE_LIMIT": "10 per minute",
        "MEMBER_LOGIN_MAX_FAILURES": 10,
        "MEMBER_LOGIN_LOCK_SECONDS": 900,
        "MEMBER_PIN_MAX_FAILURES": 5,
        "MEMBER_PIN_LOCK_SECONDS": 900,
        # the PIN's later locks in a row (no right PIN in between): 1 hour, then a day each
        "MEMBER_PIN_RELOCK_SECONDS": [3600, 86400],
        # each clinic client: at most this many wrong PINs, across members, per window
        "PIN_CLIENT_MAX_FAILURES": 20,
        "PIN_CLIENT_WINDOW_SECONDS": 3600,
        # how often a worker deletes expired presence-token bindings and old PIN windows
        "PIN_PRESENCE_PRUNE_SECONDS": 3600,
        # access log: repeated emergency access by one clinic flagged to administrators
        "EMERGENCY_FLAG_THRESHOLD": 3,
        "EMERGENCY_FLAG_WINDOW_HOURS": 24,
        # e-mail notifications (the outbox, delivered by `unioncard notifications deliver`)
        "SMTP_HOST": "",
        "SMTP_PORT": 587,
        "SMTP_FROM": "",
        "SMTP_TLS": "starttls",
        "SMTP_USERNAME": "",
        "SMTP_PASSWORD": "",
        "SMTP_TIMEOUT": 10.0,
        "SMTP_CA_FILE": "",
        # the operator's map of national drug registration numbers to ATC codes (CSV with
        # `registration,atc`): medicines known only by such a number are unclassified without it
        "DRUG_REGISTRATIONS_FILE": "",
        # the phone line the clinic desk's offline check names for emergencies ("" : none)
        "DESK_HOTLINE": "",
        "NOTIFY_MAX_ATTEMPTS": 8,
        "NOTIFY_RETRY_SECONDS": 60,
        "NOTIFY_SENDING_LEASE_SECONDS": 600,
        # what `unioncard worker` does besides jobs (app/duties.py); 0 turns one off
        "NOTIFY_EVERY_SECONDS": 60,
        "AUDIT_CHECKPOINT_SECONDS": 3600,
        # signs every access-log checkpoint (HMAC-SHA256); required in production
        "AUDIT_CHECKPOINT_KEY": None,
        "ON_CARD_REFRESH_SECONDS": 86400,
        # exam results to the national health record (HEALTH_FHIR_URL; app/services/exams)
        "EXAM_DELIVERY_EVERY_SECONDS": 30,
        # clinic flow: presence tokens, pull grants, scanned photos, rate limits
        "PRESENCE_TOKEN_SECRET": None,
        "PULL_GRANT_SECRET": None,
        "SCAN_MAX_BYTES": 8 * 1024 * 1024,
        "SCAN_MAX_PIXELS": 40_000_000,
        # pixels decoded: a PNG or WebP in full, a JPEG scaled down first (its DCT draft)
        "SCAN_MAX_DECODED_PIXELS": 16_000_000,
        "SCAN_DECODE_SIDE": 2000,
        "SCAN_DECODE_SECONDS": 3.0,
        # photo decodes in each process: threads for every client, running at once per client
        "SCAN_DECODE_THREADS": 4,
        "SCAN_DECODES_PER_CLIENT": 2,
        "VERIFY_RATE_LIMIT": "600 per minute",
        "VERIFY_CARD_RATE_LIMIT": "20 per minute",
        "PULL_RATE_LIMIT": "600 per minute",
        "EMERGENCY_RATE_LIMIT": "30 per hour",
        # the member's right-of-access export (GET /api/v1/me/export), per member
        "EXPORT_RATE_LIMIT": "10 per hour",
        # running it in production
        "TRUSTED_PROXIES": 0,
        "METRICS_TOKEN": "",
        "QUEUE_URL": "",
        "QUEUE_NAME": "unioncard",
        "QUEUE_REAP_SECONDS": 15,
        "QUEUE_STALE_SECONDS": 600,
        "DATABASE_POOL_SIZE": 10,
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
        ConfigError: production mode without real secrets or with weak settings
            (``check_production``), or an invalid value.
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

    for name in RATE_LIMITS + CLINIC_RATE_LIMITS:
        check_rate_limit(name, app.config[name])
    check_scan_decoding(app.config)
    check_pin_guards(app.config)
    app.config["DATA_KEY_BYTES"] = decode_data_key(str(app.config["DATA_KEY"]))
    lookup_key = decode_data_key(str(app.config["LOOKUP_KEY"]), "LOOKUP_KEY")
    if env == "production":
        check_production(app.config, lookup_key)
        # problem+json for every error: Flask would re-raise to the server under DEBUG/TESTING
        app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["SQLALCHEMY_URL"] = app.config["DATABASE_URL"]
    app.config["PUBLIC_BASE_URL"] = public_base_url(app.config)


def public_base_url(config: Mapping[str, Any]) -> str:
    """The address the public documents and NFC links name: ``PUBLIC_BASE_URL`` as given,
    else where ``scripts/serve`` listens (``http://127.0.0.1:<PORT>``), never a port the
    service does not answer on.

    Raises:
        ConfigError: a given value that is not an absolute http(s) URL without query or
            fragment.
    """
    value = config.get("PUBLIC_BASE_URL")
    if value is None or not str(value).strip():
        return f"http://127.0.0.1:{int(config['PORT'])}"
    url = urlsplit(str(value).strip())
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigError(f"{ENV_PREFIX}_PUBLIC_BASE_URL must be an absolute http(s) URL "
                          f"without query or fragment, not {str(value)[:60]!r}")
    return url.geturl().rstrip("/")


def check_production(config: Mapping[str, Any], lookup_key: bytes) -> None:
    """Refuse weak production settings: guessable secrets and keys, a short passphrase, rate
    limiting off, debugging on.

    Raises:
        ConfigError: the first weak setting, in one line.
    """
    prefix = f"{ENV_PREFIX}_"
    secret = str(config["SECRET_KEY"])
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{prefix}SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} "
                          "characters in production")
    if estimated_bits(secret) < MIN_SECRET_KEY_BITS or is_repetitive(secret):
        raise ConfigError(f"{prefix}SECRET_KEY is too predictable (repeated characters or a "
                          "pattern); use a random value, e.g. python -c \"import secrets;"
                          "print(secrets.token_urlsafe(48))\"")
    for name, key in (("DATA_KEY", config["DATA_KEY_BYTES"]), ("LOOKUP_KEY", lookup_key)):
        if is_patterned(key):
            raise ConfigError(f"{prefix}{name} is a byte pattern, not a random key; make it "
                              "from 32 random bytes")
        if all(32 <= b < 127 for b in key):
            # 32 random bytes are all printable with probability (95/256)^32, below 10^-13
            raise ConfigError(f"{prefix}{name} is text, not a random key; make it from 32 "
                              "random bytes")
    if config["DATA_KEY_BYTES"] == lookup_key:
        raise ConfigError(f"{prefix}LOOKUP_KEY must differ from {prefix}DATA_KEY")
    passphrase = str(config["KEY_PASSPHRASE"])
    if not passphrase.strip() or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ConfigError(f"{prefix}KEY_PASSPHRASE must have at least {MIN_PASSPHRASE_LENGTH} "
                          "characters, not only spaces, in production")
    if is_repetitive(passphrase.strip()):
        raise ConfigError(f"{prefix}KEY_PASSPHRASE is too predictable (repeated characters or a "
                          "pattern)")
    for name in PRODUCTION_DEDICATED_SECRETS:
        if not config.get(name):
            raise ConfigError(f"{prefix}{name} must be set in production: the key that signs "
                              "the access log's checkpoints (a random value of at least "
                              f"{MIN_SECRET_KEY_LENGTH} characters, not {prefix}SECRET_KEY)")
    for name in DEDICATED_SECRETS:
        value = config.get(name)
        if value and (len(str(value)) < MIN_SECRET_KEY_LENGTH
                      or estimated_bits(str(value)) < MIN_SECRET_KEY_BITS
                      or is_repetitive(str(value)) or str(value) == secret):
            raise ConfigError(f"{prefix}{name} must be a random value of at least "
                              f"{MIN_SECRET_KEY_LENGTH} characters, not {prefix}SECRET_KEY, in "
                              "production (or unset: derived from SECRET_KEY)")
    if not _is_true(config["RATELIMIT_ENABLED"]):
        raise ConfigError(f"{prefix}RATELIMIT_ENABLED cannot be switched off in production")
    for name in ("DEBUG", "PROPAGATE_EXCEPTIONS"):
        if _is_true(config.get(name)):
            raise ConfigError(f"{prefix}{name} cannot be on in production")
    public = config.get("PUBLIC_BASE_URL")
    if public is None or not str(public).strip():
        # status lists and every card's NFC link carry it: a guess would point nowhere
        raise ConfigError(f"{prefix}PUBLIC_BASE_URL must be set in production (the https "
                          "address scanners and phones reach the service at)")


def check_rate_limit(name: str, value: Any) -> None:
    """Refuse a rate limit that the limiter cannot read (it would skip it: no limit at all).

    Raises:
        ConfigError: ``value`` is not a limit such as ``10 per minute``.
    """
    try:
        limits.parse_many(str(value))
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}_{name} must be a rate limit such as '10 per minute', "
                          f"not {str(value)[:40]!r}") from None


def check_pin_guards(config: Mapping[str, Any]) -> None:
    """Refuse PIN guard settings that would not guard: counts, windows and lock times must be
    positive whole numbers, ``MEMBER_PIN_RELOCK_SECONDS`` a list of them (it may be empty:
    every lock then lasts ``MEMBER_PIN_LOCK_SECONDS``).

    Raises:
        ConfigError: the first such setting, in one line.
    """
    def positive(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    for name in ("MEMBER_PIN_MAX_FAILURES", "MEMBER_PIN_LOCK_SECONDS",
                 "PIN_CLIENT_MAX_FAILURES", "PIN_CLIENT_WINDOW_SECONDS"):
        if not positive(config[name]):
            raise ConfigError(f"{ENV_PREFIX}_{name} must be a whole number above 0, not "
                              f"{str(config[name])[:40]!r}")
    relock = config["MEMBER_PIN_RELOCK_SECONDS"]
    if not isinstance(relock, (list, tuple)) or not all(positive(v) for v in relock):
        raise ConfigError(f"{ENV_PREFIX}_MEMBER_PIN_RELOCK_SECONDS must be a JSON list of "
                          f"whole numbers of seconds above 0 (e.g. [3600, 86400]), not "
                          f"{str(relock)[:40]!r}")


def check_scan_decoding(config: Mapping[str, Any]) -> None:
    """Refuse photo-decoding settings that would let one client take every decoding thread:
    ``SCAN_DECODES_PER_CLIENT`` must be at least 1 and fewer than ``SCAN_DECODE_THREADS``.

    Raises:
        ConfigError: a value that is not a whole number, or the bound above broken.
    """
    values = {}
    for name in ("SCAN_DECODE_THREADS", "SCAN_DECODES_PER_CLIENT"):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int | str) \
                or not str(value).strip().isdigit():
            raise ConfigError(f"{ENV_PREFIX}_{name} must be a whole number, not "
                              f"{str(value)[:40]!r}")
        values[name] = int(value)
    threads, per_client = values["SCAN_DECODE_THREADS"], values["SCAN_DECODES_PER_CLIENT"]
    if not 1 <= per_client < threads:
        raise ConfigError(f"{ENV_PREFIX}_SCAN_DECODES_PER_CLIENT must be at least 1 and fewer "
                          f"than {ENV_PREFIX}_SCAN_DECODE_THREADS ({threads}), so one client "
                          "cannot take every thread that decodes photos")


def _is_true(value: Any) -> bool:
    """A boolean setting's truth; an environment string such as ``"false"`` or ``"0"`` is
    false (``from_prefixed_env`` parses JSON, but a test mapping may hold text)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def estimated_bits(secret: str) -> float:
    """The entropy of ``secret`` as its length times the Shannon entropy of its characters:
    an upper bound for a random string, and far below it for repeats and short patterns."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return len(secret) * per_char


def is_repetitive(text: str) -> bool:
    """Whether ``text`` repeats a shorter unit (``passwordpassword``) or walks the alphabet in
    few distinct steps (``abcdef...``, ``a1b2c3...``)."""
    for period in range(1, len(text) // 2 + 1):
        if all(text[i] == text[i - period] for i in range(period, len(text))):
            return True
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    return len(steps) < 6


def is_patterned(key: bytes) -> bool:
    """Whether a 32-byte key is a low-entropy pattern (all-zero, a repeated byte or unit, a
    counting sequence): 32 random bytes have about 30 distinct values, and fewer than 16
    happens by chance with probability below 10^-12."""
    if len(set(key)) < MIN_KEY_DISTINCT_BYTES:
        return True
    if any(key[period:] == key[:-period] for period in range(1, len(key) // 2 + 1)):
        return True  # a repeated unit (two copies of a 16-byte text, ...)
    steps = {(b - a) % 256 for a, b in pairwise(key)}
    return len(steps) == 1  # 0, 1, 2, ... or any arithmetic sequence


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
