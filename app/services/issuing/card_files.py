"""A card's downloadable files: which there are, their media types, and rendering one."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Card
from app.services.access.scope import Scope
from app.services.errors import NotFound
from app.services.issuing.issuance import CardDesk
from cards import nfc, printing, qr

#: Every file of a card, by name, with its media type.
MEDIA_TYPES: dict[str, str] = {
    "qr.png": "image/png", "qr.svg": "image/svg+xml", "card.png": "image/png",
    "card-back.png": "image/png", "card.pdf": "application/pdf",
    "nfc.ndef": "application/vnd.unioncard.ndef",
}
#: The names of a card's files, in the order they are listed.
NAMES = tuple(MEDIA_TYPES)


@dataclass(frozen=True)
class CardFile:
    """One rendered file of a card."""

    body: bytes
    media_type: str
    file_name: str


def card_file(desk: CardDesk, scope: Scope, serial: str, name: str) -> CardFile:
    """Render one file of a card in ``scope``: the QR (PNG/SVG), the printed card (PNG
    front/back, PDF) or the NDEF message of its NFC tag.

    Raises:
        NotFound: no such card in the scope, no such file name, or nothing to render.
    """
    if name not in MEDIA_TYPES:
        raise NotFound("No such file.")
    return render(desk, desk.get(scope, serial), name)


def render(desk: CardDesk, card: Card, name: str) -> CardFile:
    """Render one file of a card already checked for access (see ``card_file``).

    Raises:
        NotFound: no such file name, or nothing to render.
    """
    if name not in MEDIA_TYPES:
        raise NotFound("No such file.")
    text = desk.text(card)
    if name == "nfc.ndef":
        body = nfc.make_ndef(text, desk.settings.verify_url(card.serial)).message
    else:
        symbol = qr.make_qr(text)
        if name == "qr.png":
            body = symbol.png()
        elif name == "qr.svg":
            body = symbol.svg().encode("utf-8")
        else:
            images = printing.render_card(desk.face(card), symbol)
            body = {"card.png": images.front_png, "card-back.png": images.back_png,
                    "card.pdf": images.pdf}[name]()
    if not body:
        raise NotFound("No such file.")
    return CardFile(body, MEDIA_TYPES[name], f"{card.serial}-{name}")
