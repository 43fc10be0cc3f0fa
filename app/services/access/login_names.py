"""Wrong passwords counted per login name, not per account.

A staff username, a member number or a member's phone, normalised, is counted under the keyed
hash of its kind and value (``login_name_failures``), whether or not an account has that name:
after the policy's number of wrong passwords in a row, password login with that name is locked
for a while (429 ``login-locked``), for an unknown name exactly as for a known one. So the
answers (status, body, ``Retry-After``) never tell whether a username, member number or phone
is registered, and no account is created for an unknown name. A successful login with the name
ends its count. The name itself is never stored: only its HMAC-SHA256 under the lookup key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models import LoginNameFailures
from app.services.errors import LoginLocked

#: The lookup hash's context of login names.
CONTEXT = "login-name"
#: A function giving a login name's keyed hash.
NameKeyer = Callable[[str], str]
_PROCESS_KEY = secrets.token_bytes(32)


def process_keyer(name: str) -> str:
    """A login name's keyed hash under a key of this process only (for policies built without
    the configured lookup key; counts then last as long as the process)."""
    return hmac.new(_PROCESS_KEY, f"{CONTEXT}\x00{name}".encode(), hashlib.sha256).hexdigest()


def keyer(cipher: DataCipher) -> NameKeyer:
    """Login names' keyed hashes under the configured lookup key (shared by every worker)."""
    return lambda name: cipher.lookup_hash(name, CONTEXT)


def name_key(key_of: NameKeyer, kind: str, name: str) -> str:
    """The stored key of a login name of a kind (``username``, ``member_number``, ``phone``);
    ``name`` is normalised by the caller."""
    return key_of(f"{kind}\x00{name}")


def refuse_if_locked(session: Session, key: str, now: datetime) -> None:
    """Refuse while the name's password login is locked (nothing is hashed then).

    Raises:
        LoginLocked: it is locked (``retry_after``: the lock's rest, in seconds).
    """
    row = session.get(LoginNameFailures, key)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise LoginLocked("Too many wrong passwords: password login with this name is locked "
                          "for a while.",
                          retry_after=max(1, ceil((row.locked_until - now).total_seconds())))


def record_failure(session: Session, key: str, *, max_failures: int, lock_seconds: int,
                   now: datetime) -> datetime | None:
    """Count a wrong password given with the name, locking its password login when the count
    reaches ``max_failures`` (the count starts again). The lock's end when this failure locked
    it, else None. Does not commit (the caller audits a lock first)."""
    # one statement that writes (SQLite's write lock, PostgreSQL's row lock), so concurrent
    # failures from any worker are counted one after another, the first one too
    session.execute(_upsert(session).values(
        name_key=key, failures=1, locked_until=None, last_failure_at=now).on_conflict_do_update(
        index_elements=["name_key"],
        set_={"failures": LoginNameFailures.failures + 1, "last_failure_at": now}))
    row = session.get(LoginNameFailures, key, populate_existing=True)
    assert row is not None  # updated or inserted above
    if row.failures < max_failures:
        return None
    row.failures = 0
    row.locked_until = now + timedelta(seconds=lock_seconds)
    session.flush()
    return row.locked_until


def _upsert(session: Session) -> Any:
    """The dialect's ``INSERT`` into ``login_name_failures`` (with ``ON CONFLICT``)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(LoginNameFailures)
    return sqlite.insert(LoginNameFailures)


def record_success(session: Session, key: str) -> None:
    """End the name's count (a right password); does not commit."""
    session.execute(delete(LoginNameFailures).where(LoginNameFailures.name_key == key))
