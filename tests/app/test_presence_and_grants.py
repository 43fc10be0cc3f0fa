"""Presence tokens (the phone's dynamic QR) and pull grants: signature, expiry, binding."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import zxingcpp
from jwt.warnings import InsecureKeyLengthWarning
from PIL import Image

from app.services.clinic_flow.grants import GRANT_TTL, PullGrants
from app.services.clinic_flow.presence import PresenceTokens
from app.services.errors import GrantInvalid, PresenceInvalid
from tests.app.access_helpers import Clock
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401

SECRET = "presence-secret-for-tests-0123456789"
SERIAL = "ABCDEFGHIJKLMNOP"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def still(now: datetime = NOW) -> Clock:
    return Clock(now, step=timedelta(0))


def reason_of(error: pytest.ExceptionInfo[Exception]) -> str:
    return str(getattr(error.value, "extra", {}).get("reason"))


# -- presence ---------------------------------------------------------------------------------
def test_a_presence_token_holds_for_its_card_for_five_minutes() -> None:
    clock = still()
    tokens = PresenceTokens(SECRET, clock=clock)
    issued = tokens.issue(SERIAL)
    assert issued.expires_at == NOW + timedelta(minutes=5)
    assert issued.token.startswith("UCP1:") and issued.token == issued.token.upper()
    tokens.check(issued.token, SERIAL)
    tokens.check(issued.token.lower(), SERIAL)  # a scanner may lower-case it
    clock.now = NOW + timedelta(minutes=4, seconds=59)
    tokens.check(issued.token, SERIAL)
    clock.now = NOW + timedelta(minutes=5)
    with pytest.raises(PresenceInvalid) as caught:
        tokens.check(issued.token, SERIAL)
    assert reason_of(caught) == "presence-expired"


@pytest.mark.parametrize("change", ["mac", "serial", "expiry", "key", "garbage"])
def test_a_presence_token_tampered_or_from_another_key_is_refused(change: str) -> None:
    tokens = PresenceTokens(SECRET, clock=still())
    token = tokens.issue(SERIAL).token
    prefix, serial, expiry, mac = token.split(":")
    forged = {
        "mac": f"{prefix}:{serial}:{expiry}:{'A' if mac[0] != 'A' else 'B'}{mac[1:]}",
        "serial": f"{prefix}:{'Z' + serial[1:]}:{expiry}:{mac}",
        "expiry": f"{prefix}:{serial}:{int(expiry) + 60}:{mac}",
        "key": PresenceTokens(SECRET + "x", clock=still()).issue(SERIAL).token,
        "garbage": "UCP1:not-a-token",
    }[change]
    with pytest.raises(PresenceInvalid) as caught:
        tokens.check(forged, "Z" + SERIAL[1:] if change == "serial" else SERIAL)
    assert reason_of(caught) == ("presence-malformed" if change == "garbage"
                                 else "presence-bad-signature")


def test_a_presence_token_for_another_card_is_refused() -> None:
    tokens = PresenceTokens(SECRET, clock=still())
    with pytest.raises(PresenceInvalid) as caught:
        tokens.check(tokens.issue(SERIAL).token, "QRSTUVWXYZ234567")
    assert reason_of(caught) == "presence-other-card"


def test_the_member_gets_a_presence_token_and_its_small_qr(client, yen) -> None:  # noqa: F811
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    response = client.get("/api/v1/me/card/presence", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["card_serial"] == yen["card"].serial and body["qr_version"] <= 8
    assert "no-store" in response.headers["Cache-Control"]
    png = client.get("/api/v1/me/card/presence", headers={**headers, "Accept": "image/png"})
    assert png.mimetype == "image/png"
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert result.text.startswith("UCP1:" + yen["card"].serial + ":")
    assert int(result.extra["Version"]) <= 8 and result.ec_level == "M"
    svg = client.get("/api/v1/me/card/presence", headers={**headers, "Accept": "image/svg+xml"})
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert client.get("/api/v1/me/card/presence").status_code == 401


# -- grants -----------------------------------------------------------------------------------
def test_a_grant_carries_the_decision_for_ten_minutes() -> None:
    clock = still()
    grants = PullGrants(SECRET, clock=clock)
    token, issued = grants.issue("client-a", SERIAL, ("allergies", "emergency-core"),
                                 "treatment")
    assert issued.expires_at == NOW + GRANT_TTL
    checked = grants.check(token, "client-a")
    assert (checked.card_serial, checked.sections, checked.purpose, checked.emergency) == (
        SERIAL, ("allergies", "emergency-core"), "treatment", False)
    clock.now = NOW + GRANT_TTL
    with pytest.raises(GrantInvalid) as caught:
        grants.check(token, "client-a")
    assert reason_of(caught) == "grant-expired"


def test_an_emergency_grant_lasts_24_hours() -> None:
    clock = still()
    grants = PullGrants(SECRET, clock=clock)
    token, issued = grants.issue("client-a", SERIAL, ("emergency-core",), "emergency",
                                 emergency=True)
    clock.now = NOW + timedelta(hours=23, minutes=59)
    assert grants.check(token, "client-a").emergency
    clock.now = NOW + timedelta(hours=24)
    with pytest.raises(GrantInvalid):
        grants.check(token, "client-a")


def test_a_grant_is_bound_to_its_client() -> None:
    grants = PullGrants(SECRET, clock=still())
    token, _ = grants.issue("client-a", SERIAL, ("allergies",), "treatment")
    with pytest.raises(GrantInvalid) as caught:
        grants.check(token, "client-b")
    assert reason_of(caught) == "grant-other-client"


def _claims(grants: PullGrants, token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def _hs512(claims: dict[str, object], key: bytes, header: dict[str, str]) -> str:
    with warnings.catch_warnings():  # the service's key is short for HS512: the point here
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm="HS512", headers=header)


@pytest.mark.parametrize("forgery", ["other-key", "tampered", "alg-none", "hs512", "garbage",
                                     "too-long-life"])
def test_a_grant_tampered_or_signed_otherwise_is_refused(forgery: str) -> None:
    grants = PullGrants(SECRET, clock=still())
    token, _ = grants.issue("client-a", SERIAL, ("allergies",), "treatment")
    claims = _claims(grants, token)
    key = ("unioncard-pull-grant:" + SECRET).encode()
    header = {"typ": "pull-grant+jwt"}
    forged = {
        "other-key": PullGrants(SECRET + "x", clock=still()).issue(
            "client-a", SERIAL, ("allergies",), "treatment")[0],
        "tampered": jwt.encode({**claims, "sections": ["allergies", "sensitive"]}, b"k" * 32,
                               algorithm="HS256", headers=header),
        "alg-none": jwt.encode(claims, None, algorithm="none", headers=header),
        "hs512": _hs512(claims, key, header),
        "garbage": "not.a.grant",
        "too-long-life": jwt.encode({**claims, "exp": int((NOW + timedelta(days=2))
                                                          .timestamp())},
                                    key, algorithm="HS256", headers=header),
    }[forgery]
    with pytest.raises(GrantInvalid) as caught:
        grants.check(forged, "client-a")
    assert reason_of(caught) == {"garbage": "grant-malformed",
                                 "too-long-life": "grant-malformed"}.get(
        forgery, "grant-bad-signature")
