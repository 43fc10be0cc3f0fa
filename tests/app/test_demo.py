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
