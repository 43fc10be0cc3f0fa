"""Staff accounts: creation, the password policy, password hashing (argon2id),
authentication, scoped lookup, and disabling an account with all its tokens."""

from __future__ import annotations

import functools
import gzip
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from itertools import pairwise

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import metrics
from app.clock import now as utc_now
from app.models import Province, Role, Union, User
from app.services import audit
from app.services.access import login_names
from app.services.access.scope import Scope
from app.services.errors import (
    Conflict,
    InvalidCredentials,
    LoginLocked,
    NotFound,
    ValidationFailed,
)

log = logging.getLogger("unioncard.accounts")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash to verify against when the username is unknown, so timing does not reveal accounts.
_DUMMY_HASH: str | None = None  # made on first use: hashing at import slowed every process start


def _dummy_hash() -> str:
    """The hash verified against when no account matches (made once, on first use)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("unioncard-no-such-user")
    return _DUMMY_HASH
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
#: NIST SP 800-63B: at least 12 characters (code points), long passphrases welcome.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


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
    check_password(password, username)
    if role is Role.OFFICER and not province_code:
        raise ValidationFailed.field("province", "An officer must be scoped to a province.")
    if role is Role.ADMIN and (province_code or union_code):
        raise ValidationFailed.field("province", "An administrator has national scope.")
    if union_code and not province_code:
        raise ValidationFailed.field("union", "A union scope needs a province too.")
    if province_code and session.get(Province, province_code) is None:
        raise ValidationFailed.field("province", f"Unknown province code {province_code!r}.")
    if union_code:
        _check_union(session, union_code, province_code)
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
    """How many wrong passwords in a row lock password login with a username, and for how
    long; ``name_key`` gives a login name's keyed hash (``login_names.keyer``)."""

    max_failures: int = 10
    lock_seconds: int = 900
    name_key: login_names.NameKeyer = login_names.process_keyer


def authenticate(session: Session, username: str, password: str, *,
                 policy: LoginPolicy = LoginPolicy(), now: datetime | None = None) -> User:
    """Return the active user with these credentials; count wrong passwords per username
    (known or not: ``login_names``) and lock password login with it after
    ``policy.max_failures`` of them in a row.

    ``session`` is the login's own: it commits a failure's count (which must outlast the 401
    answer) and a success's reset, and holds no transaction while the password is hashed.

    Raises:
        LoginLocked: password login with this username is locked (nothing is hashed); the
            same for an unknown username.
        InvalidCredentials: unknown user, wrong password or disabled account (one message).
    """
    now = now or utc_now()
    name = username.strip().lower()
    key = login_names.name_key(policy.name_key, "username", name)
    user = session.scalar(select(User).where(User.username == name))
    if user is not None:
        session.expunge(user)  # keep the values read when the read transaction ends
    try:
        login_names.refuse_if_locked(session, key, now)
    except LoginLocked:
        metrics.LOGIN_FAILURES.labels(account="user", reason="locked").inc()
        raise
    finally:
        session.rollback()  # no transaction (nor SQLite write lock) during the slow hash
    try:
        _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        metrics.LOGIN_FAILURES.labels(account="user", reason="wrong_password").inc()
        record_login_failure(session, key, user, policy=policy, now=now)
        raise InvalidCredentials("The username or password is wrong.") from None
    if user is None or not user.is_active:
        raise InvalidCredentials("The username or password is wrong.")
    return _record_login_success(session, key, user.id, password)


def record_login_failure(session: Session, key: str, user: User | None, *,
                         policy: LoginPolicy, now: datetime) -> bool:
    """Count a wrong password given with a username (``key``: its keyed hash), locking
    password login with it when the count reaches the policy's maximum (logged; audited when
    ``user``, the account of that name, exists); commits. Whether it locked it now."""
    until = login_names.record_failure(session, key, max_failures=policy.max_failures,
                                       lock_seconds=policy.lock_seconds, now=now)
    if until is not None:
        log.warning("password login locked", extra={
            "user_id": user.id if user is not None else None,
            "username": user.username if user is not None else None,
            "failures": policy.max_failures, "locked_until": until.isoformat()})
        if user is not None:
            audit.record(session, actor="system", action="user.login_locked",
                         object_type="user", object_id=user.id,
                         province_code=user.province_code,
                         reason=f"{policy.max_failures} wrong passwords in a row",
                         details={"locked_until": until.isoformat()})
    session.commit()
    return until is not None


