"""The exam-round scene (issue 26): a union in Bắc Ninh with three members holding cards —
Yến (linked to her health record, summary stored, account activated), Bình (not linked) and
Lan — a member of another union, an industrial-park clinic with its API client, and helpers
to plan, check in and record results."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.composition import card_desk_for, cipher_for_config
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.exams.fhir import MEMBER_NUMBER
from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle
from app.services.health.store import HealthStore
from tests.app.cards_helpers import office
from tests.app.fhir_fixtures import raw
from tests.app.test_member_accounts import activate, member_headers

HEALTH_ID = "7412345678"
ROUNDS = "/api/v1/exam-rounds"
CLINIC_ROUNDS = "/api/v1/clinic/exam-rounds"


@pytest.fixture
def exam_scene(app: Flask, session: Session, client: FlaskClient, factory: Any) -> dict[str, Any]:
    place = office(factory)
    lan = factory.member(place["union"], full_name="Phạm Thị Lan", birth_date=date(1992, 2, 2),
                         sex="F")
    other_union = factory.union("CDCS-24-YENPHONG", "24", name="CĐCS Yên Phong")
    outsider = factory.member(other_union, full_name="Lê Văn Tú", birth_date=date(1985, 7, 7),
                              sex="M")
    desk = card_desk_for(app, session, "test")
    issued = {"yen": desk.issue_for(place["yen"]), "binh": desk.issue_for(place["binh"]),
              "lan": desk.issue_for(lan), "outsider": desk.issue_for(outsider)}
    session.commit()
    cipher = cipher_for_config(app.config)
    store = HealthStore(session, cipher, actor="test")
    store.link(Scope(Principal("user", 0, "admin")), place["yen"].id, HEALTH_ID)
    summary = parse_bundle(raw(HEALTH_ID), health_id=HEALTH_ID, feed="test",
                           received_at=utc_now())
    store.save(place["yen"].id, summary.to_document(), source="feed:test", bundle_id="b-1")
    session.commit()
    assert activate(client, place["yen"], issued["yen"].activation_code).status_code == 200
    clinic = factory.clinic("27001")
    login = factory.clinic_client(clinic)
    other_clinic = factory.clinic("27002", name="Phòng khám KCN Yên Phong")
    texts = {name: desk.text(i.card) for name, i in issued.items()}
    return {**place, "lan": lan, "outsider": outsider, "other_union": other_union,
            "cards": {n: i.card for n, i in issued.items()}, "texts": texts,
            "clinic": clinic, "clinic_headers": factory.clinic_headers(login),
            "other_clinic_headers": factory.clinic_headers(factory.clinic_client(other_clinic)),
            "member_headers": member_headers(client, place["yen"]), "cipher": cipher,
            "store": store}


def plan(client: FlaskClient, scene: dict[str, Any], **fields: Any) -> Any:
    today = today_in_vietnam()
    body = {"clinic_code": "27001", "kind": "periodic", "title": "Khám định kỳ 2026 — Quế Võ",
            "first_day": today.isoformat(), "last_day": today.isoformat(),
            "union_codes": [scene["union"].code], **fields}
    return client.post(ROUNDS, json=body, headers=scene["headers"])


def check_in(client: FlaskClient, scene: dict[str, Any], round_id: int, text: str, *,
             headers: dict[str, str] | None = None) -> Any:
    return client.post(f"{CLINIC_ROUNDS}/{round_id}/check-in", json={"uc1": text},
                       headers=headers or scene["clinic_headers"])


def participant_id(client: FlaskClient, scene: dict[str, Any], round_id: int,
                   member: Any) -> int:
    report = client.get(f"{ROUNDS}/{round_id}", headers=scene["headers"]).get_json()
    return next(p["participant_id"] for u in report["unions"] for p in u["people"]
                if p["member_id"] == member.id)


def result_url(round_id: int, pid: int) -> str:
    return f"{CLINIC_ROUNDS}/{round_id}/participants/{pid}/result"


NOISE_RESULT = {"health_class": "II", "fitness": "fit-with-restrictions",
                "fitness_text": "Không làm việc ở nơi ồn trên 85 dB",
                "hazards": [{"code": "noise", "text": "Tiếng ồn"}],
                "findings": [{"code": "H83.3", "text": "Điếc nghề nghiệp do tiếng ồn"}],
                "recommendations": "Đeo nút tai chống ồn; đo thính lực sau 6 tháng",
                "practitioner": "BS. Trần Thị Mai"}


def fhir_result(member_number: str, *, kind: str = "periodic", health_class: str = "I",
                finding: tuple[str, str] = ("J30.4", "Viêm mũi dị ứng")) -> dict[str, Any]:
    """A clinic's collection Bundle with one occupational exam."""
    day = today_in_vietnam().isoformat()
    subject = {"reference": "urn:uuid:0b0b0b0b-0000-4000-8000-000000000001"}
    encounter = {"reference": "urn:uuid:0b0b0b0b-0000-4000-8000-000000000002"}

    def obs(n: int, code: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"fullUrl": f"urn:uuid:0b0b0b0b-0000-4000-8000-00000000001{n}",
                "resource": {"resourceType": "Observation", "id": f"o{n}", "status": "final",
                             "code": {"coding": [{"system": sy.OCC_OBSERVATION, "code": code}]},
                             "subject": subject, "encounter": encounter,
                             "valueCodeableConcept": value}}

    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": subject["reference"],
         "resource": {"resourceType": "Patient", "id": "p1",
                      "identifier": [{"system": MEMBER_NUMBER, "value": member_number}]}},
        {"fullUrl": encounter["reference"],
         "resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                "code": "AMB"},
                      "type": [{"coding": [{"system": sy.OCC_EXAM_TYPE, "code": kind}]}],
                      "subject": subject, "period": {"start": day}}},
        obs(1, sy.OCC_HEALTH_CLASS, {"coding": [{"system": sy.HEALTH_CLASS,
                                                 "code": health_class}]}),
        obs(2, sy.OCC_FITNESS, {"coding": [{"system": sy.JOB_FITNESS, "code": "fit"}]}),
        obs(3, sy.OCC_HAZARD_CODE, {"coding": [{"system": sy.OCC_HAZARD, "code": "dust"}],
                                    "text": "Bụi"}),
        obs(4, sy.OCC_FINDING, {"coding": [{"system": sy.ICD10, "code": finding[0]}],
                                "text": finding[1]}),
        {"fullUrl": "urn:uuid:0b0b0b0b-0000-4000-8000-000000000020",
         "resource": {"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
                      "code": {"text": "Kết luận khám sức khỏe định kỳ"},
                      "subject": subject, "encounter": encounter,
                      "conclusion": "Tái khám mũi họng sau 3 tháng"}},
    ]}
