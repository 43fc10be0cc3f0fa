"""The deployment recipe (deploy/): the proxy setting, and what the files promise."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _address_app(make_app: Any, proxies: int) -> Any:
    app = make_app({"TRUSTED_PROXIES": proxies})

    @app.get("/__addr")
    def addr() -> dict[str, str]:
        from flask import request

        return {"addr": str(request.remote_addr), "scheme": request.scheme}

    return app


def test_the_client_address_comes_from_the_proxy_only_when_trusted(make_app: Any) -> None:
    headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https"}
    direct = _address_app(make_app, 0).test_client().get("/__addr", headers=headers).json
    assert direct == {"addr": "127.0.0.1", "scheme": "http"}
    proxied = _address_app(make_app, 1).test_client().get(
        "/__addr", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}).json
    # one proxy: its own entry (the last) is the client; what the client sent before is not
    assert proxied == {"addr": "203.0.113.9", "scheme": "https"}


def test_units_run_commands_that_exist() -> None:
    units = sorted(DEPLOY.glob("*.service"))
    assert {u.name for u in units} >= {"unioncard-web.service", "unioncard-worker@.service"}
    for unit in units:
        for line in unit.read_text().splitlines():
            found = re.search(r"/opt/unioncard/venv/bin/unioncard (\w[\w-]*)", line)
            if found:
                assert found.group(1) in cli.commands, (unit.name, found.group(1))
    web = (DEPLOY / "unioncard-web.service").read_text()
    assert "gunicorn -c /etc/unioncard/gunicorn.conf.py" in web and "UMask=0077" in web


def test_the_proxy_logs_no_query_strings_and_speaks_tls_only() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    formats = re.findall(r"log_format\s+\w+\s+(.*?);", conf, flags=re.S)
    assert formats and all(not re.search(r"\$(request_uri|args|query_string|request)\b", f)
                           for f in formats)
    assert "access_log /var/log/nginx/unioncard.access.log unioncard_noquery;" in conf
    assert "listen 443 ssl" in conf and "return 301 https://" in conf
    assert "X-Forwarded-For $remote_addr" in conf  # replaced, so a client cannot forge it
    env = (DEPLOY / "unioncard.env.example").read_text()
    assert "UNIONCARD_TRUSTED_PROXIES=1" in env
