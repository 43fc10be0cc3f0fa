"""One-time form tokens (the storage side of ``app.web.forms``): the first submission of a
token claims it inside the request's transaction, so a repeat — even one sent at the same
moment — finds the claim and the first result instead of acting again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import FormSubmission

#: How long a used token is remembered (longer than a page session, after which the form's
#: CSRF token no longer matches anyway).
KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class Earlier:
    """A token used before: where its first submission went ("" = a page or a file)."""

    result: str


def claim(session: Session, token_key: str, *,
          clock: Callable[[], datetime] = utc_now) -> Earlier | None:
    """Claim a token for this transaction: ``None`` when it is new (the caller acts; its
    rollback frees the token again), else the earlier submission's answer. A concurrent
    first submission makes this wait for its commit (the primary key) and then see it."""
    now = clock()
    found = session.get(FormSubmission, token_key)
    if found is not None:
        return Earlier(found.result)
    try:
        with session.begin_nested():
            session.add(FormSubmission(token_key=token_key, result="", created_at=now))
    except IntegrityError:
        found = session.scalar(select(FormSubmission)
                               .where(FormSubmission.token_key == token_key)
                               .execution_options(populate_existing=True))
        return Earlier(found.result if found is not None else "")
    session.execute(delete(FormSubmission).where(FormSubmission.created_at < now - KEEP))
    return None


def settle(session: Session, token_key: str, result: str) -> None:
    """Record where the claimed token's submission went (a path on this site)."""
    found = session.get(FormSubmission, token_key)
    if found is not None:
        found.result = result[:500]
