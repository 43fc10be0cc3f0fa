"""Exam results to the national health record (issue 26), against a real FHIR server process
(tests/fhir_server, started by the test): a durable outbox, retries with backoff while the
server is down, exactly one copy after it comes back — also when a worker died between the
server storing the Bundle and the row being marked, or when the answer was lost to a
timeout."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import cipher_for_config
from app.extensions import db
from app.models.exam_round import ExamDelivery
from app.services.exams.delivery import Delivery, RetryPolicy
from app.services.exams.fhir import EXAM_RESULT
from app.services.health import systems as sy
from app.services.health.fhir_client import FhirPullClient
from tests.app import exam_scene as scene_fixtures
from tests.app.exam_scene import (
    HEALTH_ID,
    NOISE_RESULT,
    ROUNDS,
    check_in,
    participant_id,
    plan,
    result_url,
)
from tests.fhir_server.process import FhirServerProcess
from tests.fhir_server.process import fhir_server as fhir_server  # the fixture

exam_scene = scene_fixtures.exam_scene  # the fixture
Scene = dict[str, Any]


class _Killed(BaseException):
    """The worker process dies (no handler runs: not an Exception)."""


def delivery(app: Flask, server: FhirServerProcess, *, clock: Any = utc_now,
             timeout: float = 5.0, client: Any = None) -> Delivery:
    def make_client() -> Any:
        return client or FhirPullClient(server.base_url, timeout=timeout, retries=0,
                                        backoff=0.0)

    return Delivery(lambda: db.new_session(app, write=True), cipher_for_config(app.config),
                    make_client, policy=RetryPolicy(base=timedelta(seconds=30)), clock=clock)


def _examined(client: FlaskClient, scene: Scene) -> tuple[int, int]:
    """A round with Yến checked in and her result recorded: (round id, participant id)."""
    response = plan(client, scene)
    assert response.status_code == 201
    round_id = response.get_json()["id"]
    pid = participant_id(client, scene, round_id, scene["yen"])
    assert check_in(client, scene, round_id, scene["texts"]["yen"]).status_code == 200
    recorded = client.post(result_url(round_id, pid), json=NOISE_RESULT,
                           headers=scene["clinic_headers"])
    assert recorded.status_code == 201, recorded.get_json()
    return round_id, pid


def _row(session: Session, pid: int) -> ExamDelivery:
    row = session.scalar(select(ExamDelivery).where(ExamDelivery.participant_id == pid)
                         .execution_options(populate_existing=True))
    assert row is not None
    return row


def _stored(server: FhirServerProcess, pid_bundle: str) -> dict[str, int]:
    """How many resources of each kind the server holds for one result."""
    counts = {}
    for kind, part in (("Encounter", "encounter"), ("Observation", "health-class"),
                       ("Observation", "finding-0"), ("DiagnosticReport", "report")):
        counts[f"{kind}/{part}"] = len(server.search(kind, f"{EXAM_RESULT}|{pid_bundle}/{part}"))
    counts["Patient"] = len(server.search("Patient", f"{sy.HEALTH_ID}|{HEALTH_ID}"))
    return counts


def _bundle_uuid(session: Session, pid: int) -> str:
    from app.models.exam_round import ExamResult

    row = session.get(ExamResult, pid)
    assert row is not None
    return row.bundle_uuid


def test_a_result_queued_while_the_server_is_down_is_delivered_once_when_it_is_back(
        app: Flask, client: FlaskClient, session: Session, exam_scene: Scene,
        fhir_server: FhirServerProcess) -> None:
    fhir_server.stop()  # down mid-round
    round_id, pid = _examined(client, exam_scene)
    assert _row(session, pid).status == "pending"
    report = delivery(app, fhir_server, timeout=1.0).run()
    assert report.sent == 0 and report.retrying == 1 and report.stopped
    row = _row(session, pid)
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > utc_now() + timedelta(seconds=25)  # backed off
    # not due yet: a run now sends nothing
    fhir_server.start()
    assert delivery(app, fhir_server).run().sent == 0
    later = lambda: utc_now() + timedelta(minutes=1)  # noqa: E731
    assert delivery(app, fhir_server, clock=later).run().sent == 1
    assert _row(session, pid).status == "sent"
    assert _stored(fhir_server, _bundle_uuid(session, pid)) == {
        "Encounter/encounter": 1, "Observation/health-class": 1, "Observation/finding-0": 1,
        "DiagnosticReport/report": 1, "Patient": 1}
    [encounter] = fhir_server.search("Encounter")
    [patient] = fhir_server.search("Patient")
    assert encounter["subject"]["reference"] == f"Patient/{patient['id']}"
    assert encounter["type"][0]["coding"][0]["code"] == "periodic"
    # the pull client finds the same Patient on the server (the searches it uses)
    with FhirPullClient(fhir_server.base_url, retries=0) as puller:
        assert puller.find_patient(HEALTH_ID) == patient["id"]
    # a sent row is never picked again
    assert delivery(app, fhir_server, clock=later).run().sent == 0
    assert fhir_server.get("/_admin/stats")["transactions"] == 1
    report_body = client.get(f"{ROUNDS}/{round_id}", headers=exam_scene["headers"]).get_json()
    [yen] = [p for u in report_body["unions"] for p in u["people"] if p["participant_id"] == pid]
    assert (yen["state"], yen["delivery"]) == ("delivered", "sent")
    assert report_body["unions"][0]["counts"]["delivered"] == 1


def test_a_worker_killed_mid_delivery_leaves_one_copy_after_the_next_run(
        app: Flask, client: FlaskClient, session: Session, exam_scene: Scene,
        fhir_server: FhirServerProcess) -> None:
    _, pid = _examined(client, exam_scene)

    class DiesAfterSending(FhirPullClient):
        def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
            super().transaction(bundle)  # the server stores it ...
            raise _Killed()  # ... and the worker dies before marking the row

    dying = DiesAfterSending(fhir_server.base_url, retries=0)
    with pytest.raises(_Killed):
        delivery(app, fhir_server, client=dying).run()
    row = _row(session, pid)
    assert row.status == "sending"  # claimed, never marked
    assert fhir_server.get("/_admin/stats")["transactions"] == 1
    # within the lease another run leaves it alone; after it, the row is claimed again
    assert delivery(app, fhir_server).run().sent == 0
    after_lease = lambda: utc_now() + timedelta(minutes=10)  # noqa: E731
    report = delivery(app, fhir_server, clock=after_lease).run()
    assert report.reclaimed == 1 and report.sent == 1
    assert _row(session, pid).status == "sent"
    assert fhir_server.get("/_admin/stats")["transactions"] == 2  # sent twice ...
    assert _stored(fhir_server, _bundle_uuid(session, pid)) == {  # ... stored once
        "Encounter/encounter": 1, "Observation/health-class": 1, "Observation/finding-0": 1,
        "DiagnosticReport/report": 1, "Patient": 1}


def test_an_answer_lost_to_a_timeout_is_retried_without_a_second_copy(
        app: Flask, client: FlaskClient, session: Session, exam_scene: Scene,
        fhir_server: FhirServerProcess) -> None:
    _, pid = _examined(client, exam_scene)
    fhir_server.admin("stall", count=1, seconds=3)
    report = delivery(app, fhir_server, timeout=0.5).run()
    assert report.retrying == 1 and _row(session, pid).status == "pending"
    later = lambda: utc_now() + timedelta(minutes=1)  # noqa: E731
    assert delivery(app, fhir_server, clock=later).run().sent == 1
    assert _stored(fhir_server, _bundle_uuid(session, pid))["Encounter/encounter"] == 1


def test_a_server_error_is_retried_and_a_refusal_fails_for_good(
        app: Flask, client: FlaskClient, session: Session, exam_scene: Scene,
        fhir_server: FhirServerProcess) -> None:
    _, pid = _examined(client, exam_scene)
    fhir_server.admin("fail", count=1, status=503)
    assert delivery(app, fhir_server).run().retrying == 1
    fhir_server.admin("fail", count=1, status=422)
    later = lambda: utc_now() + timedelta(minutes=2)  # noqa: E731
    report = delivery(app, fhir_server, clock=later).run()
    assert report.failed == 1
    row = _row(session, pid)
    assert row.status == "failed" and "422" in row.last_error


def test_a_held_result_is_sent_once_the_member_is_linked(
        app: Flask, client: FlaskClient, session: Session, exam_scene: Scene,
        fhir_server: FhirServerProcess) -> None:
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    response = plan(client, exam_scene)
    round_id = response.get_json()["id"]
    binh = exam_scene["binh"]
    pid = participant_id(client, exam_scene, round_id, binh)
    check_in(client, exam_scene, round_id, exam_scene["texts"]["binh"])
    assert client.post(result_url(round_id, pid), json=NOISE_RESULT,
                       headers=exam_scene["clinic_headers"]).get_json()["delivery"] == "held"
    assert delivery(app, fhir_server).run().sent == 0
    assert _row(session, pid).status == "held"
    exam_scene["store"].link(Scope(Principal("user", 0, "admin")), binh.id, "7923456789")
    session.commit()
    report = delivery(app, fhir_server).run()
    assert report.released == 1 and report.sent == 1
    assert len(fhir_server.search("Patient", f"{sy.HEALTH_ID}|7923456789")) == 1


def test_the_worker_sends_exam_results_as_a_duty_when_a_fhir_server_is_configured(
        make_app: Any, connection: Any, client: FlaskClient, session: Session,
        exam_scene: Scene, fhir_server: FhirServerProcess) -> None:
    from app.duties import exam_results_duty, periodic_duties

    def bound(**config: Any) -> Flask:
        application = make_app(config)
        db.bind_app_to(application, connection)
        return application

    assert exam_results_duty(bound()) is None  # no server configured
    assert exam_results_duty(bound(HEALTH_FHIR_URL=fhir_server.base_url,
                                   EXAM_DELIVERY_EVERY_SECONDS=0)) is None
    worker_app = bound(HEALTH_FHIR_URL=fhir_server.base_url, HEALTH_FHIR_RETRIES=0)
    assert "exam-results" in [d.name for d in periodic_duties(worker_app)]
    _, pid = _examined(client, exam_scene)
    duty = exam_results_duty(worker_app)
    assert duty is not None and duty.every == 30
    assert duty.run_if_due(now=100.0) is True
    assert _row(session, pid).status == "sent"
    assert _stored(fhir_server, _bundle_uuid(session, pid))["Encounter/encounter"] == 1


@pytest.mark.slow
def test_a_real_worker_killed_mid_delivery_leaves_one_copy(
        committed_office: Any, fhir_server: FhirServerProcess) -> None:
    """``unioncard worker`` sends a result; the server stores it and stalls its answer; the
    worker is killed (SIGKILL); the next run after the lease sends it again: one copy."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from datetime import date

    from app.clock import today_in_vietnam
    from app.models import Member
    from app.models.exam_round import ExamParticipant, ExamRound
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.clinics.directory import ClinicIdentity
    from app.services.clinics.register import ClinicRegister
    from app.services.exams.results import ExamResults, findings_from_json
    from app.services.health.store import HealthStore
    from app.services.registry.members import MemberRegistry
    from tests.conftest import make_cccd, unioncard_env

    app = committed_office("examkill")
    admin = Scope(Principal("user", 0, "admin"))
    cipher = cipher_for_config(app.config)
    session = db.new_session(app, write=True)
    clinic = ClinicRegister(session, admin, actor="test").create({
        "facility_code": "27001", "name": "Phòng khám KCN Quế Võ", "province_code": "24",
        "facility_type": "industrial-park-clinic", "address": "KCN Quế Võ"})
    member, _ = MemberRegistry(session, cipher, actor="test").create(admin, {
        "full_name": "Nguyễn Thị Kim Yến", "birth_date": date(1994, 3, 12), "sex": "F",
        "personal_id": make_cccd(date(1994, 3, 12), "F"), "union_code": "CDCS-24-QUEVO1"})
    assert isinstance(member, Member)
    HealthStore(session, cipher, actor="test").link(admin, member.id, HEALTH_ID)
    today = today_in_vietnam()
    round_ = ExamRound(province_code="24", clinic_id=clinic.id, kind="periodic", title="R",
                       first_day=today, last_day=today, status="planned", created_by="test")
    session.add(round_)
    session.flush()
    participant = ExamParticipant(round_id=round_.id, member_id=member.id, province_code="24",
                                  union_code=member.union_code, state="checked-in",
                                  reply_note="", checked_in_at=utc_now())
    session.add(participant)
    session.flush()
    identity = ClinicIdentity(clinic.id, "27001", clinic.name, clinic.facility_type, "24",
                              True, "clinic-27001-test", 0)
    ExamResults(session, cipher).record(identity, round_.id, participant.id,
                                        findings_from_json(NOISE_RESULT), recorded_as="json",
                                        actor="test")
    session.commit()
    pid = participant.id
    bundle_uuid = _bundle_uuid(session, pid)
    session.close()

    fhir_server.admin("stall", count=1, seconds=60)
    env = unioncard_env(app.config["DATABASE_URL"], HEALTH_FHIR_URL=fhir_server.base_url,
                        HEALTH_FHIR_TIMEOUT="120", HEALTH_FHIR_RETRIES="0",
                        AUDIT_CHECKPOINT_SECONDS="0", ON_CARD_REFRESH_SECONDS="0",
                        PIN_PRESENCE_PRUNE_SECONDS="0")
    root = Path(__file__).resolve().parents[2]
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=root,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fhir_server.get("/_admin/stats")["transactions"] < 1:  # stored, answer stalled
            assert time.monotonic() < deadline, "the worker never sent the result"
            time.sleep(0.1)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    with db.new_session(app) as session:
        assert _row(session, pid).status == "sending"  # claimed, never marked
    after_lease = lambda: utc_now() + timedelta(minutes=10)  # noqa: E731
    report = Delivery(lambda: db.new_session(app, write=True), cipher,
                      lambda: FhirPullClient(fhir_server.base_url, retries=0),
                      clock=after_lease).run()
    assert report.reclaimed == 1 and report.sent == 1
    with db.new_session(app) as session:
        assert _row(session, pid).status == "sent"
    assert _stored(fhir_server, bundle_uuid) == {
        "Encounter/encounter": 1, "Observation/health-class": 1, "Observation/finding-0": 1,
        "DiagnosticReport/report": 1, "Patient": 1}
