"""Scan intake: UC1 text, NFC NDEF messages and photos, each bad input a specific error."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from app.services.clinic_flow import scan
from app.services.clinic_flow.scan import ScanLimits
from app.services.errors import ImageDecodeTimeout, ImageTooLarge, ScanInvalid
from app.services.issuing import card_files
from cards import testing
from cards.nfc import NdefRecord, encode_ndef, make_ndef, uri_record
from cards.qr import make_qr
from tests.app.cards_helpers import desk, office
from tests.app.clinic_flow_helpers import image_bytes, photographed, png_claiming

TEXT = "UC1:" + "6BF" * 40  # any text: scan intake does not verify


@pytest.fixture
def card_png(app, session, factory) -> tuple[str, bytes]:
    """A card issued by the service, its text, and its front rendered by the project."""
    place = office(factory)
    d = desk(app, session)
    card = d.issue_for(place["yen"]).card
    session.commit()
    return d.text(card), card_files.render(d, card, "card.png").body


def test_text_is_taken_exactly_as_scanned() -> None:
    # docs/uc1.md §1: nothing trimmed (a space is a base45 digit); the card library refuses
    assert scan.from_text(f"  {TEXT}\n") == f"  {TEXT}\n"


def test_an_ndef_message_gives_its_uc1_record() -> None:
    message = make_ndef(TEXT, "https://unioncard.example/v").message
    assert scan.from_ndef(base64.b64encode(message).decode()) == TEXT
    assert scan.from_ndef(base64.urlsafe_b64encode(message).decode().rstrip("=")) == TEXT


@pytest.mark.parametrize(("value", "reason"), [
    ("not base64 at all!", "bad-base64"),
    (base64.b64encode(b"\x00\x01garbage").decode(), "bad-ndef"),
    ("", "bad-ndef"),
    (base64.b64encode(encode_ndef([uri_record("https://x.example")])).decode(),
     "no-uc1-record"),
    (base64.b64encode(b"\xd1" * 9000).decode(), "ndef-too-large"),
])
def test_ndef_that_is_not_a_cards_is_refused_with_its_reason(value: str, reason: str) -> None:
    with pytest.raises(ScanInvalid) as caught:
        scan.from_ndef(value)
    assert caught.value.extra["reason"] == reason


def test_a_non_ascii_uc1_record_is_bad_ndef() -> None:
    record = NdefRecord(2, b"application/vnd.unioncard.uc1", "UC1:ý".encode())
    with pytest.raises(ScanInvalid) as caught:
        scan.from_ndef(base64.b64encode(encode_ndef([record])).decode())
    assert caught.value.extra["reason"] == "bad-ndef"


def test_a_rendered_card_and_photographed_copies_read(card_png) -> None:
    text, png = card_png
    assert scan.from_photo(png, client="test") == text
    for variant in (photographed(png), photographed(png, angle=-12, blur=1.4, quality=55),
                    photographed(png, angle=90, blur=0.6, quality=80, scale=0.6)):
        assert scan.from_photo(variant, client="test") == text
    webp = image_bytes(Image.open(io.BytesIO(png)), "WEBP", quality=80)
    assert scan.from_photo(webp, client="test") == text


def test_a_phone_screen_qr_reads() -> None:
    assert scan.from_photo(make_qr(testing.random_uc1_text(300)).png(scale=4), client="test") \
        == testing.random_uc1_text(300)


@pytest.mark.parametrize(("data", "reason"), [
    (b"hello, not an image", "not-an-image"),
    (image_bytes(Image.new("RGB", (40, 40), "white"), "GIF"), "not-an-image"),
    (image_bytes(Image.new("RGB", (800, 600), (200, 180, 160)), "JPEG"), "no-code-found"),
])
def test_bad_photos_are_refused_with_their_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ScanInvalid) as caught:
        scan.from_photo(data, client="test")
    assert caught.value.extra["reason"] == reason


def test_a_truncated_photo_is_refused() -> None:
    png = make_qr(TEXT).png()
    with pytest.raises(ScanInvalid) as caught:
        scan.from_photo(png[: len(png) // 2], client="test")
    assert caught.value.extra["reason"] in ("bad-image", "not-an-image")


def test_a_100_megapixel_png_is_refused_from_its_header() -> None:
    with pytest.raises(ImageTooLarge) as caught:
        scan.from_photo(png_claiming(10_000, 10_000), client="test")
    assert caught.value.extra["reason"] == "too-many-pixels"
    with pytest.raises(ImageTooLarge):  # beyond Pillow's own bomb limit too
        scan.from_photo(png_claiming(20_000, 20_000), client="test")


def test_bytes_and_decode_time_are_bounded(card_png) -> None:
    _text, png = card_png
    with pytest.raises(ImageTooLarge) as caught:
        scan.from_photo(png, ScanLimits(max_bytes=len(png) - 1), client="test")
    assert caught.value.extra["reason"] == "too-many-bytes"
    with pytest.raises(ImageDecodeTimeout):
        scan.from_photo(photographed(png), ScanLimits(timeout_seconds=0.000_001), client="test")
