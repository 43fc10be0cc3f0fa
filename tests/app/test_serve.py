"""gunicorn as scripts/serve runs it (deploy/gunicorn.conf.py), for real: JSON log lines only,
no query strings, tracebacks inside one line, problem+json for oversize requests, private files."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
PID = "027194001234"


def boom_app() -> Flask:
    """The app, with a route that fails with personal data in its exception (for the test)."""
    from app import create_app

    application = create_app()

    @application.get("/__boom")
    def boom() -> str:
        raise RuntimeError(f"failed for {PID}")

    return application


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode()
        return response.status, response.getheader("Content-Type", ""), body
    finally:
        conn.close()


@pytest.mark.slow
def test_gunicorn_logs_json_without_data_and_answers_problems(tmp_path: Path) -> None:
    from app import migrate

    url = f"sqlite:///{tmp_path / 'db' / 'unioncard.db'}"
    migrate.upgrade(url)
    port = free_port()
    env = {**os.environ, "UNIONCARD_ENV": "development", "UNIONCARD_ROOT": str(tmp_path),
           "UNIONCARD_DATABASE_URL": url, "PORT": str(port), "UNIONCARD_THREADS": "2"}
    env.pop("UNIONCARD_RATELIMIT_STORAGE_URI", None)
    with (tmp_path / "stdout").open("w") as out, (tmp_path / "stderr").open("w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
             "tests.app.test_serve:boom_app()"], cwd=ROOT, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        status, _, _ = get(port, f"/api/v1/members?personal_id={PID}&access_token=tok.sec.ret")
        assert status == 401
        status, kind, _ = get(port, f"/__boom?personal_id={PID}")
        assert (status, kind) == (500, "application/problem+json")
        for size, status in ((5000, 414), (9000, 414)):  # the app's limit, then gunicorn's
            got, kind, body = get(port, "/healthz?q=" + "a" * size)
            assert (got, kind) == (status, "application/problem+json"), body
            assert json.loads(body)["type"] == "/problems/uri-too-long"
        for size in (5000, 9000):
            got, kind, body = get(port, "/healthz", {"X-Big": "b" * size})
            assert (got, kind) == (431, "application/problem+json"), body
            assert json.loads(body)["type"] == "/problems/headers-too-large"
    finally:
        server.terminate()
        server.wait(timeout=30)

    logged = (tmp_path / "stdout").read_text() + (tmp_path / "stderr").read_text()
    events = [json.loads(line) for line in logged.splitlines()]  # every line is one JSON event
    assert PID not in logged and "access_token" not in logged and "tok.sec.ret" not in logged
    access = [e["event"] for e in events if e["logger"] == "gunicorn.access"]
    assert any('"GET /api/v1/members HTTP/1.1" 401' in line for line in access)
    failures = [e for e in events if "exc" in e]
    assert failures and all(e["exc"].endswith("builtins.RuntimeError") for e in failures)
    assert any(e["logger"] == "unioncard.access" and e["path"] == "/api/v1/members"
               for e in events)

    # files the server and the migration created are its owner's only
    assert stat.S_IMODE((tmp_path / "db" / "unioncard.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "dev-secrets.json").stat().st_mode) == 0o600
