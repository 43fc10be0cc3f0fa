"""Verification of the access log: every chain link by link, the chain heads, and every
checkpoint, naming the first changed or missing event of each broken chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.models.access_event import (
    AccessChainHead,
    AccessCheckpoint,
    AccessCheckpointHead,
    AccessEvent,
)
from app.services.access_events.chain import (
    GENESIS,
    HASHED_FIELDS,
    checkpoint_digest,
    event_hash,
    fields_of,
)

#: Rows fetched per round trip while streaming.
BATCH = 2000


@dataclass(frozen=True, order=True)
class Finding:
    """A problem with one event (``chain_key``, ``seq``) or with one checkpoint (``chain_key``
    empty, ``seq`` the checkpoint's id): ``problem`` is changed, missing or unexpected."""

    chain_key: str
    seq: int
    problem: str
    detail: str = field(compare=False)

    def describe(self) -> str:
        """One line for people."""
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
    expected, prev_hash, count = 1, GENESIS, 0
    previous: Any = None
    for row in rows:
        count += 1
        if row.seq > expected:
            return count, row.seq, row.hash, Finding(
                key, expected, "missing", f"the chain goes from {expected - 1} to {row.seq}")
        if event_hash(fields_of(row)) != row.hash:
            return count, row.seq, row.hash, Finding(
                key, row.seq, "changed", "its content does not match its hash")
        if row.prev_hash != prev_hash:
            # the hash of the event before was recomputed after a change (or this row was
            # moved here from elsewhere): the earlier event is the first one in doubt
            at = previous.seq if previous is not None else row.seq
            return count, row.seq, row.hash, Finding(
                key, at, "changed", f"event {row.seq} does not link to it")
        previous, expected, prev_hash = row, row.seq + 1, row.hash
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


def _checkpoint_chain(session: Session, report: Report) -> list[Finding]:
    """Each checkpoint follows the one before and its digest covers what it records (the
    recorded heads streamed beside the checkpoints, both in checkpoint order)."""
    heads = session.execute(
        select(AccessCheckpointHead.checkpoint_id, AccessCheckpointHead.chain_key,
               AccessCheckpointHead.seq, AccessCheckpointHead.hash)
        .order_by(AccessCheckpointHead.checkpoint_id, AccessCheckpointHead.chain_key)
        .execution_options(yield_per=BATCH))
    groups = groupby(heads, key=lambda r: int(r[0]))
    pending = next(groups, None)
    checkpoints = session.execute(
        select(AccessCheckpoint.id, AccessCheckpoint.prev_digest, AccessCheckpoint.digest,
               AccessCheckpoint.heads).order_by(AccessCheckpoint.id)).all()
    prev = GENESIS
    for checkpoint_id, prev_digest, digest, count in checkpoints:
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
        prev = digest
    return []


def verify(session: Session) -> Report:
    """Check every chain, the chain heads and every checkpoint; the report holds the first
    finding of each broken chain (sorted by chain and sequence) and of the checkpoints."""
    report = Report()
    heads = _heads(session)
    first: dict[str, Finding] = {}
    seen: set[str] = set()
    columns = [getattr(AccessEvent, name) for name in HASHED_FIELDS] + [AccessEvent.hash]
    stream = session.execute(select(*columns)
                             .order_by(AccessEvent.chain_key, AccessEvent.seq)
                             .execution_options(yield_per=BATCH))
    for key, rows in groupby(stream, key=lambda e: e.chain_key):
        seen.add(key)
        report.chains += 1
        chain = iter(rows)
        count, last_seq, last_hash, finding = _walk_chain(key, chain)
        report.events += count + sum(1 for _ in chain)  # the rest of a broken chain
        finding = finding or _check_head(key, last_seq, last_hash, heads.get(key))
        if finding is not None:
            first[key] = finding
    for key, (seq, _) in heads.items():
        if key not in seen and seq > 0:
            first[key] = Finding(key, 1, "missing", f"the chain head is at {seq}, no event left")
    for finding in _checkpoint_heads(session, report):
        if finding.chain_key not in first or finding < first[finding.chain_key]:
            first[finding.chain_key] = finding
    report.findings = sorted(first.values()) + _checkpoint_chain(session, report)
    return report
