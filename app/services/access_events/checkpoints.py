"""Checkpoints: every so often, the heads of the chains that moved, sealed into a chain of
digests and signed with the service's checkpoint key, so that removing the newest events of a
chain (which no later link would betray) is caught by ``unioncard audit verify``, and a
checkpoint rewritten without the key is too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models.access_event import AccessChainHead, AccessCheckpoint, AccessCheckpointHead
from app.services.access_events.chain import GENESIS, checkpoint_digest, checkpoint_signature
from app.services.errors import CheckpointConflict

#: Chain heads read and recorded per round trip.
BATCH = 1000
_heads = cast(Table, AccessChainHead.__table__)
_MARK_CHECKPOINTED = (update(_heads)
                      .where(_heads.c.chain_key == bindparam("key"),
                             _heads.c.checkpointed_seq < bindparam("upto"))
                      .values(checkpointed_seq=bindparam("upto")))


@dataclass(frozen=True)
class CheckpointMade:
    """A new checkpoint: its id, time, digest and the number of chain heads it records."""

    id: int
    at: datetime
    digest: str
    heads: int


def latest_checkpoint(session: Session) -> AccessCheckpoint | None:
    """The newest checkpoint, if any."""
    return session.scalars(select(AccessCheckpoint).order_by(AccessCheckpoint.id.desc())
                           .limit(1)).first()


def make_checkpoint(session: Session, *, actor: str, key: bytes,
                    clock: Callable[[], datetime] = utc_now) -> CheckpointMade:
    """Record the head of every chain that moved since the last checkpoint and the digest over
    them and the previous digest, signed with ``key`` (flushed; the caller commits).

    Appends are not blocked: each head is read as committed, and a chain that moves on while
    the checkpoint is made is recorded as it was read (and again by the next checkpoint).

    Raises:
        CheckpointConflict: another checkpoint was made at the same moment (run again).
    """
    previous = latest_checkpoint(session)
    prev_digest = previous.digest if previous is not None else GENESIS
    moved = session.execute(
        select(AccessChainHead.chain_key, AccessChainHead.seq, AccessChainHead.hash)
        .where(AccessChainHead.seq > AccessChainHead.checkpointed_seq)
        .order_by(AccessChainHead.chain_key)).all()
    heads = [(str(k), int(s), str(h)) for k, s, h in moved]
    at, digest = clock(), checkpoint_digest(prev_digest, heads)
    checkpoint = AccessCheckpoint(at=at, prev_digest=prev_digest, digest=digest,
                                  heads=len(heads), made_by=actor,
                                  signature=checkpoint_signature(
                                      key, at=at, prev_digest=prev_digest, digest=digest,
                                      heads=len(heads), made_by=actor))
    try:
        with session.begin_nested():
            session.add(checkpoint)
            session.flush()
    except IntegrityError as exc:
        raise CheckpointConflict("Another checkpoint was made at the same moment; run again.") from exc
    for start in range(0, len(heads), BATCH):
        chunk = heads[start:start + BATCH]
        session.add_all([AccessCheckpointHead(checkpoint_id=checkpoint.id, chain_key=k, seq=s,
                                              hash=h) for k, s, h in chunk])
        session.flush()
        session.connection().execute(_MARK_CHECKPOINTED,
                                     [{"key": k, "upto": s} for k, s, _ in chunk])
    return CheckpointMade(checkpoint.id, checkpoint.at, checkpoint.digest, len(heads))
