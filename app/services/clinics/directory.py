"""Who a clinic caller is: the clinic behind an API client, checked active on every use, and
the directory consent grantees are checked against (and a member searches, by name or place,
to share with one facility)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import Clinic, ClinicClient, Province
from app.services.errors import ClinicClientRevoked, ClinicNotAccredited
from app.services.registry.identity import transliterate


@dataclass(frozen=True)
class ClinicIdentity:
    """A clinic API client and its clinic, as of one request (a snapshot: names and codes an
    access event records)."""

    clinic_id: int
    facility_code: str
    name: str
    facility_type: str
    province_code: str
    accredited: bool
    #: The client's public id (``clinic-27001-…``) and its primary key.
    client_id: str
    client_pk: int


def identity_of(clinic: Clinic, client: ClinicClient) -> ClinicIdentity:
    """The identity of ``client`` of ``clinic``."""
    return ClinicIdentity(clinic_id=clinic.id, facility_code=clinic.facility_code,
                          name=clinic.name, facility_type=clinic.facility_type,
                          province_code=clinic.province_code, accredited=clinic.accredited,
                          client_id=client.client_id, client_pk=client.id)


# ``clinic_identity``'s queries, built once (one of them runs on every clinic request): the
# columns it needs, read on the connection (no ORM entities to build for a snapshot)
_CLIENT_AND_CLINIC = (select(ClinicClient.status, ClinicClient.token_version,
                             ClinicClient.client_id, ClinicClient.id, Clinic.id,
                             Clinic.facility_code, Clinic.name, Clinic.facility_type,
                             Clinic.province_code, Clinic.accreditation)
                      .join(Clinic, Clinic.id == ClinicClient.clinic_id))
_BY_PK = _CLIENT_AND_CLINIC.where(ClinicClient.id == bindparam("client"))
_BY_CLIENT_ID = _CLIENT_AND_CLINIC.where(ClinicClient.client_id == bindparam("client"))


def clinic_identity(session: Session, client: str | int, *,
                    token_version: int | None = None) -> ClinicIdentity:
    """The identity of an active clinic API client, whatever its clinic's accreditation (so a
    refusal can still name the clinic), in one query: by public client id (``str``) or
    primary key (``int``); with ``token_version``, the token's version must be the client's
    current one.

    Raises:
        ClinicClientRevoked: no such client, a disabled one, or a token of an older version.
    """
    session.flush()  # the connection does not autoflush: see what this session wrote
    row = session.connection().execute(_BY_PK if isinstance(client, int) else _BY_CLIENT_ID,
                                       {"client": client}).first()
    if row is None or row[0] != "active":
        raise ClinicClientRevoked("The clinic API client is unknown or disabled.")
    if token_version is not None and row[1] != token_version:
        raise ClinicClientRevoked("The access token has been revoked.")
    return ClinicIdentity(clinic_id=row[4], facility_code=row[5], name=row[6],
                          facility_type=row[7], province_code=row[8],
                          accredited=row[9] == "accredited", client_id=row[2], client_pk=row[3])


def ensure_accredited(session: Session, identity: ClinicIdentity) -> ClinicIdentity:
    """``identity``, if its clinic is accredited.

    Raises:
        ClinicNotAccredited: the clinic is suspended or its accreditation withdrawn.
    """
    if not identity.accredited:
        clinic = session.get(Clinic, identity.clinic_id)
        state = clinic.accreditation if clinic is not None else "withdrawn"
        raise ClinicNotAccredited(f"The clinic {identity.facility_code} is {state}: it may "
                                  "verify and pull nothing.", accreditation=state,
                                  reason="clinic-not-accredited")
    return identity


def active_clinic(session: Session, client: str | int, *,
                  token_version: int | None = None) -> ClinicIdentity:
    """The identity of an active API client of an accredited clinic, read now (a suspension
    or a disabling applies to the very next request): by public client id (``str``) or
    primary key (``int``), as ``clinic_identity``.

    Raises:
        ClinicClientRevoked: no such client, a disabled one, or a revoked token.
        ClinicNotAccredited: the clinic is suspended or its accreditation withdrawn.
    """
    return ensure_accredited(session, clinic_identity(session, client,
                                                      token_version=token_version))


class ClinicDirectory:
    """The grantee directory of consents (``app.services.health.consent.GranteeDirectory``):
    a facility is known when a clinic has its code and its accreditation is not withdrawn
    for good (a suspended clinic may be reinstated; accreditation is checked at pull time)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def knows(self, facility_code: str) -> bool:
        """Whether a clinic (not withdrawn) has this facility code."""
        return self.session.scalar(select(Clinic.id).where(
            Clinic.facility_code == facility_code,
            Clinic.accreditation != "withdrawn")) is not None

    def listings(self, facility_codes: Iterable[str]) -> dict[str, FacilityListing]:
        """The clinics (any accreditation) of these facility codes, by code: what a member's
        page says of a facility her consent names."""
        codes = sorted(set(facility_codes))
        if not codes:
            return {}
        rows = self.session.execute(_LISTING.where(Clinic.facility_code.in_(codes)))
        return {row[0]: FacilityListing(*row) for row in rows}

    def search(self, text: str, *, limit: int = 10,
               province_first: str | None = None) -> list[FacilityListing]:
        """Accredited clinics whose name, address (commune, district, industrial park) or
        province has a word beginning with each word of ``text`` (any case, with or without
        diacritics: "que vo", "Đông Anh"), or whose facility code is ``text``; those of
        ``province_first`` first, then by name; at most ``limit``. Fewer than two letters
        find nothing."""
        words = _words(text)
        if len("".join(words)) < 2:
            return []
        found = []
        for row in self.session.execute(_LISTING.where(Clinic.accreditation == "accredited")):
            listing = FacilityListing(*row)
            haystack = _words(f"{listing.name} {listing.address} {listing.province_name}")
            if listing.facility_code == text.strip() or all(
                    any(h.startswith(w) for h in haystack) for w in words):
                found.append(listing)
        found.sort(key=lambda f: (f.province_code != province_first, _folded(f.name),
                                  f.facility_code))
        return found[:limit]


@dataclass(frozen=True)
class FacilityListing:
    """A clinic as a member finds it: code, name, kind, address and province."""

    facility_code: str
    name: str
    facility_type: str
    address: str
    province_code: str
    province_name: str
    accreditation: str


_LISTING = (select(Clinic.facility_code, Clinic.name, Clinic.facility_type, Clinic.address,
                   Clinic.province_code, Province.name, Clinic.accreditation)
            .join(Province, Province.code == Clinic.province_code))


@lru_cache(maxsize=65536)
def _folded(text: str) -> str:
    """``text`` in upper-case ASCII (names and addresses change rarely: kept)."""
    return transliterate(text)


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    """The words of ``text`` in upper-case ASCII, punctuation dropped."""
    return tuple(re.findall(r"[A-Z0-9]+", _folded(text)))