def _record_login_success(session: Session, key: str, user_id: int, password: str) -> User:
    """End the username's failure count, rehash an outdated hash; commits. The user."""
    user = session.get(User, user_id, populate_existing=True)
    if user is None:  # deleted while the password was checked
        raise InvalidCredentials("The username or password is wrong.")
    login_names.record_success(session, key)
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


def check_password(password: str, username: str) -> None:
    """Apply the password policy (NIST SP 800-63B): 12 to 1024 characters counted as code
    points, no composition rules; not blank, not a repeated or sequential run, not a common
    or breached password, neither equal to nor containing the username.

    Raises:
        ValidationFailed: the password breaks the policy (the reason, never the password).
    """
    def refuse(detail: str) -> ValidationFailed:
        return ValidationFailed.field("password", detail)

    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refuse(f"The password may have at most {MAX_PASSWORD_LENGTH} characters.")
    if not password.strip():
        raise refuse("The password must not be only spaces.")
    # compared as NFKC (NIST 800-63B): full-width ＰＡＳＳＷＯＲＤ１２３４ is password1234
    folded = unicodedata.normalize("NFKC", password).casefold()
    name = unicodedata.normalize("NFKC", username).strip().casefold()
    if name and name in folded:
        raise refuse("The password must not contain the username.")
    if _repeats_a_unit(folded) or _is_a_sequence(folded):
        raise refuse("The password must not be a repeated or sequential run of characters.")
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise refuse("This password is on a list of common or breached passwords.")


def _repeats_a_unit(text: str) -> bool:
    """Whether ``text`` is one shorter unit repeated (``aaaa…``, ``abcabc…``,
    ``passwordpassword``)."""
    return any(text == text[:period] * (len(text) // period) and len(text) % period == 0
               for period in range(1, len(text) // 2 + 1))


def _is_a_sequence(text: str) -> bool:
    """Whether ``text`` walks the characters in at most two distinct steps (``abcdef…``,
    ``123456789012``, ``987654…``)."""
    return len({ord(b) - ord(a) for a, b in pairwise(text)}) <= 2


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of 20,000 common passwords, lowercased (read once, on first use)."""
    packed = resources.files("app").joinpath("data", "common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(packed).decode("utf-8").split())


def _check_union(session: Session, union_code: str, province_code: str | None) -> None:
    """An officer's union must exist and belong to the officer's province.

    Raises:
        ValidationFailed: an unknown union, or one of another province.
    """
    union = session.scalar(select(Union).where(Union.code == union_code))
    if union is None:
        raise ValidationFailed.field("union", f"Unknown union code {union_code!r}.")
    if union.province_code != province_code:
        raise ValidationFailed.field(
            "union", f"The union {union_code!r} is not in province {province_code!r}.")


def find_user(session: Session, username: str) -> User:
    """The account with this username.

    Raises:
        NotFound: no such account.
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username.strip().lower()!r}.")
    return user


def disable_user(session: Session, user: User, *, actor: str, reason: str = "") -> User:
    """Disable an account and revoke every token issued to it (its token version moves on);
    audited. Disabling a disabled account revokes again and is audited again.

    Raises:
        Conflict: the caller would disable their own account (and lock themselves out).
    """
    if actor == f"user:{user.id}":
        raise Conflict("You cannot disable your own account; ask another administrator.")
    user.is_active = False
    user.token_version += 1
    audit.record(session, actor=actor, action="user.disable", object_type="user",
                 object_id=user.id, province_code=user.province_code, reason=reason,
                 details={"username": user.username})
    session.flush()
    return user


def revoke_tokens(session: Session, user_id: int) -> None:
    """End every token issued to an account so far (its token version moves on): logout.

    Raises:
        NotFound: no such account.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    user.token_version += 1
    session.flush()


def enable_user(session: Session, user: User, *, actor: str, reason: str = "") -> User:
    """Let a disabled account log in again (its old tokens stay revoked); audited."""
    user.is_active = True
    audit.record(session, actor=actor, action="user.enable", object_type="user",
                 object_id=user.id, province_code=user.province_code, reason=reason,
                 details={"username": user.username})
    session.flush()
    return user
