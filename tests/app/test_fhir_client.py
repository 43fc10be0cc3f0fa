"""The FHIR pull client against a local FHIR server started by the tests (http.server on
127.0.0.1, a random port) serving the shipped fixtures: found, not found, ambiguous, down, slow,
503 then OK, 429 with Retry-After, garbage."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services.errors import (
    FhirInvalid,
    HealthRecordAmbiguous,
    HealthRecordNotFound,
    HealthRecordUnavailable,
)
from app.services.health import systems as sy
from app.services.health.fhir_client import FhirPullClient
from tests.app.fhir_fixtures import FIXTURES, NOW, bundle

YEN, HUNG, HOA, ANH = FIXTURES
TOKEN = "feed-token-1"


@dataclass
class Behaviour:
    """What the fixture server does; tests change it."""

    failures: list[int] = field(default_factory=list)  # statuses to answer first, in order
    retry_after: str | None = None
    delay: float = 0.0
    garbage: bool = False
    duplicate: bool = False
    patient_id: str | None = None  # answer this id in the search
    summary_of: str | None = None  # serve this health ID's summary for every patient
    requests: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)


def _patient_ids() -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for health_id in FIXTURES:
        b = bundle(health_id)
        patient = next(e["resource"] for e in b["entry"]
                       if e["resource"]["resourceType"] == "Patient")
        out[health_id] = (patient["id"], b)
    return out


PATIENTS = _patient_ids()


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            except ConnectionError:
                pass  # the client gave up (the slow case)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            behaviour.requests.append(self.path)
            behaviour.authorizations.append(self.headers.get("Authorization"))
            if behaviour.delay:
                time.sleep(behaviour.delay)
            if behaviour.failures:
                status = behaviour.failures.pop(0)
                headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                self.send(status, b'{"resourceType": "OperationOutcome"}', headers)
                return
            if behaviour.garbage:
                self.send(200, b"<html>Bad gateway</html>")
                return
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if parts == ["fhir", "Patient"]:
                system, _, value = parse_qs(url.query)["identifier"][0].partition("|")
                found = [PATIENTS[value]] if system == sy.HEALTH_ID and value in PATIENTS else []
                entries = [{"fullUrl": f"http://x/fhir/Patient/{pid}",
                            "resource": {"resourceType": "Patient",
                                         "id": behaviour.patient_id or pid},
                            "search": {"mode": "match"}} for pid, _ in found]
                if behaviour.duplicate and entries:
                    entries.append({"resource": {"resourceType": "Patient", "id": "dup-1"},
                                    "search": {"mode": "match"}})
                body = {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                        "entry": entries}
                self.send(200, json.dumps(body).encode())
                return
            if len(parts) == 4 and parts[:2] == ["fhir", "Patient"] and parts[3] == "$summary":
                for pid, b in PATIENTS.values():
                    if behaviour.summary_of:
                        b = PATIENTS[behaviour.summary_of][1]
                    if pid == parts[2]:
                        self.send(200, json.dumps(b, ensure_ascii=False).encode())
                        return
            self.send(404, b'{"resourceType": "OperationOutcome"}')

    return Handler


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


@pytest.fixture
def server(behaviour: Behaviour) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(behaviour))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    finally:
        httpd.shutdown()
        httpd.server_close()


class Sleeps(list[float]):
    """Records the client's backoff waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(base: str, **kwargs: Any) -> FhirPullClient:
    options: dict[str, Any] = {"timeout": 2.0, "retries": 3, "backoff": 0.5,
                               "sleep": Sleeps()}
    options.update(kwargs)
    return FhirPullClient(base, **options)


@pytest.mark.parametrize("health_id", list(FIXTURES))
def test_pull_finds_the_patient_and_maps_the_summary(server: str, behaviour: Behaviour,
                                                     health_id: str) -> None:
    with client(server, token=TOKEN) as c:
        summary = c.pull(health_id, feed="bhxh", received_at=NOW)
    assert summary.health_id == health_id and summary.occ_exams
    pid = PATIENTS[health_id][0]
    assert behaviour.requests[0].startswith("/fhir/Patient?identifier=")
    assert behaviour.requests[1] == f"/fhir/Patient/{pid}/$summary"
    assert behaviour.authorizations == [f"Bearer {TOKEN}"] * 2


def test_without_a_token_no_authorization_is_sent(server: str, behaviour: Behaviour) -> None:
    with client(server) as c:
        c.find_patient(YEN)
    assert behaviour.authorizations == [None]


