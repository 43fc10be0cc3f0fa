"""The feed push: a health-record feed sends a member's IPS-shaped FHIR Bundle (or a batch of
them); each is validated and mapped before any write, then all are stored in one short write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.db import WRITE_INTENT
from app.models import HealthFeed
from app.services import audit
from app.services.errors import DomainError, FhirInvalid, NotFound
from app.services.health import systems as sy
from app.services.health.feeds import serves
from app.services.health.fhir_in import MAX_ENTRIES, read_bundle
from app.services.health.store import HEALTH_ID, HealthStore, LinkedMember, ToSave
from app.services.jobs import retry_busy

#: What the push answers for a member it cannot store for: unknown, unlinked or not served.
NOT_SERVED = "No member with this health ID is served by this feed."
#: The batch Bundle's entry ``request.url`` (informative: every item is a push).
BATCH_URL = "health-records"
STORED, UNCHANGED, REJECTED = "stored", "unchanged", "rejected"


@dataclass(frozen=True)
class Prepared:
    """A validated and mapped Bundle, ready to be stored (no database write yet)."""

    member_id: int
    province_code: str
    document: dict[str, Any]
    bundle_id: str
    entries: int
    #: what the intake left out (resource types and counts, entry indexes): never content
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one pushed Bundle: ``stored``, ``unchanged`` or ``rejected`` (with the
    domain error that rejected it). Never any of the record's content."""

    index: int
    status: str
    bundle_id: str | None = None
    entries: int = 0
    error: DomainError | None = None
    notes: tuple[str, ...] = ()


def health_id_of(bundle: Mapping[str, Any], at: str = "Bundle") -> str:
    """The health ID (mã số BHXH) of the Bundle's Patient, by which the member is found.

    Raises:
        FhirInvalid: no Patient, or none or several health IDs on it.
    """
    ids = set()
    entries = bundle.get("entry")
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "Patient":
            continue
        identifiers = resource.get("identifier")
        for identifier in identifiers if isinstance(identifiers, list) else ():
            if isinstance(identifier, Mapping) and identifier.get("system") == sy.HEALTH_ID:
                ids.add((i, str(identifier.get("value"))))
    values = {v for _, v in ids}
    if len(values) != 1 or not HEALTH_ID.fullmatch(next(iter(values))):
        where = f"{at}.entry[{min(i for i, _ in ids)}].resource.identifier" if ids else \
            f"{at}.entry"
        detail = (f"The Bundle's Patient must carry exactly one 10-digit identifier "
                  f"{sy.HEALTH_ID}; found {len(values)}.")
        raise FhirInvalid("The FHIR Bundle is invalid (1 problem).", errors=[{
            "location": "fhir", "field": where, "pointer": "#/entry", "detail": detail}])
    return values.pop()


