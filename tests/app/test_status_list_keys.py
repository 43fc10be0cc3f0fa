"""Status lists for generic verifiers (issue 23): a generic JWT library verifies a status list
with nothing but /.well-known/jwks.json; the list's ``ttl`` is its HTTP cache lifetime; a copy
is never kept past its signing window; the key that signs the lists cannot sign a card a
verifier accepts; the trust bundle is signed again while nothing changes, so desks count its
age from their last sync."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

import cards
from app.composition import key_store
from app.services.issuing.keys import ROOT, ROOT_ISSUER
from app.services.issuing.publication import (
    BUNDLE_REFRESH,
    STATUS_LIST_TTL,
    STATUS_LIST_VALIDITY,
    Publisher,
)
from cards import testing
from tests.app.cards_helpers import desk, office
from tests.conftest import served_over_http


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def issued(client, factory) -> dict[str, Any]:
    world = office(factory)
    body = client.post(f"/api/v1/members/{world['yen'].id}/cards",
                       headers=world["headers"]).get_json()
    return {**world, "card": body}


@pytest.fixture
def served(committed_office: Any) -> Iterator[dict[str, Any]]:
    """The app on its own committed database with one status list, served over HTTP on a free
    local port."""
    from app.extensions import db
    from app.services.issuing.status_lists import StatusLists

    application = committed_office("status-list-keys")
    session = db.new_session(application)
    StatusLists(session).allocate()  # creates list 1 (revocation and suspension)
    session.commit()
    session.close()
    with served_over_http(application) as base:
        yield {"app": application, "base": base}


def _get(url: str) -> tuple[str, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as response:  # the local test server
        return response.read().decode("utf-8"), dict(response.headers)


def test_a_generic_jwt_library_verifies_a_status_list_with_the_jwks_alone(served) -> None:
    """Regression (issue 23): the lists were signed by the root key, which the JWKS did not
    list, so PyJWKClient found no key for the JWT's kid. Over HTTP, with two independent JOSE
    libraries, from /.well-known/jwks.json alone (no pinned root key)."""
    base, issuer = served["base"], served["app"].config["PUBLIC_BASE_URL"]
    token, headers = _get(f"{base}/api/v1/status-lists/1?purpose=revocation")
    assert headers["Content-Type"] == "application/vc+jwt"
    # pyjwt: the JWKS client picks the key by the header's kid (VC-JOSE-COSE §4.1.1)
    signing_key = jwt.PyJWKClient(f"{base}/.well-known/jwks.json",
                                  cache_keys=False).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["ES256"], issuer=issuer,
                        options={"require": ["iss", "iat", "exp"]})
    assert jwt.get_unverified_header(token)["typ"] == "vc+jwt"
    assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert claims["issuer"] == claims["iss"] == issuer  # VC-JOSE-COSE §4.1.2
    assert claims["credentialSubject"]["statusPurpose"] == "revocation"
    # jwcrypto: the whole key set, the key chosen by kid
    jwks_text, jwks_headers = _get(f"{base}/.well-known/jwks.json")
    assert jwks_headers["Content-Type"] == "application/jwk-set+json"
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(token)
    verifier.verify(jwcrypto_jwk.JWKSet.from_json(jwks_text), alg="ES256")
    assert json.loads(verifier.payload)["id"] == f"{issuer}/api/v1/status-lists/1?purpose=revocation"
    # the key that verified it says what it signs for: the lists' issuer (docs/uc1.md §6)
    (listed,) = [k for k in json.loads(jwks_text)["keys"] if k["kid"] == signing_key.key_id]
    assert listed["iss"] == issuer and listed["use"] == "sig" and listed["alg"] == "ES256"


def test_the_ttl_of_a_status_list_is_its_cache_lifetime(client, issued) -> None:
    """Regression (issue 23): ``ttl`` said a day while Cache-Control said 300 s, so a verifier
    that followed ``ttl`` could accept a revoked card for a day."""
    for purpose in ("revocation", "suspension"):
        response = client.get(f"/api/v1/status-lists/1?purpose={purpose}")
        max_age = re.fullmatch(r"public, max-age=(\d+)", response.headers["Cache-Control"])
        assert max_age is not None
        claims = jwt.decode(response.get_data(as_text=True), options={"verify_signature": False})
        ttl_ms = claims["credentialSubject"]["ttl"]
        assert ttl_ms == int(max_age.group(1)) * 1000 == STATUS_LIST_TTL.total_seconds() * 1000
        # the validity period outlasts one cache lifetime after the window, and no more
        assert claims["exp"] - claims["iat"] == 2 * ttl_ms // 1000
        valid_from = datetime.fromisoformat(claims["validFrom"].replace("Z", "+00:00"))
        valid_until = datetime.fromisoformat(claims["validUntil"].replace("Z", "+00:00"))
        assert valid_until - valid_from == STATUS_LIST_VALIDITY <= timedelta(minutes=10)


def _publisher(app: Any, session: Any, at: datetime) -> Publisher:
    return Publisher(session, key_store(session, app.config, "test"),
                     base_url=str(app.config["PUBLIC_BASE_URL"]), clock=lambda: at)


def test_a_revalidated_status_list_is_never_kept_past_its_window(app, session, issued) -> None:
    """Regression (issue 23): the ETag named only the list's version, so a verifier that
    revalidated an unchanged list got 304 and kept a copy whose ``exp`` had passed. Now every
    request in one signing window gets the same credential and ETag, the next window a new
    one, and a copy is valid for at least one cache lifetime after any moment it is served."""
    ttl = STATUS_LIST_TTL
    start = datetime(2026, 12, 7, 20, 0, tzinfo=timezone.utc)
    first, tag = _publisher(app, session, start).status_list_jwt(1, "revocation")
    late = start + ttl - timedelta(seconds=1)
    same, same_tag = _publisher(app, session, late).status_list_jwt(1, "revocation")
    assert same_tag == tag
    assert jwt.decode(same, options={"verify_signature": False}) == \
        jwt.decode(first, options={"verify_signature": False})
    claims = jwt.decode(same, options={"verify_signature": False})
    assert claims["iat"] == int(start.timestamp())
    assert claims["exp"] >= (late + ttl).timestamp()  # served last, cached a full ttl: valid
    _, next_tag = _publisher(app, session, start + ttl).status_list_jwt(1, "revocation")
    assert next_tag != tag
    # a day later the list is unchanged, yet the ETag is new: no 304 for a day-old copy
    _, day_tag = _publisher(app, session, start + timedelta(days=1)).status_list_jwt(
        1, "revocation")
    assert day_tag != tag and day_tag.startswith(tag.rsplit("-", 1)[0])


def _forged_card(store: Any, issuer: str, passphrase: str) -> str:
    """A card signed with the root key (the key that signs the status lists) for ``issuer``."""
    record = store.active(ROOT_ISSUER, ROOT)
    root = cards.load_signing_key(record.private_pem, passphrase, issuer=issuer,
                                  created_at=int(record.created_at.timestamp()))
    t = int(now().timestamp())
    claims = testing.reference_claims(issuer=issuer, issued_at=t, expires_at=t + 86400)
    return cards.issue(claims, root, now=t)


def test_the_status_list_key_cannot_sign_a_card_a_verifier_accepts(app, session, client,
                                                                    issued) -> None:
    """The key the JWKS lists for the status lists is not a card key: a UC1 verifier that
    takes its keys from the JWKS refuses a card it signed, whatever issuer the card claims
    (its ``iss`` is a URL, which no card issuer is), and the trust bundle does not list it."""
    jwks = client.get("/.well-known/jwks.json").get_json(force=True)
    ring = cards.KeyRing.from_jwks(jwks)  # the strict reader (docs/uc1.md §4) accepts the set
    store = key_store(session, app.config, "test")
    passphrase = str(app.config["KEY_PASSPHRASE"])
    for issuer in (app.config["CARD_ISSUER"], ROOT_ISSUER):
        forged = _forged_card(store, issuer, passphrase)
        result = cards.verify(forged, ring, now=now())
        assert (result.status, result.reason) == ("invalid", "issuer-mismatch"), issuer
        bundle = cards.load_bundle(client.get("/api/v1/trust-bundle").get_data(as_text=True),
                                   client.get("/.well-known/unioncard-root.jwk").get_json(
                                       force=True), now=now())
        assert cards.verify(forged, bundle, now=now()).status == "unknown-issuer"
    # a genuine card still verifies with the same ring
    card_desk = desk(app, session)
    genuine = card_desk.text(card_desk.issue_for(issued["binh"]).card)
    session.commit()
    result = cards.verify(genuine, cards.KeyRing.from_jwks(
        client.get("/.well-known/jwks.json").get_json(force=True)), now=now())
    assert result.status == "valid" and result.warnings == ("status-list-missing",)


def test_an_unchanged_trust_bundle_is_signed_again_after_a_day(app, session, issued) -> None:
    """Desks count a bundle's age from its ``iat`` (docs/uc1.md §5–6): a bundle built once per
    version kept the ``iat`` of its first build while nothing changed, so a desk that synced
    today could show a month-old list and warn ``stale-trust-bundle``."""
    start = now().replace(microsecond=0)
    root = _publisher(app, session, start).root_jwk()
    first = _publisher(app, session, start).signed_trust_bundle()
    later = _publisher(app, session, start + timedelta(hours=1)).signed_trust_bundle()
    assert later == first  # the same signed bundle within the day
    renewed = _publisher(app, session, start + BUNDLE_REFRESH).signed_trust_bundle()
    assert renewed.version == first.version and renewed.etag != first.etag
    at = start + BUNDLE_REFRESH
    bundle = cards.load_bundle(renewed.text, root, now=at)
    assert bundle.issued_at == int(at.timestamp()) and not bundle.is_stale(at)
    assert {(s.list_id, s.purpose) for s in bundle.status_lists} == {
        (1, "revocation"), (1, "suspension")}