def test_an_unknown_health_id_is_not_found(server: str) -> None:
    with client(server) as c, pytest.raises(HealthRecordNotFound):
        c.pull("7000000000", feed="bhxh", received_at=NOW)


def test_two_patients_with_one_health_id_are_ambiguous(server: str,
                                                       behaviour: Behaviour) -> None:
    behaviour.duplicate = True
    with client(server) as c, pytest.raises(HealthRecordAmbiguous):
        c.find_patient(YEN)


def test_503_then_ok_is_retried_with_exponential_backoff(server: str,
                                                         behaviour: Behaviour) -> None:
    behaviour.failures = [503, 502, 500]
    sleeps = Sleeps()
    with client(server, sleep=sleeps) as c:
        assert c.find_patient(HOA) == PATIENTS[HOA][0]
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(behaviour.requests) == 4


def test_retries_are_bounded(server: str, behaviour: Behaviour) -> None:
    behaviour.failures = [503] * 10
    sleeps = Sleeps()
    with client(server, sleep=sleeps, retries=2) as c, \
            pytest.raises(HealthRecordUnavailable) as caught:
        c.find_patient(HOA)
    assert "503" in caught.value.detail and "3 attempts" in caught.value.detail
    assert caught.value.retry_after >= 1
    assert len(behaviour.requests) == 3 and len(sleeps) == 2


def test_429_waits_for_retry_after_within_the_cap(server: str, behaviour: Behaviour) -> None:
    behaviour.failures, behaviour.retry_after = [429, 429], "7"
    sleeps = Sleeps()
    with client(server, sleep=sleeps, max_wait=5.0) as c:
        c.find_patient(HOA)
    assert sleeps == [5.0, 5.0]


def test_a_4xx_is_not_retried(server: str, behaviour: Behaviour) -> None:
    behaviour.failures = [401]
    with client(server) as c, pytest.raises(HealthRecordUnavailable) as caught:
        c.find_patient(HOA)
    assert "401" in caught.value.detail and len(behaviour.requests) == 1


def test_a_slow_server_times_out(server: str, behaviour: Behaviour) -> None:
    behaviour.delay = 1.0
    started = time.monotonic()
    with client(server, timeout=0.2, retries=1) as c, \
            pytest.raises(HealthRecordUnavailable) as caught:
        c.find_patient(YEN)
    assert "did not answer in time (2 attempts)" in caught.value.detail
    assert time.monotonic() - started < 2.0


def test_a_server_that_is_down(behaviour: Behaviour) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    sleeps = Sleeps()
    with client(f"http://127.0.0.1:{port}/fhir", sleep=sleeps, retries=2) as c, \
            pytest.raises(HealthRecordUnavailable) as caught:
        c.find_patient(YEN)
    assert "cannot be reached" in caught.value.detail and sleeps == [0.5, 1.0]


def test_a_patient_id_that_is_not_a_fhir_id_is_refused(server: str,
                                                        behaviour: Behaviour) -> None:
    behaviour.patient_id = "../../Patient/x"
    with client(server) as c, pytest.raises(HealthRecordUnavailable) as caught:
        c.fetch_summary(YEN)
    assert "not a FHIR id" in caught.value.detail and len(behaviour.requests) == 1


def test_garbage_is_an_invalid_response(server: str, behaviour: Behaviour) -> None:
    behaviour.garbage = True
    with client(server) as c, pytest.raises(HealthRecordUnavailable) as caught:
        c.find_patient(YEN)
    assert "not JSON" in caught.value.detail


def test_an_oversized_answer_is_refused(server: str) -> None:
    with client(server, max_bytes=1000) as c, pytest.raises(HealthRecordUnavailable) as caught:
        c.fetch_summary(YEN)
    assert "too large" in caught.value.detail


def test_a_summary_about_another_patient_is_invalid(server: str, behaviour: Behaviour) -> None:
    behaviour.summary_of = HUNG  # the server answers Hùng's summary for Yến's Patient id
    with client(server) as c, pytest.raises(FhirInvalid) as caught:
        c.pull(YEN, feed="bhxh", received_at=NOW)
    assert caught.value.errors[0]["field"].endswith(".resource.identifier")


def test_the_errors_are_answered_by_the_problem_table() -> None:
    from app.edge.problems import error_problem

    assert error_problem(HealthRecordNotFound).problem.status == 404
    assert error_problem(HealthRecordAmbiguous).problem.status == 409
    unavailable = error_problem(HealthRecordUnavailable).problem
    assert (unavailable.slug, unavailable.status) == ("health-record-unavailable", 503)
