"""Member accounts: activation with the card's one-time code, the PIN policy, password and
PIN checks with their own lockouts, logout, and what a member may read about themselves."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from math import ceil
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, case, literal, null, or_, select, update
from sqlalchemy.orm import Session

from app import metrics
from app.clock import now as utc_now
from app.crypto import DataCipher, Envelope
from app.models import (
    Card,
    CardStatus,
    HealthRecord,
    Member,
    MemberAccount,
    MemberStatus,
    Province,
    Union,
)
from app.services import audit
from app.services.access import login_names, pin_guard
from app.services.access.accounts import check_password, hash_password
from app.services.access.pin_guard import PinClientCap
from app.services.errors import (
    ActivationCodeExpired,
    ActivationCodeUsed,
    ActivationFailed,
    InvalidCredentials,
    LoginLocked,
    NotFound,
    PinLocked,
    ValidationFailed,
    WrongPin,
)
from app.services.issuing.issuance import ACTIVATION_CONTEXT

log = logging.getLogger("unioncard.member_accounts")
_hasher = PasswordHasher()  # argon2id, as for staff passwords
# Verified against when no account matches, so timing does not reveal who has one.
_DUMMY_HASH: str | None = None  # made on first use: hashing at import slowed every process start


def _dummy_hash() -> str:
    """The hash verified against when no account matches (made once, on first use)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("unioncard-no-such-member")
    return _DUMMY_HASH
PIN_LENGTH = 6
_PIN_RE = re.compile(r"[0-9]{6}")
_CODE_CHARS_RE = re.compile(r"[^A-Z0-9]")
_WRONG_LOGIN = "The member number, phone or password is wrong."
LoginName = Literal["member_number", "phone"]


@dataclass(frozen=True)
class MemberLoginPolicy:
    """How many wrong passwords, and separately wrong PINs, in a row lock them, and for how
    long. A login's wrong passwords count per login name (``login_names``; ``name_key`` gives
    a name's keyed hash); the logged-in checks of ``check_member_password`` per account."""

    password_max_failures: int = 10
    password_lock_seconds: int = 900
    pin_max_failures: int = 5
    pin_lock_seconds: int = 900
    #: A PIN's later locks in a row (no right PIN in between) last these in turn, the last
    #: one for every lock after it; the first lasts ``pin_lock_seconds``.
    pin_relock_seconds: tuple[int, ...] = (3600, 86400)
    name_key: login_names.NameKeyer = login_names.process_keyer


@dataclass(frozen=True)
class Activation:
    """What a member types to activate: the letter's code, who they are, their new secrets."""

    member_number: str
    activation_code: str
    birth_date: date
    password: str
    pin: str


def normalize_code(code: str) -> str:
    """An activation code as it was issued (``ABCD-EFGH-JKLM``), whatever the case, spaces
    or dashes typed."""
    raw = _CODE_CHARS_RE.sub("", code.upper())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def normalize_phone(phone: str) -> str:
    """A phone number as digits with a leading 0 (``+84 912 345 678`` -> ``0912345678``)."""
    digits = re.sub(r"[\s.()-]", "", phone)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    return digits


def check_pin(pin: str, birth_date: date) -> None:
    """Apply the PIN policy: exactly 6 digits, not all the same digit, not a run up or down
    (``123456``, ``890123``, ``654321``), not the birth date as ``ddmmyy`` or ``yymmdd``.

    Raises:
        ValidationFailed: the PIN breaks the policy (the reason, never the PIN).
    """
    def refuse(detail: str) -> ValidationFailed:
        return ValidationFailed.field("pin", detail)

    if not _PIN_RE.fullmatch(pin):
        raise refuse(f"The PIN must be exactly {PIN_LENGTH} digits.")
    if len(set(pin)) == 1:
        raise refuse("The PIN must not be one digit repeated.")
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps in ({1}, {9}):
        raise refuse("The PIN must not be a run of consecutive digits.")
    if pin in (birth_date.strftime("%d%m%y"), birth_date.strftime("%y%m%d")):
        raise refuse("The PIN must not be your birth date.")


@dataclass(frozen=True)
class NewSecrets:
    """The argon2id hashes of an activation's new password and PIN."""

    password_hash: str
    pin_hash: str


def hash_secrets(request: Activation) -> NewSecrets:
    """Check an activation's new password and PIN against their policies and hash them, with
    no database involved (so no transaction waits on argon2).

    Raises:
        ValidationFailed: the password or PIN breaks its policy (nothing is hashed).
    """
    check_password(request.password, request.member_number.strip().upper())
    check_pin(request.pin, request.birth_date)
    return NewSecrets(hash_password(request.password), hash_password(request.pin))


