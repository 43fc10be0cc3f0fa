"""The clinic's result of one exam: accepted only from the round's clinic for a member it
checked in, as JSON (``ExamFindings``) or as FHIR (``app.services.exams.fhir``), then

- sealed in ``exam_results`` (AES-256-GCM envelope, bound to the participant);
- written into the member's encrypted summary as an occupational exam (``HealthStore.save``:
  the member sees it at once; ``last_routine_exam_on`` moves for a periodic or pre-employment
  round unless a finding makes the exam sensitive);
- classified like every other entry: each finding and hazard by the fail-closed classifier
  (``summary.finding_verdict``), so a finding without a decidable code is sensitive;
- logged in the member's access log (kind ``write``: what was written, by which clinic);
- queued for the national health record (``exam_deliveries``; ``held`` while the member has
  no linked health ID).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.crypto import DataCipher
from app.models import HealthLink, Member
from app.models.exam_round import ExamDelivery, ExamParticipant, ExamResult, ExamRound
from app.services.access_events.log import AccessRecord
from app.services.clinics.directory import ClinicIdentity
from app.services.errors import NotFound, ValidationFailed
from app.services.exams.checkin import PURPOSE, clinic_round
from app.services.exams.rounds import RoundClosed
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.store import HealthStore

RESULT_CONTEXT = "exam_result.result"
#: What a result writes into the member's summary.
WRITTEN_SECTIONS = ("occ-exam-summary", "occ-exam-detail")
#: An ICD-10 code as written (A00 .. Z99, optionally a dot and up to 4 more characters).
ICD10_CODE = re.compile(r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,4})?")
HAZARD_CODE = re.compile(r"[a-z0-9][a-z0-9\-]{0,63}")
MAX_ITEMS = 40
MAX_TEXT = 500

#: The Vietnamese names of the round kinds (the exam's text in the record).
KIND_TEXT = {"periodic": "Khám sức khỏe định kỳ",
             "pre-employment": "Khám sức khỏe trước khi bố trí việc làm",
             "occupational-disease": "Khám phát hiện bệnh nghề nghiệp"}


@dataclass(frozen=True)
class ExamFindings:
    """A result as the clinic states it (the JSON form of the API and of the sealed row)."""

    health_class: str | None
    fitness: str | None
    fitness_text: str = ""
    hazards: tuple[s.Code, ...] = ()
    findings: tuple[s.Code, ...] = ()
    recommendations: str = ""
    measurements: tuple[s.Measurement, ...] = ()
    date: str | None = None
    practitioner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what is sealed)."""
        return {"health_class": self.health_class, "fitness": self.fitness,
                "fitness_text": self.fitness_text,
                "hazards": [c.to_dict() for c in self.hazards],
                "findings": [c.to_dict() for c in self.findings],
                "recommendations": self.recommendations,
                "measurements": [m.to_dict() for m in self.measurements],
                "date": self.date, "practitioner": self.practitioner}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExamFindings:
        """From the JSON form."""
        return cls(d.get("health_class"), d.get("fitness"), str(d.get("fitness_text", "")),
                   tuple(s.Code.from_dict(c) for c in d.get("hazards", ())),
                   tuple(s.Code.from_dict(c) for c in d.get("findings", ())),
                   str(d.get("recommendations", "")),
                   tuple(s.Measurement.from_dict(m) for m in d.get("measurements", ())),
                   d.get("date"), d.get("practitioner"))


