"""Demo data so that a fresh development install shows a populated product."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Role, User
from app.services import accounts

#: Development-only logins, printed by ``scripts/serve``.
DEMO_USERS = [
    {"username": "admin", "password": "demo-admin-2026", "role": Role.ADMIN,
     "full_name": "Quản trị viên Tổng Liên đoàn"},
    {"username": "officer.bn", "password": "demo-officer-2026", "role": Role.OFFICER,
     "province_code": "24", "full_name": "Trần Văn Minh (LĐLĐ Bắc Ninh)"},
    {"username": "officer.hcm", "password": "demo-officer-2026", "role": Role.OFFICER,
     "province_code": "79", "full_name": "Lê Thị Hồng (LĐLĐ TP. Hồ Chí Minh)"},
]


@dataclass
class DemoReport:
    """What the demo loader created and the logins to try."""

    created: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary."""
        out = [f"demo: created {item}" for item in self.created] or ["demo: nothing to add"]
        out.append("demo logins (development only):")
        out.extend(f"  {role:8} {user:14} {password}" for role, user, password in self.logins)
        return out


def load(session: Session) -> DemoReport:
    """Add whatever demo data is missing; safe to run again."""
    report = DemoReport()
    for spec in DEMO_USERS:
        role = spec["role"]
        assert isinstance(role, Role)
        exists = session.scalar(select(User.id).where(User.username == spec["username"]))
        if exists is None:
            accounts.create_user(session, username=str(spec["username"]),
                                 password=str(spec["password"]), role=role,
                                 province_code=spec.get("province_code"),  # type: ignore[arg-type]
                                 full_name=str(spec["full_name"]))
            report.created.append(f"{role.value} {spec['username']}")
        report.logins.append((role.value, str(spec["username"]), str(spec["password"])))
    return report
