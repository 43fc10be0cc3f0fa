"""The member register: validation, create/update, status changes, search, personal-ID reveal."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.crypto import DataCipher
from app.models import AuditEntry, Member, MemberNumberSequence, MemberStatus, Union
from app.services import audit
from app.services.access.scope import Scope
from app.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RegisteredElsewhere,
    TooManyConflicts,
    ValidationFailed,
)
from app.services.issuing.card_status import CardLifecycle
from app.services.registry import identity
from app.services.registry.identity import FieldProblem, InvalidField

PERSONAL_ID_CONTEXT = "member.personal_id"
INSURANCE_CONTEXT = "member.insurance_number"
#: Audit action of a refused registration of someone another office holds (counted per hour).
ELSEWHERE_ACTION = "member.registered-elsewhere"
#: How often an officer may run into other offices' members per hour before being refused.
ELSEWHERE_PER_HOUR = 20
ELSEWHERE_DETAIL = ("This person cannot be registered by your office. If they have moved to "
                    "you, ask their current office for a transfer (POST /api/v1/transfers with "
                    "the personal ID and a reason).")
ELSEWHERE_LIMIT = ("Not checked: your office ran into members of other offices too often in the "
                   "last hour; import again later.")
MEMBER_NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,19}$")
MEMBER_FIELDS = ("full_name", "birth_date", "sex", "personal_id", "insurance_number", "phone",
                 "union_code", "join_date", "member_number")
#: Counting stops here so a broad search ("nguyen") stays fast on millions of members.
COUNT_CAP = 10_000
REQUIRED_FIELDS = ("full_name", "birth_date", "sex", "personal_id", "union_code")



@dataclass(frozen=True)
class MemberData:
    """A member's fields after validation and normalisation."""

    full_name: str
    name_ascii: str
    birth_date: date
    sex: str
    personal_id: str
    union_code: str
    insurance_number: str | None = None
    phone: str | None = None
    join_date: date | None = None
    member_number: str | None = None


class MemberInvalid(ValidationFailed):
    """One or more member fields are invalid; ``problems`` lists them."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            errors=[{"location": "json", "field": p.field, "pointer": f"#/{p.field}",
                     "detail": p.message} for p in problems])


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return identity.parse_date(str(value), name)


def validate_member(raw: Mapping[str, Any], today: date) -> tuple[MemberData, list[FieldProblem]]:
    """Validate and normalise every field, collecting all problems at once.

    Raises:
        MemberInvalid: any field is missing or invalid (warnings alone do not raise).
    """
    errors: list[FieldProblem] = []
    warnings: list[FieldProblem] = []
    values: dict[str, Any] = {}
    for name in REQUIRED_FIELDS:
        if _blank(raw.get(name)):
            errors.append(FieldProblem(name, "This field is required."))

    def attempt(name: str, func: Callable[[], Any]) -> None:
        if _blank(raw.get(name)) or name in {e.field for e in errors}:
            return
        try:
            values[name] = func()
        except InvalidField as exc:
            errors.append(FieldProblem(exc.field, exc.message))

    attempt("full_name", lambda: identity.normalize_name(str(raw["full_name"])))
    attempt("sex", lambda: identity.parse_sex(str(raw["sex"])))
    attempt("birth_date", lambda: identity.check_birth_date(
        _as_date(raw["birth_date"], "birth_date"), today))
    attempt("join_date", lambda: identity.check_join_date(
        _as_date(raw["join_date"], "join_date"), values.get("birth_date"), today))
    attempt("insurance_number", lambda: identity.check_insurance_number(
        str(raw["insurance_number"])))
    attempt("phone", lambda: identity.normalize_phone(str(raw["phone"])))
    attempt("union_code", lambda: str(raw["union_code"]).strip().upper())
    attempt("member_number", lambda: _member_number(str(raw["member_number"])))
    if not _blank(raw.get("personal_id")):
        try:
            pid, pid_warnings = identity.check_personal_id(
                str(raw["personal_id"]), values.get("birth_date"), values.get("sex"))
            values["personal_id"] = pid
            warnings.extend(pid_warnings)
        except InvalidField as exc:
            errors.append(FieldProblem(exc.field, exc.message))
    if errors:
        raise MemberInvalid(errors)
    return MemberData(name_ascii=identity.transliterate(values["full_name"]), **values), warnings


def _member_number(raw: str) -> str:
    value = raw.strip().upper()
    if not MEMBER_NUMBER_RE.match(value):
        raise InvalidField("member_number", "4-20 characters: capital letters, digits and '-'.")
    return value


def number_range_problem(member_number: str, province_code: str) -> FieldProblem | None:
    """Why a member number given by hand may not be used in this province, if it may not:
    every number begins with its province's code, so no office can take another's numbers."""
    if member_number.startswith(province_code):
        return None
    return FieldProblem("member_number", f"Member numbers in province {province_code} begin "
                                         f"with {province_code}.")


def insurance_columns(cipher: DataCipher, number: str | None) -> dict[str, Any]:
    """The stored form of a social-insurance number: ciphertext (its owner the keyed hash, as
    for the personal ID), keyed hash, last 4 digits; all None for no number."""
    if number is None:
        return {"insurance_number_encrypted": None, "insurance_number_hash": None,
                "insurance_number_last4": None}
    digest = cipher.lookup_hash(number, INSURANCE_CONTEXT)
    return {"insurance_number_encrypted": cipher.encrypt(number, INSURANCE_CONTEXT, digest),
            "insurance_number_hash": digest, "insurance_number_last4": number[-4:]}


def insurance_number_of(cipher: DataCipher, member: Any) -> str | None:
    """A member's social-insurance number in full, decrypted (the member's own export, the
    register's revalidation on update); officers only ever see ``mask_insurance_number``."""
    if member.insurance_number_encrypted is None:
        return None
    return cipher.decrypt(member.insurance_number_encrypted, INSURANCE_CONTEXT,
                          member.insurance_number_hash)


