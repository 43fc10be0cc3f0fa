"""What the member-portal and clinic-scanner browser tests prepare through the services: a
demo member's new activation code (as the office gives one), the card image the service
renders, and that image as a video file for Chromium's fake camera."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

from sqlalchemy import select

#: Demo person 1 (app/services/demo.py): a health summary is linked, no account yet.
MEMBER_NAME = "Trần Văn Hùng"
#: The demo clinic in Bắc Ninh and its demo API client (printed by ``demo load``).
CLINIC_CODE = "27015"


@dataclass(frozen=True)
class Letter:
    """What the card letter tells the member."""

    member_number: str
    birth_date: date
    activation_code: str
    card_serial: str


def new_letter(app: Any) -> Letter:
    """A new activation code for the demo member's current card, made by the card desk."""
    from app.composition import card_desk_for
    from app.extensions import db
    from app.models import Member
    from app.services.access import member_accounts
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    with app.app_context(), db.new_session(app, write=True) as session:
        member = session.scalar(select(Member).where(Member.full_name == MEMBER_NAME))
        assert member is not None
        card = member_accounts.current_card(session, member.id)
        desk = card_desk_for(app, session, "user:0")
        code = desk.new_activation_code(Scope(Principal("user", 0, "admin")), card.serial)
        session.commit()
        return Letter(member.member_number, member.birth_date, code, card.serial)


def withdraw_all(app: Any, member_number: str) -> None:
    """Every consent the member gave before (another test's, on the shared demo site)
    withdrawn, so a test starts from "shares nothing"."""
    from app.composition import consent_service_for
    from app.extensions import db
    from app.models import Member
    from app.services.health.consent import Evidence

    with app.app_context(), db.new_session(app, write=True) as session:
        member = session.scalar(select(Member).where(Member.member_number == member_number))
        assert member is not None
        service = consent_service_for(app, session, f"member:{member.id}")
        evidence = Evidence(method="web", actor=f"member:{member.id}")
        for state in service.current(member.id):
            service.withdraw(member.id, state.current.consent_id, evidence)
        session.commit()


def card_png(app: Any, serial: str) -> bytes:
    """The front of the card as the service renders it for printing."""
    from app.composition import card_desk_for
    from app.extensions import db
    from app.models import Card
    from app.services.issuing import card_files

    with app.app_context(), db.new_session(app) as session:
        card = session.scalar(select(Card).where(Card.serial == serial))
        assert card is not None
        return card_files.render(card_desk_for(app, session, "user:0"), card,
                                 "card.png").body


def as_y4m(png: bytes, path: Path, size: tuple[int, int] = (1280, 720)) -> Path:
    """The image centred on a white frame, as a one-frame YUV4MPEG2 (4:2:0) video that
    Chromium's fake camera plays in a loop."""
    from PIL import Image

    width, height = size
    card = Image.open(BytesIO(png)).convert("RGB")
    card.thumbnail((width - 80, height - 80))
    frame = Image.new("RGB", size, "white")
    frame.paste(card, ((width - card.width) // 2, (height - card.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
                     + b"FRAME\n" + planes)
    return path
