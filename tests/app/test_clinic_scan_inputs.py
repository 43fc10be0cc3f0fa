"""What a clinic scans, bounded per card and per client: the per-card verify limit counts the
card once it is decoded (a photo's card too, every encoding of one card in one bucket), text
is checked exactly as scanned, photo decodes are bounded per client (how many at once, and
the pixels decoded), and the practitioner field is bounded like the access log's column."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import base64
import io
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from app import create_app
from app.composition import card_desk_for
from app.config import ConfigError
from app.services.clinic_flow import scan
from app.services.clinic_flow.scan import ScanLimits
from app.services.errors import DecodesBusy, ImageDecodeTimeout, ImageTooLarge, ScanInvalid
from app.services.issuing import card_files
from cards.encoding import b45encode, decode_text, maybe_inflate
from cards.nfc import make_ndef
from tests.app.clinic_flow_helpers import image_bytes
from tests.app.clinic_scene import EMERGENCY, VERIFY, events, scene, verify  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401
from tests.conftest import TEST_CONFIG

JUNK = image_bytes(Image.new("RGB", (320, 240), (200, 180, 160)), "JPEG")  # no code in it


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A real 100-megapixel PNG (flat grey: small to make, slow to decode: about a second)."""
    return image_bytes(Image.new("L", (10_000, 10_000), 200), "PNG", compress_level=1)


def card_png(app: Flask, session: Session, card: Any) -> bytes:
    return card_files.render(card_desk_for(app, session, "test"), card, "card.png").body


def post_photo(client: FlaskClient, headers: dict[str, str], photo: bytes, **form: str) -> Any:
    return client.post(VERIFY, headers=headers, content_type="multipart/form-data",
                       data={"purpose": "treatment", **form,
                             "photo": (io.BytesIO(photo), "photo.png")})


def other_clinic(factory: Any) -> dict[str, str]:
    """The headers of another accredited clinic's client."""
    return factory.clinic_headers(factory.clinic_client(factory.clinic("27002")))


def reencoded(text: str) -> str:
    """The same signed card in the other encoding the spec allows: uncompressed when the
    text is compressed, compressed (another zlib stream) when it is not."""
    body = decode_text(text)
    message = maybe_inflate(body)
    return "UC1:" + b45encode(message if body != message else zlib.compress(message, 1))


def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# -- the per-card limit, once the card is decoded ---------------------------------------------
def test_junk_photos_of_one_clinic_do_not_block_photos_of_other_cards(
        client, app, session, factory, scene, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "3 per minute")
    for _ in range(5):  # not cards: each its client's cost, no card's
        answer = post_photo(client, scene["headers"], JUNK)
        assert answer.get_json()["reason"] == "no-code-found", answer.get_json()
    png = card_png(app, session, scene["card"])
    answer = post_photo(client, other_clinic(factory), png)
    assert answer.status_code == 200 and answer.get_json()["status"] == "valid", answer.get_json()


def test_a_photo_counts_in_its_cards_bucket(client, app, session, scene, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "3 per minute")
    assert [verify(client, scene).status_code for _ in range(2)] == [200, 200]
    png = card_png(app, session, scene["card"])
    assert post_photo(client, scene["headers"], png).status_code == 200
    refused = post_photo(client, scene["headers"], png)
    assert refused.status_code == 429, refused.get_json()
    assert refused.get_json()["type"] == "/problems/rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1


def test_every_encoding_of_a_card_counts_in_its_one_bucket(client, app, scene,
                                                           monkeypatch) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "3 per minute")
    text = scene["text"]
    other = reencoded(text)
    assert other != text
    ndef = base64.b64encode(make_ndef(text, "https://unioncard.example/v").message).decode()
    answers = [verify(client, scene, text), verify(client, scene, other),
               verify(client, scene, ndef_base64=" ".join(ndef[i:i + 8]
                                                          for i in range(0, len(ndef), 8))),
               verify(client, scene, ndef_base64=ndef)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429], answers[-1].get_json()
    assert answers[1].get_json()["status"] == "valid"  # the other encoding is the card


# -- text exactly as scanned --------------------------------------------------------------------
@pytest.mark.parametrize(("change", "reason"), [
    (lambda t: t + " ", "bad-base45"),
    (lambda t: t + "\n", "bad-base45"),
    (lambda t: " " + t, "bad-prefix"),
    (lambda t: "\t" + t + "\r\n", "bad-prefix"),
])
def test_untrimmed_text_is_a_malformed_card(client, session, app, scene, monkeypatch, change,
                                            reason) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "2 per minute")
    assert [verify(client, scene).status_code for _ in range(2)] == [200, 200]
    answer = verify(client, scene, change(scene["text"]), presence={"pin": scene["pin"]})
    assert answer.status_code == 422, answer.get_json()  # refused, not verified
    problem = answer.get_json()
    assert (problem["type"], problem["reason"]) == ("/problems/card-unreadable", reason)
    assert problem["detail"] == f"The scanned text is not a readable UC1 card ({reason})."
    assert events(session, kind="denial")[-1].reason == reason
    assert verify(client, scene).status_code == 429  # the card's own bucket stayed full