def activate(session: Session, cipher: DataCipher, request: Activation, *,
             secrets: NewSecrets | None = None, now: datetime | None = None) -> MemberAccount:
    """Create (or, with a new code from the office, reset) a member's account: check the new
    password and PIN and hash them (``secrets``: done already by ``hash_secrets``, before the
    caller's session began), then check the member number, one-time code and birth date
    together; the code is consumed and every earlier token of the member ends. Audited.

    Raises:
        ValidationFailed: the password or PIN breaks its policy (nothing else is checked).
        ActivationFailed: unknown member number, wrong code or wrong birth date (not said
            which), a revoked card, or a member who is not active.
        ActivationCodeUsed: the code (with the right birth date) was used already.
        ActivationCodeExpired: the code (with the right birth date) is past its expiry.
    """
    now = now or utc_now()
    number = request.member_number.strip().upper()
    secrets = secrets or hash_secrets(request)
    code_hash = cipher.lookup_hash(normalize_code(request.activation_code), ACTIVATION_CONTEXT)
    member = session.scalar(select(Member).where(Member.member_number == number))
    # the card row is locked until commit: of two activations with one code, one wins
    locked = None if member is None else session.scalar(
        select(Card).where(Card.member_id == member.id, Card.activation_hash == code_hash,
                           Card.status != CardStatus.REVOKED).with_for_update())
    if (member is None or locked is None or member.birth_date != request.birth_date
            or member.status is not MemberStatus.ACTIVE):
        raise ActivationFailed("The member number, activation code or birth date is wrong.")
    _check_code_usable(locked, now)
    locked.activation_used_at = now
    account = session.scalar(select(MemberAccount).where(MemberAccount.member_id == member.id)
                             .with_for_update())
    action = "member.reactivate" if account is not None else "member.activate"
    if account is None:
        account = MemberAccount(member_id=member.id, province_code=member.province_code,
                                token_version=0)
        session.add(account)
    else:
        account.token_version += 1
    account.password_hash, account.pin_hash = secrets.password_hash, secrets.pin_hash
    account.activated_at = now
    account.password_failures, account.password_locked_until = 0, None
    account.pin_failures, account.pin_locked_until, account.pin_lock_count = 0, None, 0
    account.province_code = member.province_code
    account.phone = _free_phone(session, member)
    session.flush()
    audit.record(session, actor=f"member:{member.id}", action=action, object_type="member",
                 object_id=member.id, province_code=member.province_code,
                 details={"card": locked.serial, "phone_login": account.phone is not None})
    return account


def _check_code_usable(card: Card, now: datetime) -> None:
    """Raises ActivationCodeUsed or ActivationCodeExpired (codes without expiry are expired)."""
    if card.activation_used_at is not None:
        raise ActivationCodeUsed("This activation code was used already; ask the union office "
                                 "for a new one to reset your password and PIN.")
    if card.activation_expires_at is None or card.activation_expires_at <= now:
        raise ActivationCodeExpired("This activation code has expired; ask the union office "
                                    "for a new one.")


def _free_phone(session: Session, member: Member) -> str | None:
    """The member's phone as a login name, unless another member's account uses it."""
    if not member.phone:
        return None
    phone = normalize_phone(member.phone)
    holder = session.scalar(select(MemberAccount.member_id).where(MemberAccount.phone == phone))
    if holder is not None and holder != member.id:
        log.info("phone login not set: the phone is another account's",
                 extra={"member_id": member.id})
        return None
    return phone


