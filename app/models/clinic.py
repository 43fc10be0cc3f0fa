"""Clinics (accredited health facilities, by facility code), their OAuth 2 API clients and
their scanner devices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base

#: A clinic's accreditation: only an ``accredited`` clinic may verify and pull; ``suspended``
#: is temporary (an administrator may reinstate it), ``withdrawn`` is final.
ACCREDITATIONS = ("accredited", "suspended", "withdrawn")
#: The state of an API client or a scanner device; ``disabled`` is final.
CLIENT_STATES = ("active", "disabled")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Clinic(Base):
    """A health facility by its 5-digit facility code (as in health-insurance data): name,
    province, facility type (``app.facility_types``) and accreditation."""

    __tablename__ = "clinics"
    __table_args__ = (
        CheckConstraint(one_of("accreditation", ACCREDITATIONS), name="accreditation"),
        Index("ix_clinics_province_code_name_ascii", "province_code", "name_ascii"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The name in upper-case ASCII, for search ignoring case and diacritics.
    name_ascii: Mapped[str] = mapped_column(String(200))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    facility_type: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300), default="")
    accreditation: Mapped[str] = mapped_column(String(16), default="accredited")
    #: Why the accreditation last changed (the administrator's words), and when.
    accreditation_reason: Mapped[str] = mapped_column(String(500), default="")
    accreditation_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

    @property
    def accredited(self) -> bool:
        """Whether the clinic may verify cards and pull records now."""
        return self.accreditation == "accredited"


class ClinicClient(Base):
    """A clinic's OAuth 2 client (client credentials, RFC 6749 §4.4). Its secret is kept only
    as a keyed hash (HMAC with the lookup key): it is 256 random bits, so a slow hash would
    add cost and no strength."""

    __tablename__ = "clinic_clients"
    __table_args__ = (CheckConstraint(one_of("status", CLIENT_STATES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: Raised by a rotation or disabling: every token issued before stops working.
    token_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        """Whether the client may get and use tokens."""
        return self.status == "active"


class ScannerDevice(Base):
    """A clinic's scanner (a phone, a desk reader): ``device_id`` is unique within the clinic
    and named by the clinic's system when it scans."""

    __tablename__ = "scanner_devices"
    __table_args__ = (
        CheckConstraint(one_of("status", CLIENT_STATES), name="status"),
        UniqueConstraint("clinic_id", "device_id", name="uq_scanner_devices_clinic_id_device_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        """Whether scans from this device are accepted."""
        return self.status == "active"