# -- photo decoding, bounded per client -------------------------------------------------------
def test_a_clients_full_slots_do_not_block_another_clients_decode(app, session, yen,
                                                                 huge_png) -> None:
    limits = ScanLimits(max_bytes=10**9, max_pixels=10**9, max_decoded_pixels=10**9,
                        timeout_seconds=60, per_client=1, threads=2)
    png = card_png(app, session, yen["card"])
    outcome: list[BaseException] = []

    def clinic_a_sends_a_huge_frame() -> None:
        while True:
            try:
                scan.from_photo(huge_png, limits, client="clinic-a")
                return
            except DecodesBusy:  # the probe below holds the slot for a moment
                time.sleep(0.002)
            except ScanInvalid as error:
                outcome.append(error)
                return

    def a_is_busy() -> bool:
        try:
            scan.from_photo(JUNK, limits, client="clinic-a")
        except DecodesBusy:
            return True
        except ScanInvalid:
            pass
        return False

    a = threading.Thread(target=clinic_a_sends_a_huge_frame)
    a.start()
    try:
        until(a_is_busy)  # clinic A's one slot is taken by its huge frame
        started = time.monotonic()
        text = scan.from_photo(png, limits, client="clinic-b")
        took = time.monotonic() - started
        assert a.is_alive(), "A's decode ended first: B's decode proves nothing"
        assert text == card_desk_for(app, session, "test").text(yen["card"])
    finally:
        a.join()
    assert took < 1.0, took
    assert [getattr(e, "extra", {}).get("reason") for e in outcome] == ["no-code-found"]
    with pytest.raises(ScanInvalid) as caught:  # A's slot is free again
        scan.from_photo(JUNK, limits, client="clinic-a")
    assert caught.value.extra["reason"] == "no-code-found"


def test_an_abandoned_decode_holds_its_clients_slot_until_it_ends(huge_png) -> None:
    limits = ScanLimits(max_bytes=10**9, max_pixels=10**9, max_decoded_pixels=10**9,
                        timeout_seconds=0.05, per_client=1, threads=2)
    with pytest.raises(ImageDecodeTimeout):
        scan.from_photo(huge_png, limits, client="clinic-slow")
    with pytest.raises(DecodesBusy):  # the client's decode still runs, unheard
        scan.from_photo(JUNK, limits, client="clinic-slow")
    with pytest.raises(ScanInvalid) as other:  # another client is served meanwhile
        scan.from_photo(JUNK, limits, client="clinic-other")
    assert other.value.extra["reason"] == "no-code-found"

    def free() -> bool:
        try:
            scan.from_photo(JUNK, limits, client="clinic-slow")
        except DecodesBusy:
            return False
        except ScanInvalid:
            return True
        return True

    until(free)


def test_a_busy_client_is_told_to_retry_and_nothing_is_logged(client, app, session, factory,
                                                              scene, huge_png,
                                                              monkeypatch) -> None:
    monkeypatch.setitem(app.config, "SCAN_DECODES_PER_CLIENT", 1)
    monkeypatch.setitem(app.config, "SCAN_DECODE_THREADS", 2)
    limits = ScanLimits(max_bytes=10**9, max_pixels=10**9, max_decoded_pixels=10**9,
                        timeout_seconds=0.01, per_client=1, threads=2)
    with pytest.raises(ImageDecodeTimeout):  # the clinic's huge frame, still decoding
        scan.from_photo(huge_png, limits, client=scene["login"].client_id)
    before = len(events(session))
    busy = post_photo(client, scene["headers"], JUNK)
    assert busy.status_code == 429, busy.get_json()
    assert busy.get_json()["type"] == "/problems/rate-limited"
    assert "being read" in busy.get_json()["detail"] and int(busy.headers["Retry-After"]) >= 1
    assert len(events(session)) == before  # not a scan: no access event
    png = card_png(app, session, scene["card"])
    assert post_photo(client, other_clinic(factory), png).status_code == 200


@pytest.mark.parametrize(("threads", "per_client"), [(4, 4), (2, 3), (4, 0), (4, "two")])
def test_one_client_may_not_hold_every_decoding_thread(database_url: str, threads: Any,
                                                       per_client: Any) -> None:
    with pytest.raises(ConfigError, match="SCAN_DECODE"):
        create_app({**TEST_CONFIG, "DATABASE_URL": database_url,
                    "SCAN_DECODE_THREADS": threads, "SCAN_DECODES_PER_CLIENT": per_client})


def test_a_png_is_held_to_the_decoded_pixel_bound_a_jpeg_is_decoded_scaled(client,
                                                                          scene) -> None:
    big = Image.new("RGB", (6000, 4000), (200, 180, 160))  # 24 MP: a camera's full frame
    png = post_photo(client, scene["headers"], image_bytes(big, "PNG", compress_level=1))
    assert png.status_code == 413, png.get_json()
    problem = png.get_json()
    assert (problem["type"], problem["reason"]) == ("/problems/image-too-large",
                                                    "too-many-pixels")
    assert "16000000" in problem["detail"]
    jpeg = post_photo(client, scene["headers"], image_bytes(big, "JPEG", quality=80))
    assert jpeg.get_json()["reason"] == "no-code-found", jpeg.get_json()  # read at 3000x2000
    with pytest.raises(ImageTooLarge):
        scan.from_photo(image_bytes(big, "WEBP", quality=50), client="test")


# -- the practitioner ---------------------------------------------------------------------------
def test_a_practitioner_longer_than_200_characters_is_a_field_error(client, session,
                                                                    scene) -> None:
    name = "Bác sĩ Nguyễn Thị Lan " * 10  # 220 characters
    for answer in (verify(client, scene, practitioner=name),
                   post_photo(client, scene["headers"], JUNK, practitioner=name),
                   client.post(EMERGENCY, headers=scene["headers"], json={
                       "uc1": scene["text"], "reason": "trauma", "text": "Fell",
                       "practitioner": name})):
        assert answer.status_code == 422, answer.get_json()
        assert answer.get_json()["type"] == "/problems/validation-error"
        assert "practitioner" in str(answer.get_json()["errors"])
    assert events(session) == []
    answer = verify(client, scene, practitioner=name[:200])
    assert answer.status_code == 200
    assert events(session)[-1].practitioner == name[:200]