def authenticate(session: Session, login: str, password: str, *, by: LoginName,
                 policy: MemberLoginPolicy = MemberLoginPolicy(),
                 now: datetime | None = None) -> MemberAccount:
    """The activated account of an active member with these credentials (``login`` is the
    member number or the phone, as ``by`` says); counts wrong passwords per login name, known
    or not (``login_names``), and locks password login with that name after
    ``policy.password_max_failures`` in a row: an unknown member number or phone answers
    exactly as a registered one does.

    ``session`` is the login's own: it commits a failure's count and a success's reset, and
    holds no transaction while the password is hashed.

    Raises:
        LoginLocked: password login with this name is locked (nothing is hashed).
        InvalidCredentials: unknown login, wrong password, member not active (one message).
    """
    now = now or utc_now()
    name = normalize_phone(login) if by == "phone" else login.strip().upper()
    key = login_names.name_key(policy.name_key, by, name)
    stmt = select(MemberAccount, Member.status).join(Member,
                                                     Member.id == MemberAccount.member_id)
    if by == "phone":
        stmt = stmt.where(MemberAccount.phone == name)
    else:
        stmt = stmt.where(Member.member_number == name)
    row = session.execute(stmt).first()
    account, status = (row[0], row[1]) if row is not None else (None, None)
    if account is not None:
        session.expunge(account)  # keep the values read when the read transaction ends
    try:
        login_names.refuse_if_locked(session, key, now)
    except LoginLocked:
        metrics.LOGIN_FAILURES.labels(account="member", reason="locked").inc()
        raise
    finally:
        session.rollback()  # no transaction (nor SQLite write lock) during the slow hash
    if not _verify(account.password_hash if account is not None else _dummy_hash(), password):
        _record_name_failure(session, key, account, policy=policy, now=now)
        raise InvalidCredentials(_WRONG_LOGIN)
    if account is None or status is not MemberStatus.ACTIVE:
        raise InvalidCredentials(_WRONG_LOGIN)
    login_names.record_success(session, key)
    return _record_success(session, account.id, "password", password, login_at=now)


def _record_name_failure(session: Session, key: str, account: MemberAccount | None, *,
                         policy: MemberLoginPolicy, now: datetime) -> None:
    """Count a login's wrong password under its login name (``key``), locking password login
    with the name at the policy's maximum (logged; audited when ``account``, the account of
    that name, exists); commits."""
    metrics.LOGIN_FAILURES.labels(account="member", reason="wrong_password").inc()
    until = login_names.record_failure(session, key, max_failures=policy.password_max_failures,
                                       lock_seconds=policy.password_lock_seconds, now=now)
    if until is not None:
        log.warning("member password login locked", extra={
            "member_id": account.member_id if account is not None else None,
            "failures": policy.password_max_failures, "locked_until": until.isoformat()})
        if account is not None:
            audit.record(session, actor="system", action="member.password_locked",
                         object_type="member", object_id=account.member_id,
                         province_code=account.province_code,
                         reason=f"{policy.password_max_failures} wrong passwords in a row",
                         details={"locked_until": until.isoformat()})
    session.commit()


def check_member_password(session: Session, member_id: int, password: str, *,
                          policy: MemberLoginPolicy = MemberLoginPolicy(),
                          now: datetime | None = None) -> None:
    """Check a logged-in member's password (before a change of password or PIN), counting
    and locking as a login does; commits on ``session`` (the check's own).

    Raises:
        LoginLocked: the password is locked. InvalidCredentials: it is wrong.
    """
    now = now or utc_now()
    account = _account(session, member_id)
    session.expunge(account)
    session.rollback()
    _refuse_if_locked(account.password_locked_until, now, LoginLocked(
        "Too many wrong passwords: this account's password is locked for a while.",
        retry_after=1))
    if not _verify(account.password_hash, password):
        _record_failure(session, account.id, "password", policy=policy, now=now)
        raise InvalidCredentials("The password is wrong.")
    _record_success(session, account.id, "password", password)


