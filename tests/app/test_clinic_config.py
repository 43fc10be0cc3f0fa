"""The clinic flow's settings: dedicated secrets (weak ones refused in production, derived
ones apart per use) and its rate limits read at start."""

from __future__ import annotations

import pytest

from app import create_app
from app.composition import dedicated_secret
from app.config import ConfigError
from tests.app.test_factory_config import PRODUCTION_SECRETS
from tests.conftest import TEST_CONFIG


@pytest.mark.parametrize("name", ["PRESENCE_TOKEN_SECRET", "PULL_GRANT_SECRET"])
@pytest.mark.parametrize("value", ["short", "ab" * 24, PRODUCTION_SECRETS["SECRET_KEY"]])
def test_production_refuses_a_weak_dedicated_secret(database_url: str, name: str,
                                                    value: str) -> None:
    config = {**TEST_CONFIG, "ENV": "production", **PRODUCTION_SECRETS, name: value,
              "DATABASE_URL": database_url}
    with pytest.raises(ConfigError, match=name):
        create_app(config)


def test_production_takes_a_strong_dedicated_secret(make_app) -> None:
    app = make_app({"ENV": "production", **PRODUCTION_SECRETS,
                    "PUBLIC_BASE_URL": "https://cards.example",
                    "PULL_GRANT_SECRET": "Xq3v9Lw2Rk8Zt5Hn1Bc7Md4Fp6Gs0Jy2Ue8Wa"})
    assert dedicated_secret(app.config, "PULL_GRANT_SECRET").startswith("Xq3v9")


def test_unset_dedicated_secrets_are_derived_apart() -> None:
    config = {"SECRET_KEY": "k" * 40, "PRESENCE_TOKEN_SECRET": None, "PULL_GRANT_SECRET": ""}
    presence = dedicated_secret(config, "PRESENCE_TOKEN_SECRET")
    grants = dedicated_secret(config, "PULL_GRANT_SECRET")
    assert presence != grants and "k" * 40 not in (presence, grants) and len(presence) == 64


@pytest.mark.parametrize("name", ["VERIFY_RATE_LIMIT", "VERIFY_CARD_RATE_LIMIT",
                                  "PULL_RATE_LIMIT", "EMERGENCY_RATE_LIMIT"])
def test_an_unreadable_clinic_limit_is_refused_at_start(database_url: str, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        create_app({**TEST_CONFIG, name: "lots", "DATABASE_URL": database_url})
