"""Helpers for the access-log tests: a settable clock and access records for a member."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services.access_events.log import AccessRecord

NOW = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)


class Clock:
    """A settable clock that moves on by ``step`` on every reading."""

    def __init__(self, now: datetime = NOW, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def record_for(member: Any, kind: str = "pull", **fields: Any) -> AccessRecord:
    """An access record about ``member`` by the industrial-park clinic 27001."""
    base = AccessRecord(
        kind=kind, member_id=member.id if member is not None else None,
        province_code=member.province_code if member is not None else None,
        card_serial="UC-TEST-0001", clinic_code="27001",
        clinic_name="Phòng khám KCN Quế Võ", client_id="clinic-27001-app",
        device_id="scanner-1", practitioner="BS. Trần Văn An", purpose="treatment",
        released=("allergies", "emergency-core"), denied={"medications": "no-consent"},
        outcome="released")
    if kind == "emergency":
        base = replace(base, purpose="treatment", released=("emergency-core",), denied={},
                       emergency_reason="unconscious",
                       emergency_text="Bệnh nhân bất tỉnh tại xưởng, cần biết dị ứng.")
    return replace(base, **fields)


def audit_keys(app: Any) -> dict[str, Any]:
    """What ``verify`` checks the texts and checkpoint signatures with: the app's keys."""
    from app.composition import checkpoint_key, cipher_for_config

    return {"cipher": cipher_for_config(app.config), "key": checkpoint_key(app.config)}


def seal(app: Any, session: Any, actor: str = "test", **options: Any) -> Any:
    """A checkpoint signed with the app's checkpoint key."""
    from app.composition import checkpoint_key
    from app.services.access_events.checkpoints import make_checkpoint

    return make_checkpoint(session, actor=actor, key=checkpoint_key(app.config), **options)