def verify_pin(session: Session, member_id: int, pin: str, *,
               policy: MemberLoginPolicy = MemberLoginPolicy(),
               now: datetime | None = None, client: PinClientCap | None = None) -> None:
    """Check a member's PIN (the presence proof of a pull from a printed card), counting
    wrong PINs and locking the PIN after ``policy.pin_max_failures`` in a row, each lock in a
    row longer (``pin_lock_seconds``, then ``pin_relock_seconds``); with ``client``, the
    clinic client's wrong PINs across members are capped too (``pin_guard``). Commits on
    ``session`` (the check's own).

    Each check takes its place in the count *before* the PIN is compared, in one atomic
    statement, and the place that reaches the maximum starts the lock at once: however many
    checks arrive together, at most ``policy.pin_max_failures`` wrong PINs in a row are
    compared. A right PIN ends the count, the lock and the run of locks.

    Raises:
        PinAttemptsCapped: the client's cap is reached (nothing is hashed).
        PinLocked: the PIN is locked (nothing is hashed). WrongPin: wrong PIN or no account.
    """
    now = now or utc_now()
    session.rollback()
    slot = pin_guard.take_client_slot(session, client, now) if client is not None else None

    def give_back() -> None:
        if client is not None and slot is not None:
            pin_guard.give_back_client_slot(session, client, slot)

    try:
        taken = _take_pin_attempt(session, member_id, policy, now)
    except BaseException:
        session.rollback()
        give_back()
        raise
    if taken is None:
        locked_until = session.scalar(select(MemberAccount.pin_locked_until)
                                      .where(MemberAccount.member_id == member_id))
        session.rollback()
        if locked_until is not None:  # locked: no PIN compared, so the slot goes back
            give_back()
            metrics.LOGIN_FAILURES.labels(account="member", reason="pin_locked").inc()
            raise PinLocked("Too many wrong PINs: the member's PIN is locked for a while.",
                            retry_after=max(1, ceil((locked_until - now).total_seconds())),
                            locked_until=locked_until.isoformat())
        _verify(_dummy_hash(), pin)  # no account: as slow as a wrong PIN, and counted so
        raise WrongPin("The PIN is wrong.")
    account_id, pin_hash, locked_until, locks, province_code, failures = taken
    if _verify(pin_hash, pin):
        _pin_right(session, account_id, pin_hash, pin)
        give_back()
        return
    metrics.LOGIN_FAILURES.labels(account="member", reason="wrong_pin").inc()
    if locked_until is not None:  # this wrong PIN was the last one allowed
        log.warning("member pin locked", extra={
            "member_id": member_id, "failures": policy.pin_max_failures,
            "locks_in_a_row": locks, "locked_until": locked_until.isoformat()})
        # written without reading first: on SQLite a reader could not become a writer
        audit.record(session, actor="system", action="member.pin_locked",
                     object_type="member", object_id=member_id, province_code=province_code,
                     reason=f"{policy.pin_max_failures} wrong pins in a row",
                     details={"locked_until": locked_until.isoformat(),
                              "locks_in_a_row": locks})
        session.commit()
        raise WrongPin("The PIN is wrong.", attempts_left=0,
                       locked_until=locked_until.isoformat())
    raise WrongPin("The PIN is wrong.",
                   attempts_left=max(0, policy.pin_max_failures - failures))


def _take_pin_attempt(session: Session, member_id: int, policy: MemberLoginPolicy,
                      now: datetime
                      ) -> tuple[int, str, datetime | None, int, str, int] | None:
    """Count one PIN check of the member before its PIN is compared, unless the PIN is
    locked; the check that reaches ``policy.pin_max_failures`` locks the PIN at once (for
    as long as the run of locks says). One UPDATE ... RETURNING, so concurrent checks are
    counted one after another on every backend; commits.

    Returns the account's id and PIN hash, the lock this check started (None when it
    started none), the locks in a row, the account's province and the checks now counted
    (0 when this one locked); None when the PIN is locked or there is no account.
    """
    steps = (policy.pin_lock_seconds, *policy.pin_relock_seconds)
    locks = MemberAccount.pin_lock_count
    until_type = MemberAccount.pin_locked_until.type
    until = case(*((locks == n, literal(now + timedelta(seconds=seconds), until_type))
                   for n, seconds in enumerate(steps[:-1])),
                 else_=literal(now + timedelta(seconds=steps[-1]), until_type))
    last = MemberAccount.pin_failures + 1 >= policy.pin_max_failures
    row = session.execute(
        update(MemberAccount)
        .where(MemberAccount.member_id == member_id,
               or_(MemberAccount.pin_locked_until.is_(None),
                   MemberAccount.pin_locked_until <= now))
        .values(pin_failures=case((last, 0), else_=MemberAccount.pin_failures + 1),
                pin_locked_until=case((last, until), else_=null()),
                pin_lock_count=case((last, locks + 1), else_=locks))
        .returning(MemberAccount.id, MemberAccount.pin_hash, MemberAccount.pin_locked_until,
                   MemberAccount.pin_lock_count, MemberAccount.province_code,
                   MemberAccount.pin_failures)
        .execution_options(synchronize_session=False)).first()
    session.commit()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])


def _pin_right(session: Session, account_id: int, pin_hash: str, pin: str) -> None:
    """A right PIN: its count, its lock and the run of locks end; an outdated hash is
    rehashed. One UPDATE, no read first (on SQLite a reader could not become a writer under
    concurrent writes); commits."""
    values: dict[str, Any] = {"pin_failures": 0, "pin_locked_until": None, "pin_lock_count": 0}
    if _hasher.check_needs_rehash(pin_hash):
        values["pin_hash"] = hash_password(pin)
    session.execute(update(MemberAccount).where(MemberAccount.id == account_id).values(values)
                    .execution_options(synchronize_session=False))
    session.commit()


