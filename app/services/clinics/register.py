"""The clinic register: administrators create, change, suspend, reinstate and withdraw
clinics; staff list and read them (officers: their own province's)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.facility_types import FACILITY_TYPES, is_facility_code
from app.models import Clinic, Province
from app.models.clinic import ACCREDITATIONS
from app.services import audit
from app.services.access.scope import Scope
from app.services.csv_out import starts_like_a_formula
from app.services.errors import (
    AccreditationUnchanged,
    ClinicInvalid,
    FacilityCodeTaken,
    Forbidden,
    NotFound,
)
from app.services.registry.identity import transliterate

_SPACES = re.compile(r"\s+")
#: The fields an update may change (the facility code is the clinic's identity).
CHANGEABLE = ("name", "province_code", "facility_type", "address")
#: Accreditation changes: action -> (states it applies to, the state it leads to).
TRANSITIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "suspend": (("accredited",), "suspended"),
    "reinstate": (("suspended",), "accredited"),
    "withdraw": (("accredited", "suspended"), "withdrawn"),
}
_DONE = {"suspend": "suspended", "reinstate": "reinstated", "withdraw": "withdrawn"}


@dataclass(frozen=True)
class ClinicQuery:
    """Filters of the clinic list: exact province, facility type and accreditation, and a
    fragment of the name (any case, with or without diacritics) or of the facility code."""

    province_code: str | None = None
    facility_type: str | None = None
    accreditation: str | None = None
    q: str | None = None


def clean_text(raw: object, field: str, *, limit: int, required: bool) -> str:
    """NFC, trimmed, inner spaces collapsed; digits allowed (``Bệnh viện 175``).

    Raises:
        ClinicInvalid: not a string, empty when required, too long, control characters, or
            beginning like a spreadsheet formula.
    """
    if not isinstance(raw, str):
        raise ClinicInvalid.field(field, "A text is required.")
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if required and not text:
        raise ClinicInvalid.field(field, "It may not be empty.")
    if len(text) > limit:
        raise ClinicInvalid.field(field, f"At most {limit} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise ClinicInvalid.field(field, "It contains control characters.")
    if starts_like_a_formula(text):
        raise ClinicInvalid.field(field, "It may not begin with =, +, - or @ (a spreadsheet "
                                         "would read it as a formula).")
    return text


class ClinicRegister:
    """The clinics, for one caller (scope and audit actor), with a session and a clock."""

    def __init__(self, session: Session, scope: Scope, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.scope = scope
        self.actor = actor
        self.clock = clock

    # -- administrators -------------------------------------------------------------------
    def create(self, data: Mapping[str, Any]) -> Clinic:
        """Create an accredited clinic from ``facility_code``, ``name``, ``province_code``,
        ``facility_type`` and optional ``address``.

        Raises:
            Forbidden: the caller is not an administrator.
            ClinicInvalid: a facility code that is not 5 digits, an unknown province or
                facility type, an empty or over-long name.
            FacilityCodeTaken: another clinic has the code.
        """
        self._admin_only()
        code = data.get("facility_code")
        if not isinstance(code, str) or not is_facility_code(code):
            raise ClinicInvalid.field("facility_code", "A facility code is 5 digits (0-9).")
        fields = self._checked({name: data.get(name, "" if name == "address" else None)
                                for name in CHANGEABLE})
        if self.session.scalar(select(Clinic.id).where(Clinic.facility_code == code)):
            raise FacilityCodeTaken(f"A clinic with facility code {code} exists already.",
                                    facility_code=code)
        now = self.clock()
        clinic = Clinic(facility_code=code, name_ascii=transliterate(fields["name"]),
                        accreditation="accredited", accreditation_reason="", created_at=now,
                        created_by=self.actor, updated_at=now, **fields)
        self.session.add(clinic)
        self.session.flush()
        self._audit(clinic, "clinic.create", {
            "name": clinic.name, "facility_type": clinic.facility_type})
        return clinic

    def update(self, facility_code: str, changes: Mapping[str, Any]) -> Clinic:
        """Change a clinic's name, province, facility type or address.

        Raises:
            Forbidden: the caller is not an administrator. NotFound: no such clinic.
            ClinicInvalid: as ``create``.
        """
        self._admin_only()
        clinic = self.get(facility_code)
        given = {name: changes[name] for name in CHANGEABLE if name in changes}
        fields = self._checked(given)
        changed = {name: value for name, value in fields.items()
                   if getattr(clinic, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(clinic, name, value)
            clinic.name_ascii = transliterate(clinic.name)
            clinic.updated_at = self.clock()
            self.session.flush()
            self._audit(clinic, "clinic.update", {"changed": sorted(changed)})
        return clinic

    def change_accreditation(self, facility_code: str, action: str, reason: str = "") -> Clinic:
        """``suspend``, ``reinstate`` or ``withdraw`` the clinic's accreditation, with the
        administrator's reason. Its clients' tokens stop (or start again) working at once,
        since every clinic request re-reads the accreditation.

        Raises:
            Forbidden: the caller is not an administrator. NotFound: no such clinic.
            ClinicInvalid: an unknown action or an over-long reason.
            AccreditationUnchanged: the change does not apply to the clinic's state.
        """
        self._admin_only()
        if action not in TRANSITIONS:
            raise ClinicInvalid.field("action", f"One of: {', '.join(TRANSITIONS)}.")
        reason = clean_text(reason, "reason", limit=500, required=False)
        clinic = self.get(facility_code)
        applies_to, target = TRANSITIONS[action]
        if clinic.accreditation not in applies_to:
            raise AccreditationUnchanged(
                f"The clinic {clinic.facility_code} is {clinic.accreditation}: it cannot be "
                f"{_DONE[action]}.",
                accreditation=clinic.accreditation)
        before = clinic.accreditation
        clinic.accreditation = target
        clinic.accreditation_reason = reason
        clinic.accreditation_changed_at = clinic.updated_at = self.clock()
        self.session.flush()
        self._audit(clinic, f"clinic.{action}", {"from": before, "to": target}, reason=reason)
        return clinic

    # -- staff ----------------------------------------------------------------------------
    def get(self, facility_code: str) -> Clinic:
        """A clinic by facility code, if the caller may see it.

        Raises:
            NotFound: no such clinic, or (for an officer) one in another province.
        """
        clinic = None
        if is_facility_code(facility_code):
            clinic = self.session.scalar(select(Clinic).where(
                Clinic.facility_code == facility_code))
        if clinic is None or not self._sees(clinic.province_code):
            raise NotFound("No such clinic.")
        return clinic

    def list(self, query: ClinicQuery, *, page: int = 1,
             per_page: int = 50) -> tuple[list[Clinic], int]:
        """Clinics matching ``query`` that the caller may see, by province then facility code,
        one page; with the total.

        Raises:
            ClinicInvalid: an unknown facility type or accreditation to filter by.
        """
        stmt = self._filtered(select(Clinic), query)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(Clinic.province_code, Clinic.facility_code)
                                    .limit(per_page).offset((page - 1) * per_page)).all()
        return list(rows), total

    # -- helpers --------------------------------------------------------------------------
    def _filtered(self, stmt: Select[Any], query: ClinicQuery) -> Select[Any]:
        if not self.scope.is_national:
            stmt = stmt.where(Clinic.province_code == self.scope.principal.province_code)
        if query.province_code:
            stmt = stmt.where(Clinic.province_code == query.province_code)
        if query.facility_type:
            if query.facility_type not in FACILITY_TYPES:
                raise ClinicInvalid.field("facility_type",
                                          f"One of: {', '.join(FACILITY_TYPES)}.")
            stmt = stmt.where(Clinic.facility_type == query.facility_type)
        if query.accreditation:
            if query.accreditation not in ACCREDITATIONS:
                raise ClinicInvalid.field("accreditation", f"One of: {', '.join(ACCREDITATIONS)}.")
            stmt = stmt.where(Clinic.accreditation == query.accreditation)
        if query.q and query.q.strip():
            text = query.q.strip()
            # autoescape: % and _ in the query are literal characters, not wildcards
            stmt = stmt.where(Clinic.name_ascii.contains(transliterate(text), autoescape=True)
                              | Clinic.facility_code.startswith(text, autoescape=True))
        return stmt

    def _checked(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The given changeable fields, checked and cleaned."""
        out: dict[str, Any] = {}
        if "name" in given:
            out["name"] = clean_text(given["name"], "name", limit=200, required=True)
        if "address" in given:
            out["address"] = clean_text(given["address"] or "", "address", limit=300,
                                        required=False)
        if "province_code" in given:
            province = given["province_code"]
            if not isinstance(province, str) or self.session.get(Province, province) is None:
                raise ClinicInvalid.field("province_code", f"Unknown province code "
                                                           f"{str(province)[:8]!r}.")
            out["province_code"] = province
        if "facility_type" in given:
            if given["facility_type"] not in FACILITY_TYPES:
                raise ClinicInvalid.field("facility_type",
                                          f"One of: {', '.join(FACILITY_TYPES)}.")
            out["facility_type"] = given["facility_type"]
        return out

    def _sees(self, province_code: str) -> bool:
        return self.scope.is_national or province_code == self.scope.principal.province_code

    def _admin_only(self) -> None:
        if not self.scope.is_national:
            raise Forbidden("Only administrators manage clinics.")

    def _audit(self, clinic: Clinic, action: str, details: dict[str, Any],
               reason: str = "") -> None:
        audit.record(self.session, actor=self.actor, action=action, object_type="clinic",
                     object_id=clinic.facility_code, province_code=clinic.province_code,
                     reason=reason, details=details)