def mask_insurance_number(last4: str | None) -> str | None:
    """The form officers see: only the last 4 digits (None when there is no number)."""
    return None if last4 is None else "******" + last4


def mask_personal_id(last4: str) -> str:
    """The form shown in lists: only the last 4 digits."""
    return "********" + last4


@dataclass
class SearchFilters:
    """What a member search asks for."""

    q: str | None = None
    member_number: str | None = None
    personal_id: str | None = None
    union_code: str | None = None
    province_code: str | None = None
    status: str | None = None
    sort: str = "name"
    page: int = 1
    per_page: int = 50


SORTS = {
    "name": (Member.name_ascii, Member.id), "-name": (Member.name_ascii.desc(), Member.id.desc()),
    "member_number": (Member.member_number,), "-member_number": (Member.member_number.desc(),),
    "birth_date": (Member.birth_date, Member.id), "-birth_date": (Member.birth_date.desc(),
                                                                  Member.id.desc()),
    "created_at": (Member.id,), "-created_at": (Member.id.desc(),),
}


class MemberRegistry:
    """The register's operations for one actor, with a session, a cipher and a clock."""

    def __init__(self, session: Session, cipher: DataCipher, *, actor: str,
                 today: Callable[[], date] = today_in_vietnam,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.actor = actor
        self.today = today
        self.clock = clock

    # -- personal ID ----------------------------------------------------------------------
    def personal_id_hash(self, personal_id: str) -> str:
        """The keyed lookup hash of a normalised personal ID."""
        return self.cipher.lookup_hash(personal_id, PERSONAL_ID_CONTEXT)

    def find_by_personal_id(self, personal_id: str) -> Member | None:
        """The member with this personal ID anywhere (no scope: for duplicate checks)."""
        digits = re.sub(r"[\s.\-]", "", personal_id)
        return self.session.scalar(
            select(Member).where(Member.personal_id_hash == self.personal_id_hash(digits)))

    def reveal_personal_id(self, scope: Scope, member_id: int, reason: str = "") -> str:
        """Decrypt a member's personal ID for an in-scope officer, and log the reveal.

        Raises:
            NotFound: no such member in scope.
            Forbidden: the caller is not an officer.
        """
        member = self.get(scope, member_id)
        if scope.principal.role != "officer":
            raise Forbidden("Only the member's union officers may see the full personal ID.")
        value = self.cipher.decrypt(member.personal_id_encrypted, PERSONAL_ID_CONTEXT,
                                    member.personal_id_hash)
        audit.record(self.session, actor=self.actor, action="member.personal-id.reveal",
                     object_type="member", object_id=member.id,
                     province_code=member.province_code, reason=reason)
        return value

    # -- other offices' members -------------------------------------------------------------
    def elsewhere_budget(self) -> int:
        """How many more of other offices' members this actor may run into this hour."""
        since = clock.now() - timedelta(hours=1)
        used = self.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == self.actor, AuditEntry.action == ELSEWHERE_ACTION,
            AuditEntry.at >= since)) or 0
        return max(ELSEWHERE_PER_HOUR - used, 0)

    def ensure_elsewhere_budget(self) -> None:
        """Refuse every lookup of an actor over the hourly limit, whatever the answer would be
        (so that a 429 tells nothing either).

        Raises:
            TooManyConflicts: the limit is reached.
        """
        if self.elsewhere_budget() <= 0:
            raise TooManyConflicts(
                "Your office ran into members of other offices too often in the last hour; "
                "try again later or ask an administrator.", retry_after=3600)

    def record_elsewhere(self, member: Member | Any) -> None:
        """Audit a run-in with another office's member (the holder's province sees it)."""
        audit.record(self.session, actor=self.actor, action=ELSEWHERE_ACTION,
                     object_type="member", object_id=member.id,
                     province_code=member.province_code)

    # -- numbers --------------------------------------------------------------------------
    def allocate_member_numbers(self, province_code: str, count: int) -> list[str]:
        """Reserve ``count`` new member numbers (province code + 8 digits), atomically,
        skipping any number already taken (given by hand, or by a concurrent import)."""
        numbers: list[str] = []
        while len(numbers) < count:
            block = self._reserve(province_code, count - len(numbers))
            taken = set(self.session.scalars(select(Member.member_number)
                                             .where(Member.member_number.in_(block))))
            numbers.extend(n for n in block if n not in taken)
        return numbers

    def _reserve(self, province_code: str, count: int) -> list[str]:
        table = MemberNumberSequence
        stmt = (update(table).where(table.province_code == province_code)
                .values(next_value=table.next_value + count).returning(table.next_value))
        end = self.session.execute(stmt).scalar_one_or_none()
        if end is None:
            raise ValidationFailed.field("province_code", f"Unknown province {province_code}.")
        return [f"{province_code}{value:08d}" for value in range(end - count, end)]

    # -- unions ---------------------------------------------------------------------------
    def union_in_scope(self, scope: Scope, union_code: str) -> Union:
        """The union a member is placed in; it must exist and lie in the caller's scope.

        Raises:
            ValidationFailed: no such union in scope (as a field error on ``union_code``).
        """
        union = self.session.scalar(select(Union).where(Union.code == union_code))
        if union is None or not scope.allows(union.province_code, union.code):
            raise ValidationFailed.field("union_code", f"No union {union_code} in your scope.")
        return union

    # -- create / read / update -----------------------------------------------------------
    def create(self, scope: Scope, raw: Mapping[str, Any]) -> tuple[Member, list[FieldProblem]]:
        """Register a member.

        Raises:
            MemberInvalid: invalid fields. Conflict: the personal ID or member number exists.
        """
        data, warnings = validate_member(raw, self.today())
        union = self.union_in_scope(scope, data.union_code)
        self.ensure_elsewhere_budget()
        if data.member_number:
            self._ensure_in_range(data.member_number, union.province_code)
        self._ensure_unique(scope, data.personal_id, data.member_number)
        number = data.member_number or self.allocate_member_numbers(union.province_code, 1)[0]
        member = Member(
            province_code=union.province_code, union_code=union.code, member_number=number,
            full_name=data.full_name, name_ascii=data.name_ascii, birth_date=data.birth_date,
            sex=data.sex, phone=data.phone,
            join_date=data.join_date, status=MemberStatus.ACTIVE, status_reason="",
            **self.personal_id_columns(data.personal_id),
            **insurance_columns(self.cipher, data.insurance_number))
        self.session.add(member)
        self.session.flush()
        audit.record(self.session, actor=self.actor, action="member.create", object_type="member",
                     object_id=member.id, province_code=member.province_code)
        return member, warnings

    def personal_id_columns(self, personal_id: str) -> dict[str, Any]:
        """The stored form of a personal ID: ciphertext, lookup hash, last 4 digits (the
        ciphertext's owner is the row's unique lookup hash: known before the row has an id)."""
        digest = self.personal_id_hash(personal_id)
        return {"personal_id_encrypted": self.cipher.encrypt(personal_id, PERSONAL_ID_CONTEXT,
                                                             digest),
                "personal_id_hash": digest,
                "personal_id_last4": personal_id[-4:]}

    @staticmethod
    def _ensure_in_range(member_number: str, province_code: str) -> None:
        problem = number_range_problem(member_number, province_code)
        if problem is not None:
            raise MemberInvalid([problem])

    def _ensure_unique(self, scope: Scope, personal_id: str, member_number: str | None,
                       exclude_id: int | None = None) -> None:
        existing = self.find_by_personal_id(personal_id)
        if existing is not None and existing.id != exclude_id:
            if scope.allows(existing.province_code, existing.union_code):
                raise Conflict("A member with this personal ID is already registered.",
                               existing_member_id=existing.id)
            self.record_elsewhere(existing)
            self.session.commit()  # the audit entry outlives the refused request
            raise RegisteredElsewhere(ELSEWHERE_DETAIL)
        if member_number:
            other = self.session.scalar(select(Member.id).where(
                Member.member_number == member_number))
            if other is not None and other != exclude_id:
                raise Conflict(f"The member number {member_number} is taken.")

    def get(self, scope: Scope, member_id: int, *, lock: bool = False) -> Member:
        """A member in scope (``lock``: row-locked until commit, for changes).

        Raises:
            NotFound: no such member in the scope.
        """
        member = self.session.get(Member, member_id, with_for_update=lock or None)
        if member is None:
            raise NotFound("No such member.")
        scope.ensure(member.province_code, member.union_code, "member")
        return member

    def update(self, scope: Scope, member_id: int, changes: Mapping[str, Any]
               ) -> tuple[Member, list[FieldProblem]]:
        """Change a member's fields; the whole record is revalidated.

        Raises:
            NotFound, MemberInvalid, Conflict.
        """
        member = self.get(scope, member_id, lock=True)
        current = {
            "full_name": member.full_name, "birth_date": member.birth_date, "sex": member.sex,
            "personal_id": self.cipher.decrypt(member.personal_id_encrypted, PERSONAL_ID_CONTEXT,
                                               member.personal_id_hash),
            "insurance_number": insurance_number_of(self.cipher, member), "phone": member.phone,
            "union_code": member.union_code, "join_date": member.join_date,
            "member_number": member.member_number,
        }
        merged = {**current, **{k: v for k, v in changes.items() if k in MEMBER_FIELDS}}
        data, warnings = validate_member(merged, self.today())
        union = self.union_in_scope(scope, data.union_code)
        if union.province_code != member.province_code:
            raise ValidationFailed.field("union_code", "A member moves to another province by "
                                                       "a transfer request of the new office.")
        if data.member_number and data.member_number != member.member_number:
            self._ensure_in_range(data.member_number, union.province_code)
        if data.personal_id != current["personal_id"]:
            self.ensure_elsewhere_budget()
        self._ensure_unique(scope, data.personal_id, data.member_number, exclude_id=member.id)
        if data.personal_id != current["personal_id"]:
            for key, value in self.personal_id_columns(data.personal_id).items():
                setattr(member, key, value)
        for name in ("full_name", "name_ascii", "birth_date", "sex", "phone", "join_date"):
            setattr(member, name, getattr(data, name))
        if data.insurance_number != current["insurance_number"]:
            for key, value in insurance_columns(self.cipher, data.insurance_number).items():
                setattr(member, key, value)
        member.union_code = union.code
        member.member_number = data.member_number or member.member_number
        changed = sorted(k for k in changes if k in MEMBER_FIELDS and merged[k] != current[k])
        audit.record(self.session, actor=self.actor, action="member.update", object_type="member",
                     object_id=member.id, province_code=member.province_code,
                     details={"fields": changed})
        self.session.flush()
        return member, warnings

    def change_status(self, scope: Scope, member_id: int, status: MemberStatus,
                      reason: str = "") -> Member:
        """Set a member active, suspended or left; their cards follow.

        Raises:
            NotFound: no such member in scope. Conflict: already in that status.
        """
        member = self.get(scope, member_id, lock=True)
        if member.status is status:
            raise Conflict(f"The member is already {status.value}.")
        previous = member.status
        member.status = status
        member.status_reason = reason
        member.status_changed_at = self.clock()
        audit.record(self.session, actor=self.actor, action="member.status",
                     object_type="member", object_id=member.id,
                     province_code=member.province_code, reason=reason,
                     details={"from": previous.value, "to": status.value})
        CardLifecycle(self.session, actor=self.actor, clock=self.clock).follow_member(member)
        self.session.flush()
        return member

    # -- search ---------------------------------------------------------------------------
    def search(self, scope: Scope, filters: SearchFilters) -> tuple[list[Member], int, bool]:
        """Members in scope matching the filters, sorted and paginated.

        Returns the page, the total (counted up to ``COUNT_CAP``) and whether it is exact.
        """
        stmt = scope.filter(select(Member), Member.province_code, Member.union_code)
        if filters.q:
            prefix = identity.transliterate(filters.q)
            # a query with nothing left to compare (no Latin letters) matches nobody, not all
            stmt = (stmt.where(Member.name_ascii >= prefix, Member.name_ascii < prefix + "\x7f")
                    if prefix else stmt.where(false()))
        if filters.member_number:
            stmt = stmt.where(Member.member_number == filters.member_number.strip().upper())
        if filters.personal_id:
            digits = re.sub(r"[\s.\-]", "", filters.personal_id)
            stmt = stmt.where(Member.personal_id_hash == self.personal_id_hash(digits))
        if filters.union_code:
            stmt = stmt.where(Member.union_code == filters.union_code.strip().upper())
        if filters.province_code:
            stmt = stmt.where(Member.province_code == filters.province_code)
        if filters.status:
            stmt = stmt.where(Member.status == MemberStatus(filters.status))
        capped = stmt.with_only_columns(Member.id).limit(COUNT_CAP + 1).subquery()
        total = self.session.scalar(select(func.count()).select_from(capped)) or 0
        rows = self.session.scalars(
            stmt.order_by(*SORTS[filters.sort]).limit(filters.per_page)
            .offset((filters.page - 1) * filters.per_page)).all()
        return list(rows), min(total, COUNT_CAP), total <= COUNT_CAP