def findings_from_json(body: Mapping[str, Any]) -> ExamFindings:
    """A result from the API's JSON body (already shaped by its schema): every field checked,
    every problem reported at once.

    Raises:
        ValidationFailed: a health class outside I–V, a fitness outside its list, an ICD-10
            code that is not one, a hazard code that is not a project code, too many items.
    """
    errors: list[dict[str, str]] = []

    def bad(name: str, detail: str) -> None:
        errors.append({"location": "json", "field": name,
                       "pointer": "#/" + name.replace(".", "/"), "detail": detail})

    health_class = body.get("health_class")
    if health_class not in s.HEALTH_CLASSES:
        bad("health_class", "The health class is I, II, III, IV or V (Decision 1613/BYT-QĐ).")
    fitness = body.get("fitness")
    if fitness not in s.FITNESS:
        bad("fitness", f"Fitness for the job is one of {', '.join(s.FITNESS)}.")
    findings: list[s.Code] = []
    for i, f in enumerate(body.get("findings") or ()):
        code = str(f.get("code", "")).strip().upper()
        system = sy.ICD10_VN if f.get("system") == "icd-10-vn" else sy.ICD10
        if not ICD10_CODE.fullmatch(code):
            bad(f"findings.{i}.code", "An ICD-10 code (e.g. H83.3, J62.8).")
        findings.append(s.Code(system, code, str(f.get("text", "")).strip()[:MAX_TEXT]))
    hazards: list[s.Code] = []
    for i, h in enumerate(body.get("hazards") or ()):
        code = str(h.get("code", "")).strip().lower()
        if not HAZARD_CODE.fullmatch(code):
            bad(f"hazards.{i}.code", "A hazard code (noise, dust, solvents, ...).")
        hazards.append(s.Code(sy.OCC_HAZARD, code, str(h.get("text", "")).strip()[:MAX_TEXT]))
    if len(findings) > MAX_ITEMS or len(hazards) > MAX_ITEMS:
        bad("findings", f"At most {MAX_ITEMS} findings and {MAX_ITEMS} hazards.")
    if errors:
        raise ValidationFailed("The exam result is invalid.", errors=errors)
    return ExamFindings(health_class, fitness,
                        str(body.get("fitness_text") or "").strip()[:MAX_TEXT],
                        tuple(hazards), tuple(findings),
                        str(body.get("recommendations") or "").strip()[:2000],
                        practitioner=(str(body["practitioner"]).strip()[:200]
                                      if body.get("practitioner") else None))


@dataclass(frozen=True)
class Recorded:
    """A recorded result: the participant, the access event to append, whether the member's
    summary took it, and the delivery's first state."""

    participant: ExamParticipant
    record: AccessRecord
    in_summary: bool
    delivery: str
    sensitive: bool
    written: tuple[str, ...] = field(default=WRITTEN_SECTIONS)


def exam_entry(round_: ExamRound, participant: ExamParticipant, clinic: ClinicIdentity,
               findings: ExamFindings, *, bundle_uuid: str,
               received_at: datetime) -> s.OccExam:
    """The occupational exam as the summary stores it, classified fail-closed."""
    verdict = s.finding_verdict((*findings.findings, *findings.hazards))
    provenance = s.Provenance(f"clinic:{clinic.facility_code}", f"urn:uuid:{bundle_uuid}",
                              received_at)
    measurements = tuple(replace(m, provenance=provenance) for m in findings.measurements)
    text = KIND_TEXT.get(round_.kind, round_.kind)
    fitness_text = findings.fitness_text
    if findings.recommendations:  # the summary's exam has no field of its own for them yet
        fitness_text = "; ".join(x for x in (fitness_text, "Khuyến nghị / Recommendations: "
                                             + findings.recommendations) if x)
    return s.OccExam(
        id=f"exam-round-{round_.id}-{participant.id}",
        codes=(s.Code(sy.OCC_EXAM_TYPE, round_.kind, text),), text=text,
        source=s.Facility(clinic.facility_code, clinic.name),
        date=findings.date or today_in_vietnam(received_at).isoformat(),
        provenance=provenance, sensitive=verdict.sensitive, sensitivity=verdict.category,
        exam_type=round_.kind, health_class=findings.health_class, fitness=findings.fitness,
        fitness_text=fitness_text, hazards=findings.hazards, findings=findings.findings,
        measurements=measurements)


