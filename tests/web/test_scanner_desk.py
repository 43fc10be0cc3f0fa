"""The clinic desk's day without JavaScript (issue 20), through Flask's test client: the card
and the phone's presence code in either order, a wrong PIN asked again beside the kept
verdict with the tries left and then the lock's end, what the clerk checks on the verdict, a
revoked card's next step and a suspended card told as suspended only; one <h1> a page."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.clock import VIETNAM
from app.composition import card_desk_for, presence_tokens_for
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.issuing.card_status import CardLifecycle
from tests.app.clinic_scene import events, scene  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401
from tests.web.test_scanner import desk, post_verify  # noqa: F401

WRONG_PIN = "147036"


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def token_for(app: Flask, desk: dict[str, Any]) -> str:  # noqa: F811
    return presence_tokens_for(app.config).issue(desk["card"].serial).token


def test_the_phone_code_first_is_kept_until_the_card_is_scanned(
        app: Flask, client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:  # noqa: F811
    token = token_for(app, desk)
    kept = post_verify(client, uc1=token + "\r\n")
    html = kept.get_data(as_text=True)
    assert kept.status_code == 200 and h1_count(html) == 1
    assert f'name="presence_token" id="presence-token" value="{token}"' in html
    assert 'id="desk-need"' in html and events(session) == []  # not a scan of a card yet
    record = post_verify(client, uc1=desk["text"], presence_token=token)
    html = record.get_data(as_text=True)
    assert record.status_code == 200 and 'id="section-allergies"' in html
    assert 'data-opened="1"' in html and 'id="pin-form"' not in html
    assert [e.kind for e in events(session, member_id=desk["member"].id)] == ["verify", "pull"]


def test_the_card_first_then_the_phone_code_on_the_verdict(
        app: Flask, client: FlaskClient, desk: dict[str, Any]) -> None:  # noqa: F811
    verdict = post_verify(client, uc1=desk["text"]).get_data(as_text=True)
    assert 'data-needs="presence"' in verdict and 'id="code-form"' in verdict
    assert 'id="pin-form"' in verdict and h1_count(verdict) == 1
    # the phone's code typed into the verdict's field by a QR reader (the card kept hidden)
    record = post_verify(client, uc1=desk["text"], presence_token=token_for(app, desk))
    assert 'id="section-allergies"' in record.get_data(as_text=True)


def test_a_malformed_phone_code_is_a_clear_refusal(client: FlaskClient,
                                                   desk: dict[str, Any]) -> None:  # noqa: F811
    answer = post_verify(client, uc1="UCP1:NOT-A-CODE")
    assert answer.status_code == 422 and h1_count(answer.get_data(as_text=True)) == 1


def test_a_wrong_pin_keeps_the_card_and_says_the_tries_left_then_the_lock(
        client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:  # noqa: F811
    wrong = post_verify(client, uc1=desk["text"], pin=WRONG_PIN)
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'data-status="valid"' in html
    assert 'id="pin-error"' in html and 'id="attempts-left"' in html and "4" in html
    assert f'value="{desk["text"]}"' in html  # the card is kept for the next try
    for _ in range(4):
        wrong = post_verify(client, uc1=desk["text"], pin=WRONG_PIN)
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="pin-locked"' in html and 'id="pin-form"' not in html
    assert 'id="code-form"' in html  # the phone's code still works
    locked = post_verify(client, uc1=desk["text"], pin=desk["pin"])
    html = locked.get_data(as_text=True)
    assert locked.status_code == 429 and 'id="pin-locked"' in html and locked.headers["Retry-After"]
    assert re.search(r"\d\d:\d\d \d\d/\d\d/\d{4}", html)  # until when
    assert h1_count(html) == 1


def test_the_verdict_shows_what_the_clerk_checks(client: FlaskClient,
                                                 desk: dict[str, Any]) -> None:  # noqa: F811
    html = post_verify(client, uc1=desk["text"], purpose="occupational-health"
                       ).get_data(as_text=True)
    for marker in ('id="check-purpose"', 'id="check-expiry"', 'id="check-issuer"',
                   'id="check-time"', 'id="compare-id"'):
        assert marker in html
    assert "CCCD" in html
    issuer = re.search(r'id="check-issuer">([^<]+)<', html)
    assert issuer is not None and "," in issuer.group(1)


def test_a_revoked_card_names_the_newer_card_and_a_suspended_one_only_suspended(
        app: Flask, client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:  # noqa: F811
    old_text = desk["text"]
    issued = card_desk_for(app, session, "test").issue(Scope(Principal("user", 0, "admin")),
                                                        desk["member"].id)
    session.commit()
    html = post_verify(client, uc1=old_text).get_data(as_text=True)
    assert 'data-status="revoked"' in html and 'id="next-step"' in html
    assert issued.card.issued_at.astimezone(VIETNAM).strftime("%d/%m/%Y") in html
    CardLifecycle(session, actor="test").suspend(issued.card, "investigation")
    session.commit()
    new_text = card_desk_for(app, session, "test").text(issued.card)
    suspended = post_verify(client, uc1=new_text)
    html = suspended.get_data(as_text=True)
    assert 'data-status="suspended"' in html and 'id="next-step"' in html
    assert "investigation" not in html and "điều tra" not in html.lower()
    assert h1_count(html) == 1


def test_every_desk_page_has_one_h1(client: FlaskClient, desk: dict[str, Any]) -> None:  # noqa: F811
    pages = [client.get("/clinic/").get_data(as_text=True),
             post_verify(client, uc1=desk["text"]).get_data(as_text=True),
             post_verify(client, uc1=desk["text"], pin=desk["pin"]).get_data(as_text=True),
             post_verify(client, uc1="UC1:NOT-A-CARD").get_data(as_text=True)]
    assert [h1_count(p) for p in pages] == [1, 1, 1, 1]