def bundle_id_of(bundle: Mapping[str, Any]) -> str:
    """The Bundle's own id: its identifier, else its id, else a hash of its content."""
    identifier = bundle.get("identifier")
    if isinstance(identifier, Mapping) and identifier.get("value"):
        return str(identifier["value"])[:200]
    if bundle.get("id"):
        return str(bundle["id"])[:200]
    text = json.dumps(bundle, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(text).hexdigest()[:32]


def load_json(raw: bytes) -> Any:
    """The body as JSON.

    Raises:
        FhirInvalid: not UTF-8 JSON.
    """
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise FhirInvalid("The body is not JSON.", errors=[{
            "location": "fhir", "field": "Bundle", "pointer": "#/",
            "detail": f"Not JSON: {e}."}]) from None


def batch_items(batch: Any, max_items: int) -> list[Any]:
    """The Bundles of a FHIR ``batch`` Bundle (each entry's ``resource``).

    Raises:
        FhirInvalid: not a batch Bundle, or more than ``max_items`` entries.
    """
    def refuse(field: str, pointer: str, detail: str) -> FhirInvalid:
        return FhirInvalid("The batch Bundle is invalid (1 problem).", errors=[{
            "location": "fhir", "field": field, "pointer": pointer, "detail": detail}])

    if not isinstance(batch, Mapping) or batch.get("resourceType") != "Bundle" \
            or batch.get("type") != "batch":
        raise refuse("Bundle.type", "#/type", "Expected a FHIR Bundle of type batch whose "
                                             "entries are the members' Bundles.")
    entries = batch.get("entry") or []
    if not isinstance(entries, list):
        raise refuse("Bundle.entry", "#/entry", "entry must be an array.")
    if len(entries) > max_items:
        raise refuse("Bundle.entry", "#/entry",
                     f"{len(entries)} entries; at most {max_items} are accepted.")
    return [e.get("resource") if isinstance(e, Mapping) else None for e in entries]


def _health_ids(bundles: Sequence[Any]) -> set[str]:
    """The health IDs of the Bundles that carry one (the others are refused by ``prepare``)."""
    found = set()
    for bundle in bundles:
        try:
            if isinstance(bundle, Mapping) and bundle.get("resourceType") == "Bundle":
                found.add(health_id_of(bundle))
        except FhirInvalid:
            continue
    return found


class FeedPush:
    """Pushes for one feed client, with a session, a cipher and a clock."""

    def __init__(self, session: Session, cipher: DataCipher, feed: HealthFeed, *,
                 clock: Callable[[], datetime] = utc_now,
                 max_entries: int = MAX_ENTRIES,
                 on_summary_changed: Callable[[int], object] | None = None) -> None:
        self.session = session
        #: Runs after a member's summary changed, in the same write (the on-card refresh).
        self.on_summary_changed = on_summary_changed
        self.feed = feed
        self.clock = clock
        self.max_entries = max_entries
        self.actor = f"feed:{feed.id}"
        self.store = HealthStore(session, cipher, actor=self.actor, clock=clock)

    def prepare(self, bundle: Any, at: str = "Bundle",
                known: Mapping[str, LinkedMember] | None = None) -> Prepared:
        """Find the member of a Bundle, check the feed serves them, validate and map it
        (reads only); ``known``: the members of a batch's health IDs, looked up at once.

        Raises:
            FhirInvalid: not a valid Bundle for one member. NotFound: no member with its
                health ID is linked in a province the feed serves (nothing more is said).
        """
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            kind = bundle.get("resourceType") if isinstance(bundle, Mapping) else None
            raise FhirInvalid("The FHIR Bundle is invalid (1 problem).", errors=[{
                "location": "fhir", "field": f"{at}.resourceType", "pointer": "#/resourceType",
                "detail": f"Expected a FHIR Bundle, got {kind!r}."}])
        health_id = health_id_of(bundle, at)
        member = (known.get(health_id) if known is not None
                  else self.store.linked_member(health_id))
        if member is None or not serves(self.feed, member.province_code):
            raise NotFound(NOT_SERVED)
        intake = read_bundle(bundle, health_id=health_id, feed=self.feed.client_id,
                             received_at=self.clock(), max_entries=self.max_entries)
        summary = intake.summary
        return Prepared(member.member_id, member.province_code, summary.to_document(),
                        bundle_id_of(bundle), len(summary.entries()), intake.notes)

    def store_all(self, prepared: Sequence[tuple[int, Prepared]]) -> list[Outcome]:
        """Store prepared Bundles in one short write transaction (committed; retried while
        the database is busy), each audited with its member and feed."""
        self.session.commit()  # end the reads: the write transaction starts now, and is short

        def write() -> list[Outcome]:
            self.session.connection(execution_options={WRITE_INTENT: True})
            out = []
            saves = self.store.save_many([ToSave(p.member_id, p.province_code, p.document,
                                                 p.bundle_id) for _, p in prepared],
                                         source=self.actor)
            for (index, p), saved in zip(prepared, saves, strict=True):
                if saved.changed and self.on_summary_changed is not None:
                    self.session.flush()  # the refresh reads the summary just written
                    self.on_summary_changed(p.member_id)
                audit.record(self.session, actor=self.actor, action="health-record.push",
                             object_type="member", object_id=p.member_id,
                             province_code=p.province_code,
                             details={"bundle": p.bundle_id, "changed": saved.changed})
                out.append(Outcome(index, STORED if saved.changed else UNCHANGED,
                                   p.bundle_id, p.entries, notes=p.notes))
            self.session.commit()
            return out

        return retry_busy(self.session, write) if prepared else []

    def push(self, bundle: Any) -> Outcome:
        """Validate, map and store one Bundle.

        Raises:
            FhirInvalid, NotFound: as ``prepare``; nothing is written.
        """
        return self.store_all([(0, self.prepare(bundle))])[0]

    def push_batch(self, bundles: Sequence[Any]) -> list[Outcome]:
        """Validate and map every Bundle, then store the valid ones in one write; an invalid
        or unserved Bundle is rejected on its own (its outcome holds the error)."""
        ready: list[tuple[int, Prepared]] = []
        rejected: list[Outcome] = []
        known = self.store.linked_members(_health_ids(bundles))
        for index, bundle in enumerate(bundles):
            try:
                ready.append((index, self.prepare(bundle, f"Bundle.entry[{index}].resource",
                                                  known)))
            except (FhirInvalid, NotFound) as error:
                rejected.append(Outcome(index, REJECTED, error=error))
        return sorted([*self.store_all(ready), *rejected], key=lambda o: o.index)
