"""Staff accounts: creation, password hashing (argon2id), authentication and scoped lookup."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Province, Role, User
from app.services import audit
from app.services.clock import now as utc_now
from app.services.errors import (
    Conflict,
    InvalidCredentials,
    LoginLocked,
    NotFound,
    ValidationFailed,
)
from app.services.scope import Scope

log = logging.getLogger("unioncard.accounts")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash to verify against when the username is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("unioncard-no-such-user")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    province_code: str | None = None,
    union_code: str | None = None,
    full_name: str = "",
) -> User:
    """Create a staff account.

    Raises:
        ValidationFailed: a bad username, weak password or scope that does not fit the role.
        Conflict: the username is taken.
    """
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationFailed.field(
            "username", "3-64 characters: lowercase letters, digits, '.', '_' or '-'.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.field(
            "password", f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if role is Role.OFFICER and not province_code:
        raise ValidationFailed.field("province", "An officer must be scoped to a province.")
    if role is Role.ADMIN and (province_code or union_code):
        raise ValidationFailed.field("province", "An administrator has national scope.")
    if union_code and not province_code:
        raise ValidationFailed.field("union", "A union scope needs a province too.")
    if province_code and session.get(Province, province_code) is None:
        raise ValidationFailed.field("province", f"Unknown province code {province_code!r}.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        province_code=province_code,
        union_code=union_code,
        full_name=full_name,
        is_active=True,
        token_version=0,
    )
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class LoginPolicy:
    """How many wrong passwords in a row lock an account's password login, and for how long."""

    max_failures: int = 10
    lock_seconds: int = 900


def authenticate(session: Session, username: str, password: str, *,
                 policy: LoginPolicy = LoginPolicy(), now: datetime | None = None) -> User:
    """Return the active user with these credentials; count wrong passwords per account and
    lock its password login after ``policy.max_failures`` of them in a row.

    ``session`` is the login's own: it commits a failure's count (which must outlast the 401
    answer) and a success's reset, and holds no transaction while the password is hashed.

    Raises:
        LoginLocked: the account's password login is locked (nothing is hashed).
        InvalidCredentials: unknown user, wrong password or disabled account (one message).
    """
    now = now or utc_now()
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is not None:
        session.expunge(user)  # keep the values read when the read transaction ends
    session.rollback()  # no transaction (nor SQLite write lock) during the slow hash
    if user is not None and user.login_locked_until is not None and user.login_locked_until > now:
        wait = ceil((user.login_locked_until - now).total_seconds())
        raise LoginLocked("Too many wrong passwords: password login to this account is locked "
                          "for a while.", retry_after=max(1, wait))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        if user is not None:
            record_login_failure(session, user.id, policy=policy, now=now)
        raise InvalidCredentials("The username or password is wrong.") from None
    if user is None or not user.is_active:
        raise InvalidCredentials("The username or password is wrong.")
    return _record_login_success(session, user.id, password)


def record_login_failure(session: Session, user_id: int, *, policy: LoginPolicy,
                         now: datetime) -> bool:
    """Count a wrong password for an account, locking its password login when the count
    reaches the policy's maximum (logged and audited); commits. Whether it locked it now."""
    # the first statement writes: SQLite takes its write lock, PostgreSQL the row lock, so
    # concurrent failures (from any worker) are counted one after another
    session.execute(update(User).where(User.id == user_id)
                    .values(failed_logins=User.failed_logins + 1))
    user = session.get(User, user_id, populate_existing=True)
    locked = user is not None and user.failed_logins >= policy.max_failures
    if user is not None and locked:
        user.failed_logins = 0
        user.login_locked_until = now + timedelta(seconds=policy.lock_seconds)
        log.warning("password login locked", extra={
            "user_id": user.id, "username": user.username, "failures": policy.max_failures,
            "locked_until": user.login_locked_until.isoformat()})
        audit.record(session, actor="system", action="user.login_locked", object_type="user",
                     object_id=user.id, province_code=user.province_code,
                     reason=f"{policy.max_failures} wrong passwords in a row",
                     details={"locked_until": user.login_locked_until.isoformat()})
    session.commit()
    return locked


def _record_login_success(session: Session, user_id: int, password: str) -> User:
    """Reset the account's failure count, rehash an outdated hash; commits. The user."""
    user = session.get(User, user_id, populate_existing=True)
    if user is None:  # deleted while the password was checked
        raise InvalidCredentials("The username or password is wrong.")
    if user.failed_logins or user.login_locked_until is not None:
        user.failed_logins = 0
        user.login_locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.commit()
    return user


def list_users(session: Session, scope: Scope) -> list[User]:
    """The staff accounts a caller may see, by username: every account nationally, otherwise
    the officers within the caller's scope."""
    stmt = select(User).order_by(User.username)
    if not scope.is_national:
        stmt = scope.filter(stmt.where(User.role == Role.OFFICER), User.province_code,
                            User.union_code)
    return list(session.scalars(stmt).all())


def get_user(session: Session, scope: Scope, user_id: int) -> User:
    """One staff account the caller may see.

    Raises:
        NotFound: no such account, or one outside the caller's scope (administrators are
            outside every scope but the national one).
    """
    user = session.get(User, user_id)
    if user is None or (not scope.is_national and user.role is Role.ADMIN):
        raise NotFound("No such user.")
    scope.ensure(user.province_code, user.union_code, "user")
    return user
