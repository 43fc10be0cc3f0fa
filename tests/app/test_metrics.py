"""Prometheus metrics: by route template and status, cards, logins and jobs; never personal
data; ``/metrics`` only with its token; summed over gunicorn's worker processes."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.app.cards_helpers import office
from tests.app.test_serve import free_port, get

TOKEN = "metrics-token-" + "x7Kq2mZr9vLp4sTb8nWc"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metered(make_app: Any, connection: Any) -> Any:
    return make_app({"METRICS_TOKEN": TOKEN})


def test_metrics_are_hidden_without_their_token(client: Any, metered: Any) -> None:
    assert client.get("/metrics").status_code == 404  # no token configured: no endpoint
    with metered.test_client() as c:
        assert c.get("/metrics").status_code == 404
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        shown = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert shown.status_code == 200 and shown.mimetype == "text/plain"
        assert b"unioncard_http_requests_total" in shown.data


def test_requests_cards_and_logins_are_counted_without_personal_data(
        client: Any, factory: Any, metered: Any) -> None:
    world = office(factory)
    member = world["yen"]
    route = "/api/v1/members/<int:member_id>/cards"
    before = value("unioncard_http_requests_total", method="POST", route=route, status="201")
    issued = value("unioncard_cards_issued_total", how="issue")
    revoked = value("unioncard_card_status_changes_total", action="revoke")
    wrong = value("unioncard_login_failures_total", account="user", reason="wrong_password")
    latency = value("unioncard_http_request_duration_seconds_count", method="POST", route=route,
                    status="201")

    card = client.post(f"/api/v1/members/{member.id}/cards", headers=world["headers"]).json
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "stolen"},
                headers=world["headers"])
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "lost"},
                headers=world["headers"])  # 409: no second status change
    client.post("/api/v1/auth/token", json={"username": world["officer"].username,
                                            "password": "not the password at all"})
    client.get(f"/no/such/page/{member.member_number}")

    assert value("unioncard_http_requests_total", method="POST", route=route,
                 status="201") == before + 1
    assert value("unioncard_http_request_duration_seconds_count", method="POST", route=route,
                 status="201") == latency + 1
    assert value("unioncard_cards_issued_total", how="issue") == issued + 1
    assert value("unioncard_card_status_changes_total", action="revoke") == revoked + 1
    assert value("unioncard_login_failures_total", account="user",
                 reason="wrong_password") == wrong + 1

    with metered.test_client() as c:
        text = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).data.decode()
    assert 'route="(unmatched)"' in text
    for secret in (member.full_name, card["serial"], world["officer"].username,
                   member.member_number):
        assert secret not in text, secret


def test_a_rolled_back_audit_entry_is_not_counted(session: Any) -> None:
    from app.services import audit

    before = value("unioncard_audit_events_total", action="test.rolled-back")
    audit.record(session, actor="t", action="test.rolled-back", object_type="x", object_id=1)
    session.rollback()
    assert value("unioncard_audit_events_total", action="test.rolled-back") == before


@pytest.mark.slow
def test_metrics_add_up_over_gunicorn_workers(tmp_path: Path, database_url: str) -> None:
    from tests.conftest import unioncard_env

    port = free_port()
    env = unioncard_env(database_url, ENV="development", ROOT=str(tmp_path),
                        METRICS_TOKEN=TOKEN, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15")
    env.update({"PORT": str(port), "WEB_CONCURRENCY": "2", "UNIONCARD_THREADS": "2",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")})
    root = Path(__file__).resolve().parents[2]
    with (tmp_path / "out").open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                                   "deploy/gunicorn.conf.py", "app:create_app()"], cwd=root,
                                  env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no start"
            time.sleep(0.2)
        pid = f"0{secrets.randbelow(10**11):011d}"
        sent = 0
        with ThreadPoolExecutor(16) as pool:  # in parallel, so that both processes answer
            while sent < 400 and len(processes(tmp_path)) < 2 or sent < 40:
                answers = list(pool.map(lambda _: get(port, f"/healthz?personal_id={pid}")[0],
                                        range(16)))
                assert answers == [200] * 16
                sent += 16
        assert len(processes(tmp_path)) >= 2
        status, kind, body = get(port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and kind.startswith("text/plain")
        assert get(port, "/metrics")[0] == 404
    finally:
        server.terminate()
        server.wait(timeout=30)
    line = next(x for x in body.splitlines() if x.startswith(
        'unioncard_http_requests_total{method="GET",route="/healthz",status="200"}'))
    assert float(line.split()[-1]) > sent  # the start-up polls, then ours, from both processes
    assert pid not in body


def processes(tmp_path: Path) -> set[str]:
    """The processes that wrote metric files."""
    return {p.stem.rpartition("_")[2] for p in (tmp_path / "metrics").glob("counter_*.db")}


@pytest.mark.slow
def test_a_first_command_makes_the_metrics_directory(tmp_path: Path, database_url: str) -> None:
    """deploy/unioncard.env.example sets PROMETHEUS_MULTIPROC_DIR for every process, and on a
    fresh install its directory does not exist until something makes it: the first command
    (``unioncard db upgrade``, before gunicorn ever ran) must not fail on it."""
    from tests.conftest import unioncard_env

    metrics_dir = tmp_path / "var" / "metrics"
    env = unioncard_env(database_url, ROOT=str(tmp_path))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    done = subprocess.run([sys.executable, "-m", "app", "db", "current"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert metrics_dir.is_dir() and metrics_dir.stat().st_mode & 0o777 == 0o700
    assert list(metrics_dir.glob("counter_*.db"))  # the process wrote its metrics there
