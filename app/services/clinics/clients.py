"""Clinic API clients (OAuth 2 client credentials, RFC 6749 §4.4): administrators create,
list, rotate and disable them; the token endpoint authenticates them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Clinic, ClinicClient
from app.services import audit
from app.services.access import client_secrets
from app.services.access.client_secrets import secret_matches
from app.services.access.tokens import Principal
from app.services.errors import (
    AlreadyDisabled,
    ClinicInvalid,
    ClinicNotAccredited,
    InvalidClient,
    NotFound,
)

SECRET_CONTEXT = "clinic_client.secret"
#: Every clinic client id starts so (the token endpoint tells clinic clients from feeds by it).
CLIENT_ID_PREFIX = "clinic-"
#: The role a clinic client's token carries (its subject is ``clinic:<client pk>``).
CLINIC_ROLE = "clinic"
#: A preset secret (the demo's) is at least this long.
MIN_PRESET_SECRET = 20


@dataclass(frozen=True)
class ClinicCredentials:
    """A clinic API client and its secret as shown once, at creation or rotation."""

    client: ClinicClient
    clinic: Clinic
    client_secret: str


def secret_hash(cipher: DataCipher, secret: str) -> str:
    """The keyed hash a clinic client's secret is kept as."""
    return client_secrets.secret_hash(cipher, SECRET_CONTEXT, secret)


def principal(client: ClinicClient) -> Principal:
    """The token subject of a clinic API client (``clinic:<client pk>``)."""
    return Principal(kind="clinic", id=client.id, role=CLINIC_ROLE,
                     token_version=client.token_version)


def is_clinic_client_id(client_id: str) -> bool:
    """Whether a client id names a clinic client (not a health-record feed)."""
    return client_id.startswith(CLIENT_ID_PREFIX)


