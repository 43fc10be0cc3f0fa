"""Demo data so that a fresh development install shows a populated product."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models import Card, CardStatus, Member, MemberAccount, MemberStatus, Role, Union, User
from app.models.clinic import Clinic, ClinicClient
from app.services.access import accounts, member_accounts
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.clinics.clients import ClinicClients
from app.services.clinics.devices import ScannerDevices
from app.services.clinics.register import ClinicRegister
from app.services.health.consent import ConsentService, Evidence, Grantee, add_months
from app.services.health.fhir_in import parse_bundle
from app.services.health.store import HealthStore
from app.services.issuing.issuance import CardDesk
from app.services.registry import identity
from app.services.registry.members import MemberRegistry

#: Development-only logins, printed by ``scripts/serve``.
DEMO_USERS: list[dict[str, Any]] = [
    {"username": "admin", "password": "demo-national-2026", "role": Role.ADMIN,
     "full_name": "Quản trị viên Tổng Liên đoàn"},
    {"username": "officer.bn", "password": "demo-officer-2026", "role": Role.OFFICER,
     "province_code": "24", "full_name": "Trần Văn Minh (LĐLĐ Bắc Ninh)"},
    {"username": "officer.quevo", "password": "demo-officer-2026", "role": Role.OFFICER,
     "province_code": "24", "union_code": "CDCS-24-QUEVO1",
     "full_name": "Vũ Thị Thu Hà (CĐCS Điện tử Quế Võ)"},
    {"username": "officer.hcm", "password": "demo-officer-2026", "role": Role.OFFICER,
     "province_code": "79", "full_name": "Lê Thị Hồng (LĐLĐ TP. Hồ Chí Minh)"},
]

#: Fictional grassroots unions in real industrial parks.
DEMO_UNIONS: list[dict[str, str]] = [
    {"code": "CDCS-24-QUEVO1", "province_code": "24",
     "name": "CĐCS Công ty TNHH Điện tử Quế Võ", "employer": "Công ty TNHH Điện tử Quế Võ",
     "industrial_park": "KCN Quế Võ"},
    {"code": "CDCS-24-YENPHONG", "province_code": "24",
     "name": "CĐCS Công ty TNHH May mặc Yên Phong", "employer": "Công ty TNHH May mặc Yên Phong",
     "industrial_park": "KCN Yên Phong"},
    {"code": "CDCS-79-TANTHUAN", "province_code": "79",
     "name": "CĐCS Công ty TNHH Cơ khí Tân Thuận", "employer": "Công ty TNHH Cơ khí Tân Thuận",
     "industrial_park": "KCX Tân Thuận"},
    {"code": "CDCS-01-THANGLONG", "province_code": "01",
     "name": "CĐCS Công ty CP Linh kiện Thăng Long", "employer": "Công ty CP Linh kiện Thăng Long",
     "industrial_park": "KCN Thăng Long"},
    {"code": "CDCS-31-DINHVU", "province_code": "31",
     "name": "CĐCS Công ty TNHH Thép Đình Vũ", "employer": "Công ty TNHH Thép Đình Vũ",
     "industrial_park": "KCN Đình Vũ"},
]

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = {"M": ["Văn", "Đức", "Minh", "Quang", "Hữu", "Công"],
          "F": ["Thị", "Ngọc", "Thu", "Kim", "Thanh", "Thùy"]}
GIVEN = {"M": ["An", "Bình", "Cường", "Dũng", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quân",
               "Sơn", "Tuấn", "Thắng", "Việt"],
         "F": ["Anh", "Chi", "Dung", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Ngọc",
               "Phương", "Thảo", "Trang", "Yến"]}
MEMBERS_PER_UNION = 10
#: The demo member with an account (the first demo person), development only.
DEMO_MEMBER_PASSWORD = "demo-member-2026"
DEMO_MEMBER_PIN = "258036"
_BIRTH_PROVINCES = sorted(identity.CCCD_PROVINCE_CODES)
#: The shipped fixture Bundles (app/data/fhir/) as the demo people's health summaries: the
#: demo person's index, the file, and the health ID (the fixture Patient's identifier).
DEMO_HEALTH = ((0, "yen-7412345678.json", "7412345678"),
               (1, "hung-7923456789.json", "7923456789"),
               (2, "hoa-2734567890.json", "2734567890"),
               (3, "anh-7945678901.json", "7945678901"))
#: The fixture patients who are demo people 1-3 (name, sex, birth date).
_FIXTURE_PEOPLE = (("Trần Văn Hùng", "M", date(1988, 7, 2)),
                   ("Lê Thị Hoa", "F", date(1997, 12, 5)),
                   ("Phạm Đức Anh", "M", date(1985, 1, 23)))
#: The demo member's consents: these sections, for all accredited clinics, for treatment.
DEMO_CONSENT_SCOPES = ("allergies", "emergency-core")
#: Fictional clinics near the demo industrial parks, each with one API client whose login
#: (client id, secret) is fixed for the demo and printed with the others (development only).
DEMO_CLINICS: list[dict[str, str]] = [
    {"facility_code": "27015", "name": "Phòng khám đa khoa KCN Quế Võ", "province_code": "24",
     "facility_type": "industrial-park-clinic", "address": "KCN Quế Võ, phường Phương Liễu"},
    {"facility_code": "27016", "name": "Trạm y tế KCN Yên Phong", "province_code": "24",
     "facility_type": "occupational-health-centre", "address": "KCN Yên Phong, xã Yên Trung"},
    {"facility_code": "79031", "name": "Phòng khám KCX Tân Thuận", "province_code": "79",
     "facility_type": "industrial-park-clinic", "address": "KCX Tân Thuận, phường Tân Thuận"},
    {"facility_code": "01045", "name": "Bệnh viện đa khoa Đông Anh", "province_code": "01",
     "facility_type": "district-hospital", "address": "gần KCN Thăng Long, xã Đông Anh"},
    {"facility_code": "31022", "name": "Phòng khám KCN Đình Vũ", "province_code": "31",
     "facility_type": "industrial-park-clinic", "address": "KCN Đình Vũ, phường Đông Hải"},
]


def demo_clinic_login(facility_code: str) -> tuple[str, str]:
    """The demo API client of a demo clinic: (client id, secret), development only."""
    return f"clinic-{facility_code}-demo", f"demo-clinic-{facility_code}-2026"


def demo_members() -> list[dict[str, Any]]:
    """About 50 members with realistic Vietnamese names (deterministic, so reruns add nothing)."""
    rng = random.Random(20261125)
    people: list[dict[str, Any]] = []
    for union in DEMO_UNIONS:
        for _ in range(MEMBERS_PER_UNION):
            sex = rng.choice("MFF")  # electronics and garments employ mostly women
            birth = date(rng.randint(1970, 2004), rng.randint(1, 12), rng.randint(1, 28))
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
            pid = (rng.choice(_BIRTH_PROVINCES) + identity.cccd_century_digit(birth, sex)
                   + f"{birth.year % 100:02d}" + f"{rng.randrange(10**6):06d}")
            people.append({
                "full_name": name, "birth_date": birth, "sex": sex, "personal_id": pid,
                "insurance_number": f"{rng.randrange(10**10):010d}",
                "phone": f"09{rng.randrange(10**8):08d}", "union_code": union["code"],
                "join_date": date(max(birth.year + 18, 2010), rng.randint(1, 12), 1),
            })
    first = people[0]
    first.update(full_name="Nguyễn Thị Kim Yến", sex="F", birth_date=date(1994, 3, 17),
                 personal_id="027194001234")
    for person, (name, sex, birth) in zip(people[1:], _FIXTURE_PEOPLE, strict=False):
        pid = person["personal_id"]
        person.update(full_name=name, sex=sex, birth_date=birth,
                      personal_id=pid[:3] + identity.cccd_century_digit(birth, sex)
                      + f"{birth.year % 100:02d}" + pid[6:])
    return people


@dataclass
class DemoReport:
    """What the demo loader created and the logins to try."""

    created: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    member_pin: str | None = None

    def lines(self) -> list[str]:
        """Human-readable summary."""
        out = [f"demo: created {item}" for item in self.created] or ["demo: nothing to add"]
        out.append("demo logins (development only):")
        out.extend(f"  {role:8} {user:14} {password}" for role, user, password in self.logins)
        if self.member_pin:
            out.append(f"  (the member logs in with the member number; PIN {self.member_pin})")
        if any(role == "clinic" for role, _, _ in self.logins):
            out.append("  (clinics: OAuth 2 client credentials, client id and secret, at "
                       "/api/v1/auth/token)")
        return out


def load(session: Session, cipher: DataCipher, desk: CardDesk | None = None) -> DemoReport:
    """Add whatever demo data is missing (with ``desk``: keys and a card for every active
    demo member without one, never for other members); safe to run again."""
    report = DemoReport()
    new_unions = 0
    for union_spec in DEMO_UNIONS:
        if session.scalar(select(Union.id).where(Union.code == union_spec["code"])) is None:
            session.add(Union(**union_spec))
            new_unions += 1
    session.flush()
    if new_unions:
        report.created.append(f"{new_unions} grassroots unions")
    _demo_clinics(session, cipher, report)
    for spec in DEMO_USERS:
        if session.scalar(select(User.id).where(User.username == spec["username"])) is None:
            accounts.create_user(session, username=spec["username"], password=spec["password"],
                                 role=spec["role"], province_code=spec.get("province_code"),
                                 union_code=spec.get("union_code"),
                                 full_name=spec["full_name"])
            report.created.append(f"{spec['role'].value} {spec['username']}")
        report.logins.append((spec["role"].value, spec["username"], spec["password"]))
    registry = MemberRegistry(session, cipher, actor="demo")
    national = Scope(Principal("user", 0, "admin"))
    new_members = 0
    demo_hashes: list[str] = []
    for person in demo_members():
        demo_hashes.append(registry.personal_id_hash(person["personal_id"]))
        if registry.find_by_personal_id(person["personal_id"]) is None:
            registry.create(national, person)
            new_members += 1
    if new_members:
        report.created.append(f"{new_members} members")
    if desk is not None:
        desk.keys.root_key()  # the root that signs the trust bundle, so scanners can pin it
        issued = 0
        live = select(Card.member_id).where(Card.status != CardStatus.REVOKED)
        # only the demo people: real members' cards are issued by their office, with codes
        for member in session.scalars(select(Member).where(
                Member.personal_id_hash.in_(demo_hashes),
                Member.status == MemberStatus.ACTIVE, Member.id.not_in(live))):
            desk.issue_for(member)
            issued += 1
        if issued:
            report.created.append(f"{issued} cards")
        first = registry.find_by_personal_id(demo_members()[0]["personal_id"])
        if first is not None and first.status is MemberStatus.ACTIVE:
            _demo_member_account(session, cipher, desk, national, first, report)
    linked = _demo_health(session, cipher, registry, national, report)
    first = registry.find_by_personal_id(demo_members()[0]["personal_id"])
    if first is not None and first.id in linked and session.scalar(
            select(MemberAccount.id).where(MemberAccount.member_id == first.id)) is not None:
        _demo_consents(session, first, report)
    return report


def _demo_clinics(session: Session, cipher: DataCipher, report: DemoReport) -> None:
    """Add the missing ``DEMO_CLINICS``, each with its demo API client and a desk scanner;
    their client logins go into the report."""
    register = ClinicRegister(session, Scope(Principal("user", 0, "admin")), actor="demo")
    clients = ClinicClients(session, cipher, actor="demo")
    new_clinics = new_clients = 0
    for spec in DEMO_CLINICS:
        clinic = session.scalar(select(Clinic).where(
            Clinic.facility_code == spec["facility_code"]))
        if clinic is None:
            clinic = register.create(spec)
            ScannerDevices(session, actor="demo").register(
                clinic, "Quầy tiếp đón", f"{spec['facility_code']}-DESK-01")
            new_clinics += 1
        client_id, secret = demo_clinic_login(clinic.facility_code)
        known = session.scalar(select(ClinicClient.id).where(
            ClinicClient.client_id == client_id)) is not None
        if not known and clinic.accreditation != "withdrawn":
            clients.create(clinic, "demo", preset=(client_id, secret))
            new_clients += 1
        report.logins.append(("clinic", client_id, secret))
    if new_clinics:
        report.created.append(f"{new_clinics} clinics")
    if new_clients:
        report.created.append(f"{new_clients} clinic API clients")


def _demo_health(session: Session, cipher: DataCipher, registry: MemberRegistry, scope: Scope,
                 report: DemoReport) -> set[int]:
    """Link the demo people of ``DEMO_HEALTH`` to their health IDs and store their fixture
    Bundle as their summary (unless one is stored); the ids of the members linked."""
    store = HealthStore(session, cipher, actor="demo")
    people = demo_members()
    linked: set[int] = set()
    saved = 0
    for index, file_name, health_id in DEMO_HEALTH:
        member = registry.find_by_personal_id(people[index]["personal_id"])
        if member is None:
            continue
        store.link(scope, member.id, health_id)
        linked.add(member.id)
        if store.load(member.id) is None:
            raw = resources.files("app").joinpath("data", "fhir", file_name).read_bytes()
            summary = parse_bundle(raw, health_id=health_id, feed="demo",
                                   received_at=store.clock())
            store.save(member.id, summary.to_document(), source="demo",
                       bundle_id=str(json.loads(raw).get("id", file_name)))
            saved += 1
    if saved:
        report.created.append(f"{saved} health summaries")
    return linked


def _demo_consents(session: Session, member: Member, report: DemoReport) -> None:
    """Give the demo member a 12-month consent to ``DEMO_CONSENT_SCOPES`` for all accredited
    clinics and treatment, unless they have any consent already."""
    service = ConsentService(session)
    if service.history(member.id):
        return
    evidence = Evidence(method="app", actor=f"member:{member.id}")
    for scope in DEMO_CONSENT_SCOPES:
        service.grant(member.id, scope, Grantee.all_accredited(), "treatment", evidence,
                      ends_at=add_months(service.clock(), 12))
    report.created.append(f"consents to {' and '.join(DEMO_CONSENT_SCOPES)} for member "
                          f"{member.member_number}")


def _demo_member_account(session: Session, cipher: DataCipher, desk: CardDesk, scope: Scope,
                         member: Member, report: DemoReport) -> None:
    """Activate the demo member's account through the activation service, with a new code of
    their current card, unless it has an account already."""
    has_account = session.scalar(select(MemberAccount.id)
                                 .where(MemberAccount.member_id == member.id)) is not None
    if not has_account:
        card = member_accounts.current_card(session, member.id)
        code = desk.new_activation_code(scope, card.serial)
        member_accounts.activate(session, cipher, member_accounts.Activation(
            member_number=member.member_number, activation_code=code,
            birth_date=member.birth_date, password=DEMO_MEMBER_PASSWORD, pin=DEMO_MEMBER_PIN))
        report.created.append(f"member account {member.member_number}")
    report.logins.append(("member", member.member_number, DEMO_MEMBER_PASSWORD))
    report.member_pin = DEMO_MEMBER_PIN
