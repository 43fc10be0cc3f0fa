"""The pull on link: linking a member starts a job that fetches their summary from the
configured FHIR server with ``FhirPullClient`` and stores it; its result or failure is shown at
GET /api/v1/jobs/{id}."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.db import WRITE_INTENT
from app.models import Job, Member
from app.services import audit, jobs
from app.services.errors import Conflict, NotFound
from app.services.health.fhir_client import FhirPullClient
from app.services.health.store import HealthStore

KIND = "health-pull"
#: Given the job's session, what runs after a member's summary changed.
SummaryHook = Callable[[Session], Callable[[int], object]]
#: The actor (and the summary's source) of pulled records.
PULL_ACTOR = "system:health-pull"


@dataclass(frozen=True)
class PullSettings:
    """Where and how to pull: the FHIR server's base URL (empty: no pull), its bearer token,
    the timeout of each answer and the further attempts."""

    url: str = ""
    token: str = ""
    timeout: float = 5.0
    retries: int = 3

    @property
    def configured(self) -> bool:
        """Whether a FHIR server is configured at all."""
        return bool(self.url)


def start(session: Session, member: Member, *, actor: str, settings: PullSettings,
          cipher: DataCipher, launch: jobs.Launch,
          on_summary_changed: SummaryHook | None = None) -> Job | None:
    """Queue and launch the pull of a just-linked member's summary (commits the caller's
    transaction, so the job's own session sees the link); None when no server is configured.

    The job holds only the member id: the health ID is read, decrypted, by the job itself.
    """
    if not settings.configured:
        return None
    job = jobs.create(session, kind=KIND, created_by=actor, province_code=member.province_code,
                      union_code=member.union_code, params={"member_id": member.id})
    session.commit()
    launch(job.id, pull_work(cipher, settings, on_summary_changed=on_summary_changed))
    return job


def pull_work(cipher: DataCipher, settings: PullSettings, *,
              client: Callable[[PullSettings], FhirPullClient] | None = None,
              clock: Callable[[], datetime] = utc_now,
              on_summary_changed: SummaryHook | None = None) -> jobs.Work:
    """The job's work: read the link, pull (no transaction open meanwhile), then store the
    summary in one short write, if the member is still linked to the same health ID; a changed
    summary then runs ``on_summary_changed(session)(member_id)`` in that write (the on-card
    refresh)."""
    def connect(s: PullSettings) -> FhirPullClient:
        return FhirPullClient(s.url, token=s.token or None, timeout=s.timeout,
                              retries=s.retries)

    def work(session: Session, job: Job) -> Mapping[str, Any]:
        member_id = int(job.params["member_id"])
        store = HealthStore(session, cipher, actor=PULL_ACTOR, clock=clock)
        health_id = store.health_id(member_id)
        if health_id is None:
            raise NotFound("The member is no longer linked to a health record.")
        session.commit()  # hold no transaction while the server is asked
        with (client or connect)(settings) as fhir:
            summary = fhir.pull(health_id, feed=PULL_ACTOR, received_at=clock())
        document = summary.to_document()
        bundle_id = summary.entries()[0].provenance.bundle if summary.entries() else "pull"

        def write() -> bool:
            session.connection(execution_options={WRITE_INTENT: True})
            if store.health_id(member_id) != health_id:
                raise Conflict("The member was linked to another health ID meanwhile.")
            member = session.get(Member, member_id)
            assert member is not None  # linked
            saved = store.save(member_id, document, source=PULL_ACTOR, bundle_id=bundle_id)
            if saved.changed and on_summary_changed is not None:
                on_summary_changed(session)(member_id)
            audit.record(session, actor=PULL_ACTOR, action="health-record.pull",
                         object_type="member", object_id=member_id,
                         province_code=member.province_code,
                         details={"job": job.id, "changed": saved.changed})
            session.commit()
            return saved.changed

        changed = jobs.retry_busy(session, write)
        jobs.record_progress(job, 1, {"entries": len(summary.entries()),
                                      "changed": int(changed)})
        return {"summary": "stored" if changed else "unchanged"}

    return work
