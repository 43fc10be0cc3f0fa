"""Staff accounts: creation, password hashing (argon2id), authentication and scoped lookup."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Province, Role, User
from app.services.errors import Conflict, InvalidCredentials, NotFound, ValidationFailed
from app.services.scope import Scope

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


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials.

    Raises:
        InvalidCredentials: unknown user, wrong password or disabled account (one message).
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise InvalidCredentials("The username or password is wrong.") from None
    if user is None or not user.is_active:
        raise InvalidCredentials("The username or password is wrong.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
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
