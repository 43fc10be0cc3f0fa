"""The desk page's scan inputs, bounded as the API bounds them: the practitioner field (an
inline error, never a 500), pasted text checked exactly as scanned (only the one line end a
QR reader types is dropped), and photos counted per card once decoded."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from app.composition import card_desk_for
from app.services.issuing import card_files
from tests.app.clinic_flow_helpers import image_bytes
from tests.app.clinic_scene import events, scene  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401
from tests.web.test_console import csrf
from tests.web.test_scanner import desk, post_verify  # noqa: F401
from tests.web.test_wording import english

LONG_NAME = "Bác sĩ Nguyễn Thị Lan " * 10  # 220 characters


def test_a_practitioner_longer_than_200_characters_is_an_inline_error(
        client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    english(client, "/clinic/")
    verdict = post_verify(client, uc1=desk["text"], practitioner=LONG_NAME)
    emergency = client.post("/clinic/emergency", data={
        "csrf_token": csrf(client, "/clinic/"), "uc1": desk["text"], "reason": "trauma",
        "text": "Fell from a ladder", "practitioner": LONG_NAME})
    for answer in (verdict, emergency):
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422, html
        assert "<li>The value is longer than 200 characters.</li>" in html
    assert events(session) == []
    kept = post_verify(client, uc1=desk["text"], practitioner=LONG_NAME[:200])
    assert kept.status_code == 200 and 'data-status="valid"' in kept.get_data(as_text=True)
    assert events(session)[-1].practitioner == LONG_NAME[:200]


@pytest.mark.parametrize("change", [lambda t: t + " ", lambda t: " " + t,
                                    lambda t: t + "\n\n", lambda t: t + " \r\n"])
def test_pasted_text_is_checked_as_sent(client: FlaskClient, session: Session,
                                        desk: dict[str, Any], change: Any) -> None:
    english(client, "/clinic/")
    answer = post_verify(client, uc1=change(desk["text"]), pin=desk["pin"])
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422, html
    assert "The card could not be read." in html and "Open the record" not in html
    assert [e.kind for e in events(session)] == ["denial"]


def test_the_one_line_end_a_qr_reader_types_is_dropped(client: FlaskClient,
                                                       desk: dict[str, Any]) -> None:
    for end in ("\n", "\r\n"):
        answer = post_verify(client, uc1=desk["text"] + end)
        assert 'data-status="valid"' in answer.get_data(as_text=True)


def test_junk_photos_do_not_count_against_the_card(app: Flask, client: FlaskClient,
                                                   session: Session, desk: dict[str, Any],
                                                   monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "2 per minute")
    junk = image_bytes(Image.new("RGB", (320, 240), (200, 180, 160)), "JPEG")
    for _ in range(3):
        assert post_verify(client, photo=(BytesIO(junk), "junk.jpg")).status_code == 422
    png = card_files.render(card_desk_for(app, session, "test"), desk["card"], "card.png").body
    photo = post_verify(client, photo=(BytesIO(png), "card.png"))
    assert 'data-status="valid"' in photo.get_data(as_text=True)
    assert post_verify(client, uc1=desk["text"]).status_code == 200
    assert post_verify(client, uc1=desk["text"]).status_code == 429  # the card's, both ways
