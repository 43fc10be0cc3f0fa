"""The pages' sign-in forms count in the very buckets of the API's token endpoint (per client
address, and per address and login name), so a page is no way around its limits: flask-limiter
keys a route's limit by its endpoint, and these shared limits name the token endpoint's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request

from app.edge.problems import TOKEN_ENDPOINT  # its limits' bucket scope
from app.extensions import limiter


def _address_key() -> str:
    return f"login-address|{request.remote_addr}"


def login_key(kind: str, name: str) -> str:
    """The token endpoint's per-login key: address, kind of login name, the name."""
    return f"{request.remote_addr}|{kind}|{name.strip().lower()[:64]}"


def login_limits(key: Callable[[], str]) -> Callable[[Any], Any]:
    """Decorator: the token endpoint's per-address and per-login limits on a form's POST."""
    by_address = limiter.shared_limit(
        lambda: str(current_app.config["LOGIN_ADDRESS_RATE_LIMIT"]), scope=TOKEN_ENDPOINT,
        key_func=_address_key, methods=["POST"])
    by_login = limiter.shared_limit(
        lambda: str(current_app.config["LOGIN_RATE_LIMIT"]), scope=TOKEN_ENDPOINT,
        key_func=key, methods=["POST"])

    def decorate(view: Any) -> Any:
        return by_address(by_login(view))

    return decorate