class ClinicClients:
    """A clinic's API clients, managed by one actor, with a session, a cipher and a clock."""

    def __init__(self, session: Session, cipher: DataCipher, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.actor = actor
        self.clock = clock

    def create(self, clinic: Clinic, label: str = "", *,
               preset: tuple[str, str] | None = None) -> ClinicCredentials:
        """Create an active client of ``clinic``; its secret is shown only in the answer.
        ``preset`` (client id, secret) is for the demo data only, whose login must be stable.

        Raises:
            ClinicInvalid: a label over 200 characters; a preset id without the prefix or a
                preset secret shorter than 20 characters.
            ClinicNotAccredited: the clinic's accreditation is withdrawn.
        """
        label = label.strip()
        if len(label) > 200:
            raise ClinicInvalid.field("label", "A label is at most 200 characters.")
        if clinic.accreditation == "withdrawn":
            raise ClinicNotAccredited(f"The clinic {clinic.facility_code} is withdrawn: it "
                                      "gets no API client.", accreditation="withdrawn")
        if preset is None:
            client_id = f"{CLIENT_ID_PREFIX}{clinic.facility_code}-{secrets.token_hex(6)}"
            secret = secrets.token_urlsafe(32)
        else:
            client_id, secret = preset
            if not is_clinic_client_id(client_id) or len(client_id) > 64:
                raise ClinicInvalid.field("client_id", f"Starts with {CLIENT_ID_PREFIX!r}.")
            if len(secret) < MIN_PRESET_SECRET:
                raise ClinicInvalid.field("client_secret", "A secret is 20 characters or more.")
        client = ClinicClient(clinic_id=clinic.id, client_id=client_id, label=label,
                              secret_hash=secret_hash(self.cipher, secret), status="active",
                              token_version=0, created_at=self.clock(), created_by=self.actor)
        self.session.add(client)
        self.session.flush()
        self._audit(clinic, client, "clinic-client.create", {"label": label})
        return ClinicCredentials(client, clinic, secret)

    def list(self, clinic: Clinic) -> list[ClinicClient]:
        """The clinic's clients, oldest first (never their secrets)."""
        return list(self.session.scalars(select(ClinicClient).where(
            ClinicClient.clinic_id == clinic.id).order_by(ClinicClient.id)))

    def get(self, clinic: Clinic, client_id: str) -> ClinicClient:
        """One client of the clinic by its public client id.

        Raises:
            NotFound: the clinic has no such client.
        """
        client = self.session.scalar(select(ClinicClient).where(
            ClinicClient.clinic_id == clinic.id, ClinicClient.client_id == client_id))
        if client is None:
            raise NotFound("The clinic has no such API client.")
        return client

    def find(self, client_id: str) -> tuple[Clinic, ClinicClient]:
        """A client by its public client id, with its clinic.

        Raises:
            NotFound: no such client.
        """
        client = self.session.scalar(select(ClinicClient).where(
            ClinicClient.client_id == client_id))
        if client is None:
            raise NotFound("No such clinic API client.")
        clinic = self.session.get(Clinic, client.clinic_id)
        assert clinic is not None  # a foreign key
        return clinic, client

    def rotate_secret(self, clinic: Clinic, client: ClinicClient) -> ClinicCredentials:
        """Give the client a new secret (shown only here); the old one and every token issued
        with it stop working at once.

        Raises:
            AlreadyDisabled: the client is disabled (disabling is final).
        """
        if not client.active:
            raise AlreadyDisabled(f"The client {client.client_id} is disabled; create a new "
                                  "one.")
        secret = secrets.token_urlsafe(32)
        client.secret_hash = secret_hash(self.cipher, secret)
        client.token_version += 1
        client.rotated_at = self.clock()
        self.session.flush()
        self._audit(clinic, client, "clinic-client.rotate-secret")
        return ClinicCredentials(client, clinic, secret)

    def disable(self, clinic: Clinic, client: ClinicClient) -> ClinicClient:
        """Disable the client for good: it gets no token and its tokens stop working at once.

        Raises:
            AlreadyDisabled: it was disabled already.
        """
        if not client.active:
            raise AlreadyDisabled(f"The client {client.client_id} is disabled already.")
        client.status = "disabled"
        client.token_version += 1
        client.disabled_at = self.clock()
        self.session.flush()
        self._audit(clinic, client, "clinic-client.disable")
        return client

    def _audit(self, clinic: Clinic, client: ClinicClient, action: str,
               details: dict[str, object] | None = None) -> None:
        audit.record(self.session, actor=self.actor, action=action,
                     object_type="clinic-client", object_id=client.id,
                     province_code=clinic.province_code,
                     details={"client_id": client.client_id,
                              "facility_code": clinic.facility_code, **(details or {})})


def authenticate(session: Session, cipher: DataCipher, client_id: str,
                 client_secret: str) -> ClinicClient:
    """The active client with this id and secret (compared in constant time), of an
    accredited clinic.

    Raises:
        InvalidClient: no such client, a wrong secret, or a disabled client.
        ClinicNotAccredited: right credentials, but the clinic is suspended or withdrawn
            (OAuth 2 ``unauthorized_client``).
    """
    client = None
    if 0 < len(client_id) <= 64:
        client = session.scalar(select(ClinicClient).where(ClinicClient.client_id == client_id))
    stored = client.secret_hash if client is not None else None
    if not secret_matches(cipher, SECRET_CONTEXT, stored, client_secret) or client is None \
            or not client.active:
        raise InvalidClient()
    clinic = session.get(Clinic, client.clinic_id)
    assert clinic is not None  # a foreign key
    if not clinic.accredited:
        raise ClinicNotAccredited(f"The clinic {clinic.facility_code} is "
                                  f"{clinic.accreditation}: it gets no token.",
                                  accreditation=clinic.accreditation,
                                  error="unauthorized_client")
    return client



def revoke_tokens(session: Session, client_pk: int) -> None:
    """End every token issued to a clinic client so far (logout; its secret stays valid).

    Raises:
        NotFound: no such client.
    """
    client = session.get(ClinicClient, client_pk)
    if client is None:
        raise NotFound("No such clinic API client.")
    client.token_version += 1
    session.flush()