class ExamResults:
    """Records results for one clinic request."""

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.clock = clock

    def participant(self, clinic: ClinicIdentity, round_id: int,
                    participant_id: int) -> tuple[ExamRound, ExamParticipant, Member]:
        """The round's participant, for its clinic.

        Raises:
            NotFound: no such round at this clinic, or no such participant in it.
        """
        round_ = clinic_round(self.session, clinic, round_id)
        row = self.session.execute(
            select(ExamParticipant, Member).join(Member, Member.id == ExamParticipant.member_id)
            .where(ExamParticipant.id == participant_id, ExamParticipant.round_id == round_.id)
            .with_for_update(of=ExamParticipant)).first()
        if row is None:
            raise NotFound("No such participant in this round.")
        return round_, row[0], row[1]

    def health_id(self, member_id: int) -> str | None:
        """The member's linked health ID (None: not linked)."""
        return HealthStore(self.session, self.cipher, actor="system").health_id(member_id)

    def record(self, clinic: ClinicIdentity, round_id: int, participant_id: int,
               findings: ExamFindings, *, recorded_as: str,
               actor: str) -> Recorded:
        """Record the result of a checked-in participant (see the module's doc).

        Raises:
            NotFound: no such round at this clinic or participant in it.
            RoundClosed: the participant was not checked in, or has a result already.
        """
        round_, participant, member = self.participant(clinic, round_id, participant_id)
        if participant.state in ("examined", "delivered"):
            raise RoundClosed("This participant's result is recorded already.",
                              reason="result-recorded")
        if participant.state != "checked-in":
            raise RoundClosed("Only a member the clinic checked in can have a result.",
                              reason="not-checked-in")
        now = self.clock()
        bundle_uuid = str(uuid.uuid4())
        exam = exam_entry(round_, participant, clinic, findings, bundle_uuid=bundle_uuid,
                          received_at=now)
        in_summary = self._into_summary(member, exam, bundle_uuid, actor)
        self.session.add(ExamResult(
            participant_id=participant.id, province_code=participant.province_code,
            result_encrypted=self.cipher.encrypt(
                json.dumps(findings.to_dict(), ensure_ascii=False, sort_keys=True),
                RESULT_CONTEXT, str(participant.id)),
            bundle_uuid=bundle_uuid, recorded_at=now, recorded_by=clinic.client_id,
            recorded_as=recorded_as, written=list(WRITTEN_SECTIONS)))
        linked = self.session.scalar(select(HealthLink.id).where(
            HealthLink.member_id == member.id)) is not None
        delivery = "pending" if linked else "held"
        self.session.add(ExamDelivery(
            participant_id=participant.id, province_code=participant.province_code,
            status=delivery, attempts=0, created_at=now, next_attempt_at=now,
            last_error="" if linked else "the member has no linked health ID"))
        participant.state = "examined"
        participant.examined_at = now
        self.session.flush()
        record = AccessRecord(
            kind="write", member_id=member.id, province_code=member.province_code,
            card_serial=participant.checked_in_card, clinic_code=clinic.facility_code,
            clinic_name=clinic.name, client_id=clinic.client_id,
            practitioner=findings.practitioner, purpose=PURPOSE, released=WRITTEN_SECTIONS,
            outcome="written", reason=f"exam-round-{round_.id}")
        return Recorded(participant, record, in_summary, delivery, exam.sensitive)

    def _into_summary(self, member: Member, exam: s.OccExam, bundle_uuid: str,
                      actor: str) -> bool:
        """Put the exam into the member's stored summary (a new summary for a linked member
        without one); False when she has no linked health ID and no summary."""
        store = HealthStore(self.session, self.cipher, actor=actor, clock=self.clock)
        document = store.load(member.id)
        if document is not None:
            summary = s.HealthSummary.from_document(document)
        else:
            health_id = store.health_id(member.id)
            if health_id is None:
                return False
            summary = s.HealthSummary(patient=s.Patient(
                health_id, member.full_name, member.birth_date.isoformat(),
                {"F": "female", "M": "male"}.get(member.sex)))
        exams = tuple(e for e in summary.occ_exams if e.id != exam.id) + (exam,)
        store.save(member.id, replace(summary, occ_exams=exams).to_document(),
                   source=f"clinic:{exam.source.code}", bundle_id=f"urn:uuid:{bundle_uuid}")
        return True

    def load(self, participant_id: int) -> ExamFindings | None:
        """A participant's sealed result, opened (for the delivery and the member)."""
        row = self.session.get(ExamResult, participant_id)
        if row is None:
            return None
        return ExamFindings.from_dict(json.loads(self.cipher.decrypt(
            row.result_encrypted, RESULT_CONTEXT, str(participant_id))))

