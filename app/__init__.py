"""The unioncard Flask service: ``create_app()`` wires configuration, extensions and routes."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from werkzeug.routing import IntegerConverter


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in routes: only values an INTEGER key column can hold (others are 404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _load_drug_registrations(path: str) -> None:
    """Add the operator's drug registration numbers to the sensitivity classifier's map.

    Raises:
        app.config.ConfigError: the file cannot be read or a row is not a number and ATC code.
    """
    if not path:
        return
    import csv

    from app.config import ConfigError
    from app.services.health.sensitive import add_drug_registrations

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            add_drug_registrations(csv.DictReader(f))
    except (OSError, ValueError, csv.Error) as e:
        raise ConfigError(f"DRUG_REGISTRATIONS_FILE {path}: {e}") from e


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    Raises:
        app.config.ConfigError: missing secrets in production, or invalid settings.
    """
    from app import api as api_package
    from app import web
    from app.config import load_config
    from app.edge import bodies, hooks, request_limits
    from app.edge.problems import register_error_handlers
    from app.extensions import api, db, limiter
    from app.logs import configure_logging

    app = Flask(__name__)
    app.url_map.converters["int"] = DatabaseIdConverter
    load_config(app, config)
    configure_logging(app)
    _load_drug_registrations(app.config.get("DRUG_REGISTRATIONS_FILE") or "")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    db.init_app(app)
    limiter.init_app(app)
    api.init_app(app, spec_kwargs={
        "info": {"description": "unioncard: union member cards that carry the member's "
                                "electronic health record, under the member's consent."},
    })
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api_package.register(api)
    register_error_handlers(app)
    hooks.init_app(app)
    bodies.init_app(app)
    request_limits.init_app(app)
    from app.edge import metrics as request_metrics

    request_metrics.init_app(app)
    web.init_app(app)
    from app import cli

    cli.register(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:  # behind a reverse proxy: the client's address from X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app
