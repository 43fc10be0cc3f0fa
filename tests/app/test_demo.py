"""Demo data: populated, valid, and idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from app.config import decode_data_key
from app.crypto import DataCipher
from app.models import Member, Union, User
from app.services import demo
from tests.conftest import TEST_CONFIG


def test_demo_load_is_populated_and_idempotent(session) -> None:
    cipher = DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))
    first = demo.load(session, cipher)
    session.commit()
    assert "50 members" in first.created and "5 grassroots unions" in first.created
    counts = (session.scalar(select(func.count()).select_from(Member)),
              session.scalar(select(func.count()).select_from(Union)),
              session.scalar(select(func.count()).select_from(User)))
    again = demo.load(session, cipher)
    session.commit()
    assert again.created == []
    assert counts == (session.scalar(select(func.count()).select_from(Member)),
                      session.scalar(select(func.count()).select_from(Union)),
                      session.scalar(select(func.count()).select_from(User)))
    yen = session.scalar(select(Member).where(Member.name_ascii == "NGUYEN THI KIM YEN"))
    assert yen is not None and yen.union_code == "CDCS-24-QUEVO1"
    parks = {u.industrial_park for u in session.scalars(
        select(Union).where(Union.province_code == "24"))}
    assert "KCN Quế Võ" in parks
    assert any("officer.bn" in login for login in first.lines())


def test_demo_cards_go_to_demo_members_only(app, session, factory) -> None:
    from app.models import Card
    from tests.app.cards_helpers import desk

    real = factory.member(factory.union("CDCS-24-REAL", "24"))
    cipher = DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))
    report = demo.load(session, cipher, desk(app, session))
    session.commit()
    assert "50 cards" in report.created
    holders = set(session.scalars(select(Card.member_id)))
    assert real.id not in holders and len(holders) == 50


def test_demo_health_summaries_and_the_demo_members_consent(app, session) -> None:
    from app.models import ConsentVersion, HealthLink, HealthRecord, MemberAccount
    from app.services.health.consent import released_sections
    from app.services.health.store import HealthStore
    from app.services.health.summary import HealthSummary
    from tests.app.cards_helpers import desk

    cipher = DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))
    first = demo.load(session, cipher, desk(app, session))
    session.commit()
    assert "4 health summaries" in first.created
    store = HealthStore(session, cipher, actor="test")
    people = {m.full_name: m for m in session.scalars(select(Member))}
    for name, health_id in (("Nguyễn Thị Kim Yến", "7412345678"), ("Trần Văn Hùng", "7923456789"),
                            ("Lê Thị Hoa", "2734567890"), ("Phạm Đức Anh", "7945678901")):
        member = people[name]
        assert store.health_id(member.id) == health_id
        document = store.load(member.id)
        assert document is not None
        summary = HealthSummary.from_document(document)
        assert summary.health_id == health_id
        # the register and the health record agree about who this is
        assert (member.full_name, member.birth_date.isoformat()) == (summary.patient.name,
                                                                     summary.patient.birth_date)
    account = session.scalar(select(MemberAccount))
    assert account is not None and account.member_id == people["Nguyễn Thị Kim Yến"].id
    assert people["Nguyễn Thị Kim Yến"].member_number == "2400000001"
    consents = list(session.scalars(select(ConsentVersion)))
    assert sorted(v.scope for v in consents) == ["allergies", "emergency-core"]
    assert {(v.member_id, v.grantee_kind, v.purpose) for v in consents} == {
        (account.member_id, "all-accredited", "treatment")}
    decision = released_sections(session, account.member_id, "27001", "provincial-hospital",
                                 "treatment", max(v.starts_at for v in consents))
    assert set(decision.released) == {"allergies", "emergency-core"}

    counts = [session.scalar(select(func.count()).select_from(t))
              for t in (HealthLink, HealthRecord, ConsentVersion)]
    again = demo.load(session, cipher, desk(app, session))
    session.commit()
    assert again.created == []
    assert counts == [session.scalar(select(func.count()).select_from(t))
                      for t in (HealthLink, HealthRecord, ConsentVersion)]


def test_no_consent_without_the_demo_members_account(session) -> None:
    from app.models import ConsentVersion, HealthRecord

    cipher = DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))
    report = demo.load(session, cipher)  # no card desk: no cards, no member account
    session.commit()
    assert "4 health summaries" in report.created
    assert session.scalar(select(func.count()).select_from(HealthRecord)) == 4
    assert session.scalar(select(func.count()).select_from(ConsentVersion)) == 0
