"""A clinic's scanner devices: administrators register, list and disable them; a clinic's
system names the device a scan came from, and only an active device of that clinic counts."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import Clinic, ScannerDevice
from app.services import audit
from app.services.clinics.register import clean_text
from app.services.errors import (
    AlreadyDisabled,
    ClinicInvalid,
    ClinicNotAccredited,
    DeviceIdTaken,
    NotFound,
)

#: A device id: what the clinic's system calls the scanner (a serial number, an asset tag).
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class ScannerDevices:
    """A clinic's scanner devices, managed by one actor, with a session and a clock."""

    def __init__(self, session: Session, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock

    def register(self, clinic: Clinic, label: str = "",
                 device_id: str | None = None) -> ScannerDevice:
        """Register an active scanner of ``clinic`` under ``device_id`` (made up when none is
        given).

        Raises:
            ClinicInvalid: a malformed device id or an over-long label.
            DeviceIdTaken: the clinic has a device with this id already.
            ClinicNotAccredited: the clinic's accreditation is withdrawn.
        """
        label = clean_text(label, "label", limit=200, required=False)
        if device_id is None:
            device_id = f"scanner-{secrets.token_hex(4)}"
        if not DEVICE_ID.fullmatch(device_id):
            raise ClinicInvalid.field("device_id", "1-64 characters: letters, digits and . _ : "
                                                   "- (starting with a letter or digit).")
        if clinic.accreditation == "withdrawn":
            raise ClinicNotAccredited(f"The clinic {clinic.facility_code} is withdrawn: it "
                                      "registers no device.", accreditation="withdrawn")
        if self._find(clinic, device_id) is not None:
            raise DeviceIdTaken(f"The clinic has a device {device_id!r} already.",
                                device_id=device_id)
        device = ScannerDevice(clinic_id=clinic.id, device_id=device_id, label=label,
                               status="active", created_at=self.clock(), created_by=self.actor)
        self.session.add(device)
        self.session.flush()
        self._audit(clinic, device, "scanner-device.register", {"label": label})
        return device

    def list(self, clinic: Clinic) -> list[ScannerDevice]:
        """The clinic's devices, oldest first."""
        return list(self.session.scalars(select(ScannerDevice).where(
            ScannerDevice.clinic_id == clinic.id).order_by(ScannerDevice.id)))

    def get(self, clinic: Clinic, device_id: str) -> ScannerDevice:
        """One device of the clinic.

        Raises:
            NotFound: the clinic has no such device.
        """
        device = self._find(clinic, device_id)
        if device is None:
            raise NotFound("The clinic has no such scanner device.")
        return device

    def disable(self, clinic: Clinic, device: ScannerDevice) -> ScannerDevice:
        """Disable the device for good: scans it names are refused from now on.

        Raises:
            AlreadyDisabled: it was disabled already.
        """
        if not device.active:
            raise AlreadyDisabled(f"The device {device.device_id} is disabled already.")
        device.status = "disabled"
        device.disabled_at = self.clock()
        self.session.flush()
        self._audit(clinic, device, "scanner-device.disable")
        return device

    def _find(self, clinic: Clinic, device_id: str) -> ScannerDevice | None:
        return self.session.scalar(select(ScannerDevice).where(
            ScannerDevice.clinic_id == clinic.id, ScannerDevice.device_id == device_id))

    def _audit(self, clinic: Clinic, device: ScannerDevice, action: str,
               details: dict[str, object] | None = None) -> None:
        audit.record(self.session, actor=self.actor, action=action,
                     object_type="scanner-device", object_id=device.id,
                     province_code=clinic.province_code,
                     details={"device_id": device.device_id,
                              "facility_code": clinic.facility_code, **(details or {})})


def active_device(session: Session, clinic_id: int, device_id: str) -> ScannerDevice | None:
    """The clinic's active scanner device with this id (None: unknown or disabled)."""
    if not DEVICE_ID.fullmatch(device_id):
        return None
    device = session.scalar(select(ScannerDevice).where(
        ScannerDevice.clinic_id == clinic_id, ScannerDevice.device_id == device_id))
    return device if device is not None and device.active else None
