"""Verification of the access log: every chain link by link (each event's content and sealed
emergency text included), the chain heads, every checkpoint with its signature, and optionally
a checkpoint digest kept outside the database, naming the first changed or missing event of
each broken chain."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models.access_event import (
    AccessChainHead,
    AccessCheckpoint,
    AccessCheckpointHead,
    AccessEvent,
    AccessEventText,
)
from app.services.access_events.chain import (
    GENESIS,
    STORED_FIELDS,
    checkpoint_digest,
    checkpoint_signature,
)
from app.services.access_events.integrity import DESCRIPTIONS, content_problem, text_problem

#: Rows fetched per round trip while streaming.
BATCH = 2000


@dataclass(frozen=True, order=True)
class Finding:
    """A problem with one event (``chain_key``, ``seq``) or with one checkpoint (``chain_key``
    empty, ``seq`` the checkpoint's id; 0 for the expected digest): ``problem`` is changed,
    missing, unexpected or unsigned."""

    chain_key: str
    seq: int
    problem: str
    detail: str = field(compare=False)

    def describe(self) -> str:
        """One line for people."""
        if not self.chain_key and not self.seq:
            return f"expected checkpoint digest: {self.problem}: {self.detail}"
        if not self.chain_key:
            return f"checkpoint {self.seq}: {self.problem}: {self.detail}"
        owner, _, ident = self.chain_key.partition(":")
        return f"{owner} {ident}, sequence {self.seq}: {self.problem}: {self.detail}"


@dataclass
class Report:
    """What ``verify`` looked at and the first finding of each broken chain (and checkpoint)."""

    chains: int = 0
    events: int = 0
    checkpoints: int = 0
    checkpoint_heads: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.findings


def _walk_chain(key: str, rows: Iterator[Any]) -> tuple[int, int, str, Finding | None]:
    """Walk one chain in ``seq`` order: (events, last seq, last hash, first finding)."""
    expected, prev_hash, count, version = 1, GENESIS, 0, 0
    previous: Any = None
    for row in rows:
        count += 1
        if row.seq > expected:
            return count, row.seq, row.hash, Finding(
                key, expected, "missing", f"the chain goes from {expected - 1} to {row.seq}")
        if content_problem(row) is not None:
            return count, row.seq, row.hash, Finding(
                key, row.seq, "changed", "its content does not match its hash")
        if row.hash_version < version:
            # events are never hashed under an older version than the one before them
            return count, row.seq, row.hash, Finding(
                key, row.seq, "changed",
                f"hashed under version {row.hash_version} after version {version}")
        if row.prev_hash != prev_hash:
            # the hash of the event before was recomputed after a change (or this row was
            # moved here from elsewhere): the earlier event is the first one in doubt
            at = previous.seq if previous is not None else row.seq
            return count, row.seq, row.hash, Finding(
                key, at, "changed", f"event {row.seq} does not link to it")
        previous, expected, prev_hash = row, row.seq + 1, row.hash
        version = row.hash_version
    return count, expected - 1, prev_hash, None


def _heads(session: Session) -> dict[str, tuple[int, str]]:
    rows = session.execute(select(AccessChainHead.chain_key, AccessChainHead.seq,
                                  AccessChainHead.hash))
    return {str(k): (int(s), str(h)) for k, s, h in rows}


def _check_head(key: str, last_seq: int, last_hash: str,
                head: tuple[int, str] | None) -> Finding | None:
    """The chain's newest event must be the one its head row names."""
    if head is None:
        return Finding(key, last_seq, "unexpected", "the chain has no head row")
    seq, digest = head
    if seq > last_seq:
        return Finding(key, last_seq + 1, "missing",
                       f"the chain head is at {seq}, the newest event at {last_seq}")
    if seq < last_seq:
        return Finding(key, seq + 1, "unexpected",
                       f"events after the chain head ({seq}) up to {last_seq}")
    if digest != last_hash:
        return Finding(key, seq, "changed", "its hash differs from the chain head's")
    return None


def _checkpoint_heads(session: Session, report: Report) -> list[Finding]:
    """Each head a checkpoint recorded must still be there, with the hash recorded."""
    findings = []
    stream = session.execute(
        select(AccessCheckpointHead.chain_key, AccessCheckpointHead.seq,
               AccessCheckpointHead.hash, AccessCheckpointHead.checkpoint_id, AccessEvent.hash)
        .outerjoin(AccessEvent, and_(AccessEvent.chain_key == AccessCheckpointHead.chain_key,
                                     AccessEvent.seq == AccessCheckpointHead.seq))
        .execution_options(yield_per=BATCH))
    for key, seq, recorded, checkpoint_id, actual in stream:
        report.checkpoint_heads += 1
        if actual is None:
            findings.append(Finding(key, seq, "missing",
                                    f"checkpoint {checkpoint_id} recorded it"))
        elif actual != recorded:
            findings.append(Finding(key, seq, "changed",
                                    f"its hash differs from checkpoint {checkpoint_id}'s"))
    return findings


def _texts(session: Session, cipher: DataCipher) -> list[Finding]:
    """Each event with an emergency-text digest has its sealed text, and it is that text; no
    other event has one."""
    rows = session.execute(
        select(AccessEvent.chain_key, AccessEvent.seq, AccessEvent.id,
               AccessEvent.emergency_text_digest, AccessEvent.province_code,
               AccessEventText.province_code, AccessEventText.text_encrypted)
        .outerjoin(AccessEventText, AccessEventText.event_id == AccessEvent.id)
        .where(or_(AccessEvent.emergency_text_digest.is_not(None),
                   AccessEventText.event_id.is_not(None)))
        .execution_options(yield_per=BATCH))
    findings = []
    for key, seq, event_id, digest, province, text_province, sealed in rows:
        problem, _ = text_problem(cipher, event_id=event_id, digest=digest,
                                  province_code=province, text_province=text_province,
                                  sealed=sealed)
        if problem is not None:
            findings.append(Finding(key, seq, "changed", DESCRIPTIONS[problem]))
    return findings


def _checkpoint_chain(session: Session, report: Report, key: bytes,
                      expect: str | None) -> list[Finding]:
    """Each checkpoint follows the one before, its digest covers what it records and its
    signature is the service's (the recorded heads streamed beside the checkpoints, both in
    checkpoint order); the newest is signed; ``expect`` is the digest of one of them.

    Checkpoints made before they were signed are accepted unsigned when a signed one follows:
    its digest chains over theirs."""
    heads = session.execute(
        select(AccessCheckpointHead.checkpoint_id, AccessCheckpointHead.chain_key,
               AccessCheckpointHead.seq, AccessCheckpointHead.hash)
        .order_by(AccessCheckpointHead.checkpoint_id, AccessCheckpointHead.chain_key)
        .execution_options(yield_per=BATCH))
    groups = groupby(heads, key=lambda r: int(r[0]))
    pending = next(groups, None)
    checkpoints = session.execute(
        select(AccessCheckpoint.id, AccessCheckpoint.prev_digest, AccessCheckpoint.digest,
               AccessCheckpoint.heads, AccessCheckpoint.at, AccessCheckpoint.made_by,
               AccessCheckpoint.signature).order_by(AccessCheckpoint.id)).all()
    found: list[Finding] = []
    if expect is not None and expect not in {row[2] for row in checkpoints}:
        found.append(Finding("", 0, "missing",
                             f"no checkpoint has the digest {expect} (the checkpoints were "
                             "rewritten or removed since it was recorded)"))
    return found + _walk_checkpoints(groups, pending, checkpoints, report, key)


def _signed(key: bytes, signature: str, **stored: Any) -> bool:
    """Whether ``signature`` is the checkpoint key's over what the checkpoint stores."""
    try:
        return hmac.compare_digest(str(signature), checkpoint_signature(key, **stored))
    except (ValueError, TypeError, AttributeError):  # a time that is no time: rewritten
        return False


def _walk_checkpoints(groups: Any, pending: Any, checkpoints: Sequence[Any], report: Report,
                      key: bytes) -> list[Finding]:
    """The checkpoints in order, each with its recorded heads (see ``_checkpoint_chain``)."""
    prev, signed = GENESIS, False
    for checkpoint_id, prev_digest, digest, count, at, made_by, signature in checkpoints:
        report.checkpoints += 1
        while pending is not None and pending[0] < checkpoint_id:
            pending = next(groups, None)  # heads of a checkpoint that is gone: digests break
        entries: list[tuple[str, int, str]] = []
        if pending is not None and pending[0] == checkpoint_id:
            entries = [(str(k), int(q), str(h)) for _, k, q, h in pending[1]]
            pending = next(groups, None)
        if prev_digest != prev:
            return [Finding("", checkpoint_id, "changed",
                            "it does not follow the checkpoint before it")]
        if count != len(entries) or checkpoint_digest(prev, entries) != digest:
            return [Finding("", checkpoint_id, "changed",
                            "its digest does not cover the heads it records")]
        if signature is None and signed:
            return [Finding("", checkpoint_id, "changed",
                            "it is not signed, and a checkpoint before it is")]
        if signature is not None and not _signed(key, signature, at=at, prev_digest=prev_digest,
                                                 digest=digest, heads=count, made_by=made_by):
            return [Finding("", checkpoint_id, "changed",
                            "its signature does not match (rewritten without the checkpoint "
                            "key, or signed with another key)")]
        prev, signed = digest, signed or signature is not None
    if checkpoints and checkpoints[-1][-1] is None:
        return [Finding("", checkpoints[-1][0], "unsigned",
                        "the newest checkpoint is not signed; make one (unioncard audit "
                        "checkpoint) to seal the checkpoints made before signing")]
    return []


def verify(session: Session, *, cipher: DataCipher, key: bytes,
           expect: str | None = None) -> Report:
    """Check every chain (each event's sealed emergency text with ``cipher``), the chain heads
    and every checkpoint (signatures with the checkpoint ``key``), and that a checkpoint has
    the digest ``expect`` (lower-case hex) when given; the report holds that finding first,
    then the first finding of each broken chain (sorted by chain and sequence) and of the
    checkpoints."""
    report = Report()
    heads = _heads(session)
    first: dict[str, Finding] = {}
    seen: set[str] = set()
    columns = [getattr(AccessEvent, name) for name in STORED_FIELDS] + [AccessEvent.hash]
    stream = session.execute(select(*columns)
                             .order_by(AccessEvent.chain_key, AccessEvent.seq)
                             .execution_options(yield_per=BATCH))
    for chain_key, rows in groupby(stream, key=lambda e: e.chain_key):
        seen.add(chain_key)
        report.chains += 1
        chain = iter(rows)
        count, last_seq, last_hash, finding = _walk_chain(chain_key, chain)
        report.events += count + sum(1 for _ in chain)  # the rest of a broken chain
        finding = finding or _check_head(chain_key, last_seq, last_hash, heads.get(chain_key))
        if finding is not None:
            first[chain_key] = finding
    for chain_key, (seq, _) in heads.items():
        if chain_key not in seen and seq > 0:
            first[chain_key] = Finding(chain_key, 1, "missing",
                                       f"the chain head is at {seq}, no event left")
    for finding in _checkpoint_heads(session, report) + _texts(session, cipher):
        if finding.chain_key not in first or finding < first[finding.chain_key]:
            first[finding.chain_key] = finding
    checkpoints = _checkpoint_chain(session, report, key, expect)
    expected = [f for f in checkpoints if not f.seq]
    report.findings = expected + sorted(first.values()) + [f for f in checkpoints if f.seq]
    return report
