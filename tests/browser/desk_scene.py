"""What the clinic-desk browser tests prepare through the services: demo members' cards (their
UC1 text and real QR PNGs), a phone's presence code, a revoked card with a newer one, a
suspended card, and a fake camera's video showing several codes in turn."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import select

#: The demo member with an account, a PIN and consent (app/services/demo.py).
DEMO_MEMBER = "2400000001"
DEMO_PIN = "258036"


@dataclass(frozen=True)
class DemoCard:
    """A demo member's current card."""

    member_number: str
    full_name: str
    serial: str
    text: str


def _desk(app: Any, session: Any) -> Any:
    from app.composition import card_desk_for

    return card_desk_for(app, session, "user:0")


def demo_cards(app: Any, count: int, *, skip: tuple[str, ...] = ()) -> list[DemoCard]:
    """``count`` demo members' current cards (active members with an active card, in member
    number order), leaving out the member numbers in ``skip``."""
    from app.extensions import db
    from app.models import Card, CardStatus, Member, MemberStatus

    with app.app_context(), db.new_session(app) as session:
        rows = session.execute(
            select(Member, Card).join(Card, Card.member_id == Member.id)
            .where(Card.status == CardStatus.ACTIVE, Member.status == MemberStatus.ACTIVE,
                   Member.member_number.not_in(skip))
            .order_by(Member.member_number).limit(count)).all()
        desk = _desk(app, session)
        return [DemoCard(m.member_number, m.full_name, c.serial, desk.text(c)) for m, c in rows]


def card_of(app: Any, member_number: str) -> DemoCard:
    """The member's current card, usable: one another test of the shared demo site suspended
    is reinstated first (the office console's test suspends this member's card)."""
    from app.extensions import db
    from app.models import CardStatus, Member
    from app.services.access import member_accounts
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    with app.app_context(), db.new_session(app, write=True) as session:
        member = session.scalar(select(Member).where(Member.member_number == member_number))
        assert member is not None
        card = member_accounts.current_card(session, member.id)
        desk = _desk(app, session)
        if card.status == CardStatus.SUSPENDED:
            card = desk.reinstate(Scope(Principal("user", 0, "admin")), card.serial)
            session.commit()
        return DemoCard(member.member_number, member.full_name, card.serial, desk.text(card))


def presence_code(app: Any, serial: str) -> str:
    """A fresh presence code for the card, as the member's phone shows it."""
    from app.composition import presence_tokens_for

    return presence_tokens_for(app.config).issue(serial).token


def reissue(app: Any, card: DemoCard) -> DemoCard:
    """A newer card for the member (the old one superseded: revoked)."""
    from app.extensions import db
    from app.models import Member
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    with app.app_context(), db.new_session(app, write=True) as session:
        member = session.scalar(select(Member).where(Member.member_number ==
                                                     card.member_number))
        assert member is not None
        desk = _desk(app, session)
        issued = desk.issue(Scope(Principal("user", 0, "admin")), member.id)
        text = desk.text(issued.card)
        session.commit()
        return DemoCard(card.member_number, card.full_name, issued.card.serial, text)


def suspend(app: Any, card: DemoCard, reason: str = "investigation") -> None:
    """Suspend the card (the office's reason: ``reason``)."""
    from app.extensions import db
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    with app.app_context(), db.new_session(app, write=True) as session:
        _desk(app, session).suspend(Scope(Principal("user", 0, "admin")), card.serial, reason)
        session.commit()


def qr_png(text: str, scale: int = 4) -> bytes:
    """The code as a real QR PNG (the service's own encoder: EC level M, quiet zone 4)."""
    from cards.qr import make_qr

    return make_qr(text).png(scale=scale)


def as_video(pngs: list[bytes], path: Path, *, seconds_each: int = 3, fps: int = 2,
             size: tuple[int, int] = (640, 480)) -> Path:
    """The images in turn, each centred on a white frame for ``seconds_each`` seconds, as a
    YUV4MPEG2 (4:2:0) video that Chromium's fake camera plays in a loop."""
    from PIL import Image

    width, height = size
    half = (width // 2, height // 2)
    frames = []
    for png in pngs:
        image = Image.open(BytesIO(png)).convert("RGB")
        image.thumbnail((width - 40, height - 40))
        frame = Image.new("RGB", size, "white")
        frame.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
        y, cb, cr = frame.convert("YCbCr").split()
        planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
        frames.extend([b"FRAME\n" + planes] * (seconds_each * fps))
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
                     + b"".join(frames))
    return path
