"""Who a clinic caller is: the clinic behind an API client, checked active on every use, and
the directory consent grantees are checked against."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Clinic, ClinicClient
from app.services.errors import ClinicClientRevoked, ClinicNotAccredited


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


def clinic_identity(session: Session, client: str | int, *,
                    token_version: int | None = None) -> ClinicIdentity:
    """The identity of an active clinic API client, whatever its clinic's accreditation (so a
    refusal can still name the clinic): by public client id (``str``) or primary key (``int``);
    with ``token_version``, the token's version must be the client's current one.

    Raises:
        ClinicClientRevoked: no such client, a disabled one, or a token of an older version.
    """
    if isinstance(client, int):
        row = session.get(ClinicClient, client)
    else:
        row = session.scalar(select(ClinicClient).where(ClinicClient.client_id == client))
    if row is None or not row.active:
        raise ClinicClientRevoked("The clinic API client is unknown or disabled.")
    if token_version is not None and row.token_version != token_version:
        raise ClinicClientRevoked("The access token has been revoked.")
    clinic = session.get(Clinic, row.clinic_id)
    assert clinic is not None  # a foreign key
    return identity_of(clinic, row)


def active_clinic(session: Session, client: str | int, *,
                  token_version: int | None = None) -> ClinicIdentity:
    """The identity of an active API client of an accredited clinic, read now (a suspension
    or a disabling applies to the very next request): by public client id (``str``) or
    primary key (``int``), as ``clinic_identity``.

    Raises:
        ClinicClientRevoked: no such client, a disabled one, or a revoked token.
        ClinicNotAccredited: the clinic is suspended or its accreditation withdrawn.
    """
    identity = clinic_identity(session, client, token_version=token_version)
    if not identity.accredited:
        clinic = session.get(Clinic, identity.clinic_id)
        state = clinic.accreditation if clinic is not None else "withdrawn"
        raise ClinicNotAccredited(f"The clinic {identity.facility_code} is {state}: it may "
                                  "verify and pull nothing.", accreditation=state)
    return identity


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