def _verify(hashed: str, secret: str) -> bool:
    """Whether ``secret`` matches the argon2 hash."""
    try:
        return _hasher.verify(hashed, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse_if_locked(until: datetime | None, now: datetime,
                      error: LoginLocked | PinLocked) -> None:
    """Raise ``error`` (its wait set to the lock's rest) while a lock lasts."""
    if until is not None and until > now:
        error.retry_after = max(1, ceil((until - now).total_seconds()))
        raise error


def _record_failure(session: Session, account_id: int, secret: Literal["password", "pin"], *,
                    policy: MemberLoginPolicy, now: datetime) -> None:
    """Count a wrong password or PIN, locking it at the policy's maximum (logged and
    audited); commits."""
    metrics.LOGIN_FAILURES.labels(account="member", reason=f"wrong_{secret}").inc()
    failures = getattr(MemberAccount, f"{secret}_failures")
    # the first statement writes, so concurrent failures are counted one after another
    session.execute(update(MemberAccount).where(MemberAccount.id == account_id)
                    .values({failures: failures + 1}))
    account = session.get(MemberAccount, account_id, populate_existing=True)
    maximum, seconds = ((policy.password_max_failures, policy.password_lock_seconds)
                        if secret == "password" else
                        (policy.pin_max_failures, policy.pin_lock_seconds))
    if account is not None and getattr(account, f"{secret}_failures") >= maximum:
        until = now + timedelta(seconds=seconds)
        setattr(account, f"{secret}_failures", 0)
        setattr(account, f"{secret}_locked_until", until)
        log.warning(f"member {secret} locked", extra={
            "member_id": account.member_id, "failures": maximum,
            "locked_until": until.isoformat()})
        audit.record(session, actor="system", action=f"member.{secret}_locked",
                     object_type="member", object_id=account.member_id,
                     province_code=account.province_code,
                     reason=f"{maximum} wrong {secret}s in a row",
                     details={"locked_until": until.isoformat()})
    session.commit()


def _record_success(session: Session, account_id: int, secret: Literal["password", "pin"],
                    plain: str, *, login_at: datetime | None = None) -> MemberAccount:
    """Reset the secret's failure count and lock, rehash an outdated hash, note a login's
    time (``login_at``); commits."""
    account = session.get(MemberAccount, account_id, populate_existing=True)
    if account is None:  # deleted while the secret was checked
        raise InvalidCredentials(_WRONG_LOGIN)
    if login_at is not None:
        account.last_login_at = login_at
    setattr(account, f"{secret}_failures", 0)
    setattr(account, f"{secret}_locked_until", None)
    hash_attr = f"{secret}_hash"
    if _hasher.check_needs_rehash(getattr(account, hash_attr)):
        setattr(account, hash_attr, hash_password(plain))
    session.commit()
    return account


def _account(session: Session, member_id: int) -> MemberAccount:
    """The member's account.

    Raises:
        NotFound: the member has no account.
    """
    account = session.scalar(select(MemberAccount).where(MemberAccount.member_id == member_id))
    if account is None:
        raise NotFound("No such account.")
    return account


#: Built once: every member request checks its token with it.
_TOKEN_STATE = (select(MemberAccount.token_version, Member.status)
                .join(Member, Member.id == MemberAccount.member_id)
                .where(MemberAccount.member_id == bindparam("member_id")))


#: ``_TOKEN_STATE`` with the member's sealed health summary (None columns when none is stored)
_TOKEN_STATE_AND_SEALED_SUMMARY = (
    select(MemberAccount.token_version, Member.status, HealthRecord.kek_version,
           HealthRecord.data_key_wrapped, HealthRecord.summary_encrypted)
    .join(Member, Member.id == MemberAccount.member_id)
    .outerjoin(HealthRecord, HealthRecord.member_id == MemberAccount.member_id)
    .where(MemberAccount.member_id == bindparam("member_id")))


def token_is_current(session: Session, member_id: int, token_version: int) -> bool:
    """Whether a member token of this version still counts: the account exists, the member
    is active and no logout, password change or re-activation came since."""
    # on the connection: plain columns need none of the ORM's result processing
    row = session.connection().execute(_TOKEN_STATE, {"member_id": member_id}).first()
    return row is not None and row[0] == token_version and row[1] is MemberStatus.ACTIVE


def token_is_current_with_sealed_summary(
        session: Session, member_id: int, token_version: int) -> tuple[bool, Envelope | None]:
    """``token_is_current``, and the member's sealed health summary (None when none is stored)
    read by the same statement: the member's own summary costs one round trip, not two. The
    summary is opened only by ``HealthStore`` (and only when the token counts)."""
    row = session.connection().execute(_TOKEN_STATE_AND_SEALED_SUMMARY,
                                       {"member_id": member_id}).first()
    if row is None or row[0] != token_version or row[1] is not MemberStatus.ACTIVE:
        return False, None
    return True, (None if row[2] is None else Envelope(row[2], row[3], row[4]))


def token_version(session: Session, member_id: int) -> int:
    """The version a new token of the member carries."""
    return _account(session, member_id).token_version


def logout(session: Session, member_id: int) -> None:
    """End every token of the member issued so far (its token version moves on)."""
    account = _account(session, member_id)
    account.token_version += 1
    session.flush()


def change_password(session: Session, member_id: int, password: str, new_password: str, *,
                    policy: MemberLoginPolicy = MemberLoginPolicy(),
                    now: datetime | None = None) -> MemberAccount:
    """Set a new password after checking the current one (counted and locked as a login);
    every earlier token ends. Audited; commits on ``session`` (the change's own).

    Raises:
        ValidationFailed: the new password breaks the policy (nothing is hashed).
        LoginLocked: the password is locked. InvalidCredentials: the current one is wrong.
    """
    member = _member(session, member_id)
    check_password(new_password, member.member_number)
    check_member_password(session, member_id, password, policy=policy, now=now)
    account = _account(session, member_id)
    account.password_hash = hash_password(new_password)
    account.token_version += 1
    audit.record(session, actor=f"member:{member_id}", action="member.password",
                 object_type="member", object_id=member_id, province_code=account.province_code)
    session.commit()
    return account


def change_pin(session: Session, member_id: int, password: str, new_pin: str, *,
               policy: MemberLoginPolicy = MemberLoginPolicy(),
               now: datetime | None = None) -> MemberAccount:
    """Set a new PIN after checking the password (counted and locked as a login); a PIN lock
    ends. Audited; commits on ``session`` (the change's own).

    Raises:
        ValidationFailed: the new PIN breaks the policy (nothing is hashed).
        LoginLocked: the password is locked. InvalidCredentials: it is wrong.
    """
    member = _member(session, member_id)
    check_pin(new_pin, member.birth_date)
    check_member_password(session, member_id, password, policy=policy, now=now)
    account = _account(session, member_id)
    account.pin_hash = hash_password(new_pin)
    account.pin_failures, account.pin_locked_until, account.pin_lock_count = 0, None, 0
    audit.record(session, actor=f"member:{member_id}", action="member.pin",
                 object_type="member", object_id=member_id, province_code=account.province_code)
    session.commit()
    return account


def _member(session: Session, member_id: int) -> Member:
    """The member.

    Raises:
        NotFound: no such member.
    """
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    return member


@dataclass(frozen=True)
class MemberProfile:
    """What a member sees about themselves (the personal ID only masked)."""

    member_number: str
    full_name: str
    birth_date: date
    union_code: str
    union_name: str
    province_code: str
    province_name: str
    personal_id_masked: str
    status: str
    card_status: str | None


def profile(session: Session, member_id: int) -> MemberProfile:
    """The member's own profile.

    Raises:
        NotFound: no such member.
    """
    member = _member(session, member_id)
    union = session.scalar(select(Union).where(Union.code == member.union_code))
    province = session.get(Province, member.province_code)
    card = _current_card(session, member_id)
    return MemberProfile(
        member_number=member.member_number, full_name=member.full_name,
        birth_date=member.birth_date, union_code=member.union_code,
        union_name=union.name if union else member.union_code,
        province_code=member.province_code,
        province_name=province.name if province else member.province_code,
        personal_id_masked="*" * 8 + member.personal_id_last4, status=member.status.value,
        card_status=card.status.value if card is not None else None)


def _current_card(session: Session, member_id: int) -> Card | None:
    """The member's newest card that is not revoked."""
    return session.scalar(select(Card).where(Card.member_id == member_id,
                                             Card.status != CardStatus.REVOKED)
                          .order_by(Card.issued_at.desc(), Card.id.desc()).limit(1))


def current_card(session: Session, member_id: int) -> Card:
    """The member's current card: the newest one not revoked (active or suspended).

    Raises:
        NotFound: the member has no such card.
    """
    card = _current_card(session, member_id)
    if card is None:
        raise NotFound("You have no current card.")
    return card
