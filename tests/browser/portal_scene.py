"""What the member-portal and clinic-scanner browser tests prepare through the services: a
demo member's new activation code (as the office gives one), the card image the service
renders, and that image as a video file for Chromium's fake camera; and what they do in the
browser alike: a phone's context and page, and the activation form filled in."""

from __future__ import annotations

from collections.abc import Callable
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
#: A phone's viewport (390×844 in Chromium).
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Letter:
    """What the card letter tells the member."""

    member_number: str
    birth_date: date
    activation_code: str
    card_serial: str


def new_letter(app: Any, name: str = MEMBER_NAME) -> Letter:
    """A new activation code for the named demo person's current card (demo person 1's unless
    said), made by the card desk as the office gives one."""
    from app.composition import card_desk_for
    from app.extensions import db
    from app.models import Member
    from app.services.access import member_accounts
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    with app.app_context(), db.new_session(app, write=True) as session:
        member = session.scalar(select(Member).where(Member.full_name == name))
        assert member is not None
        card = member_accounts.current_card(session, member.id)
        desk = card_desk_for(app, session, "user:0")
        code = desk.new_activation_code(Scope(Principal("user", 0, "admin")), card.serial)
        session.commit()
        return Letter(member.member_number, member.birth_date, code, card.serial)


def phone(browser: Any, site: str, locale: str, *, expected: Callable[[Any, Any], bool],
          **options: Any) -> tuple[Any, Any, list[str]]:
    """A phone's browser context and page, and the list the page's errors are gathered in:
    its script errors, and its console errors but those ``expected(page, message)`` says the
    test causes on purpose."""
    context = browser.new_context(base_url=site, locale=locale, viewport=PHONE, is_mobile=True,
                                  has_touch=True, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not expected(page, m) else None)
    return context, page, errors


def fill_activation(page: Any, letter: Letter, password: str, pin: str,
                    pin_again: str | None = None) -> None:
    """Fill the portal's activation form (the page open) with the card letter, the password
    and the PIN, typed again as ``pin_again`` (the PIN itself unless said)."""
    page.fill("#member_number", letter.member_number)
    page.fill("#activation_code", letter.activation_code)
    page.fill("#birth_date", letter.birth_date.isoformat())
    page.fill("#password", password)
    page.fill("#pin", pin)
    page.fill("#pin_again", pin if pin_again is None else pin_again)


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
