"""The pull on link: linking a member starts a job pulling their summary from the configured
FHIR server (a local server the tests start, serving the shipped fixtures); its result or
failure is shown at GET /api/v1/jobs/{id}; without a server the link works and says so."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from flask import Flask

from app.services.health.store import HealthStore
from tests.app.fhir_fixtures import FIXTURES
from tests.app.health_fixtures import DISTINCTIVE
from tests.app.test_fhir_client import Behaviour, behaviour, server  # noqa: F401 (fixtures)
from tests.app.test_health_store import cipher_for_tests

YEN = next(iter(FIXTURES))


@pytest.fixture
def office(factory) -> dict[str, Any]:
    union = factory.union(province="24")
    officer = factory.user("officer", "24")
    return {"member": factory.member(union), "headers": factory.headers(officer)}


@pytest.fixture
def pulling(app: Flask, monkeypatch, server: str) -> str:  # noqa: F811 (the fixture)
    monkeypatch.setitem(app.config, "HEALTH_FHIR_URL", server)
    monkeypatch.setitem(app.config, "HEALTH_FHIR_RETRIES", 0)
    monkeypatch.setitem(app.config, "HEALTH_FHIR_TIMEOUT", 2.0)
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    return server


def link(client, office, health_id: str = YEN) -> Any:
    return client.put(f"/api/v1/members/{office['member'].id}/health-link",
                      json={"health_id": health_id}, headers=office["headers"])


def test_without_a_server_the_link_works_and_says_no_pull(client, office) -> None:
    response = link(client, office)
    assert response.status_code == 200
    assert response.get_json() == {"linked": True, "updated_at": None}
    assert "Location" not in response.headers
    page = client.get(f"/api/v1/members/{office['member'].id}", headers=office["headers"])
    assert page.get_json()["health_pull"] == "not-configured"


def test_linking_pulls_the_summary_in_a_job(client, office, pulling,
                                            behaviour: Behaviour,  # noqa: F811
                                            session, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "HEALTH_FHIR_TOKEN", "pull-token-1")
    response = link(client, office)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["pull_job"].startswith("/api/v1/jobs/")
    assert response.headers["Location"].endswith(body["pull_job"])
    assert body["updated_at"] is not None  # JOBS_SYNC: the job ran before the answer
    job = client.get(body["pull_job"], headers=office["headers"]).get_json()
    assert job["kind"] == "health-pull" and job["status"] == "succeeded", job
    assert job["summary"] == "stored" and job["counts"]["entries"] > 10
    assert not any(s in str(job) for s in (YEN, *DISTINCTIVE))
    assert behaviour.authorizations[0] == "Bearer pull-token-1"
    store = HealthStore(session, cipher_for_tests(), actor="test")
    document = store.load(office["member"].id)
    assert document is not None and document["health_id"] == YEN
    page = client.get(f"/api/v1/members/{office['member'].id}", headers=office["headers"])
    assert page.get_json()["health_record"]["updated_at"] is not None
    assert page.get_json()["health_pull"] == "on-link"
    assert len(behaviour.requests) == 2
    again = link(client, office)  # the same link: no new pull
    assert "pull_job" not in again.get_json() and len(behaviour.requests) == 2


def test_the_job_is_seen_only_in_scope(client, office, pulling, factory) -> None:
    job_url = link(client, office).get_json()["pull_job"]
    other = factory.headers(factory.user("officer", "79"))
    assert client.get(job_url, headers=other).status_code == 404


def test_a_server_that_is_down_fails_the_job_and_keeps_the_link(client, office, app,
                                                                monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setitem(app.config, "HEALTH_FHIR_URL", f"http://127.0.0.1:{port}/fhir")
    monkeypatch.setitem(app.config, "HEALTH_FHIR_RETRIES", 0)
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    body = link(client, office).get_json()
    assert body["linked"] is True and body["pull_job"]
    job = client.get(body["pull_job"], headers=office["headers"]).get_json()
    assert job["status"] == "failed" and "cannot be reached" in job["error"]


def test_a_patient_the_server_does_not_know_fails_the_job(client, office, pulling) -> None:
    body = link(client, office, "2401234567").get_json()
    job = client.get(body["pull_job"], headers=office["headers"]).get_json()
    assert job["status"] == "failed" and "knows no patient" in job["error"]
    assert "2401234567" not in str(job)


def test_the_pull_runs_in_a_worker_after_the_link_commits(
        committed_office, server) -> None:  # noqa: F811 (the fixture)
    """The production launcher: the queue; the worker's own session sees the committed link."""
    import time

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Union, User
    from tests.app.worker_helpers import running_worker
    from tests.conftest import Factory

    app = committed_office("pull_thread", HEALTH_FHIR_URL=server, HEALTH_FHIR_RETRIES=0)
    session = db.new_session(app)
    factory = Factory(app, session)
    union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
    officer = session.scalar(select(User).where(User.username == "lan.bn"))
    office = {"member": factory.member(union), "headers": factory.headers(officer)}
    session.close()
    client = app.test_client()
    job_url = link(client, office).get_json()["pull_job"]
    deadline = time.monotonic() + 30
    with running_worker(app):  # the web process only enqueued it
        while True:
            job = client.get(job_url, headers=office["headers"]).get_json()
            if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert job["status"] == "succeeded", job
    page = client.get(f"/api/v1/members/{office['member'].id}", headers=office["headers"])
    assert page.get_json()["health_record"]["updated_at"] is not None
