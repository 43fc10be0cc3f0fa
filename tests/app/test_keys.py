"""Keys: rotation keeps old cards valid; revocation revokes every card the key signed;
private keys stay encrypted and never appear in responses."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

import cards
from app.composition import key_store, publisher_for
from app.models import AuditEntry, Card, SigningKeyRecord
from app.services.errors import Conflict
from tests.app.cards_helpers import desk, office
from tests.conftest import TEST_CONFIG


def now() -> datetime:
    return datetime.now(timezone.utc)


def verify_offline(client, text: str) -> cards.Verification:
    bundle = client.get("/api/v1/trust-bundle").get_data(as_text=True)
    root = client.get("/.well-known/unioncard-root.jwk").get_json(force=True)
    return cards.verify(text, cards.load_bundle(bundle, root, now=now()), now=now())


@pytest.fixture
def world(factory):
    return office(factory)


def _issue(app, session, member) -> str:
    card_desk = desk(app, session)
    issued = card_desk.issue_for(member)
    session.commit()
    return card_desk.text(issued.card)


def test_rotation_keeps_old_cards_valid(app, session, client, world) -> None:
    old_text = _issue(app, session, world["yen"])
    store = key_store(session, app.config, "test")
    new, retired = store.rotate(app.config["CARD_ISSUER"])
    session.commit()
    assert retired is not None and retired.status.value == "retired"
    new_text = _issue(app, session, world["binh"])
    assert verify_offline(client, old_text).status == "valid"
    result = verify_offline(client, new_text)
    assert result.status == "valid" and result.key_id == new.kid
    jwks = client.get("/.well-known/jwks.json").get_json(force=True)
    card_keys = [k for k in jwks["keys"] if k["iss"] == app.config["CARD_ISSUER"]]
    assert {k["kid"]: k["status"] for k in card_keys} == {new.kid: "active",
                                                          retired.kid: "retired"}


def test_retired_key_leaves_jwks_when_its_cards_expired(app, session, client, world) -> None:
    _issue(app, session, world["yen"])
    store = key_store(session, app.config, "test")
    _, retired = store.rotate(app.config["CARD_ISSUER"])
    for card in session.scalars(select(Card).where(Card.kid == retired.kid)):
        card.expires_at = datetime(2020, 1, 1, tzinfo=timezone.utc)
    session.commit()
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json(force=True)["keys"]}
    assert retired.kid not in kids


def test_key_revocation_revokes_every_card_it_signed(app, session, client, world) -> None:
    texts = [_issue(app, session, world["yen"]), _issue(app, session, world["binh"])]
    store = key_store(session, app.config, "test")
    kid = store.active(app.config["CARD_ISSUER"]).kid
    record, count = store.revoke(kid[:12], "private key leaked")
    session.commit()
    assert count == 2
    for text in texts:
        result = verify_offline(client, text)
        assert (result.status, result.reason) == ("revoked", "key-compromise")
    live = publisher_for(app, session).live_trust()
    assert cards.verify(texts[1], live, now=now()).reason == "key-compromise"
    statuses = {c.status_reason for c in session.scalars(select(Card).where(Card.kid == kid))}
    assert statuses == {"key-compromise"}
    # the JWKS agrees with the bundle (issue 14): the revoked key stays, marked revoked, so
    # a JWKS-only verifier answers key-compromise too, never unknown-issuer
    jwks = client.get("/.well-known/jwks.json").get_json(force=True)
    assert {k["kid"]: k["status"] for k in jwks["keys"]}[kid] == "revoked"
    jwks_only = cards.verify(texts[0], cards.KeyRing.from_jwks(jwks), now=now())
    assert (jwks_only.status, jwks_only.reason) == ("revoked", "key-compromise")
    with pytest.raises(Conflict):
        store.revoke(kid, "again")
    # a new card is signed with a fresh key and is valid
    fresh = _issue(app, session, world["yen"])
    assert verify_offline(client, fresh).status == "valid"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "key.card.revoke"))
    assert entry.reason == "private key leaked" and entry.details["cards_revoked"] == 2


def test_private_keys_are_encrypted_at_rest_and_never_served(app, session, client, world) -> None:
    _issue(app, session, world["yen"])
    for record in session.scalars(select(SigningKeyRecord)):
        assert record.private_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(cards.errors.CardError):
            cards.load_signing_key(record.private_pem, "wrong passphrase", issuer="x",
                                   created_at=0)
        assert cards.load_signing_key(record.private_pem, TEST_CONFIG["KEY_PASSPHRASE"],
                                      issuer=record.issuer, created_at=0).kid == record.kid
    for path in ("/.well-known/jwks.json", "/.well-known/unioncard-root.jwk",
                 "/api/v1/trust-bundle"):
        body = client.get(path).get_data(as_text=True)
        assert '"d"' not in body and "PRIVATE" not in body


def test_generate_refuses_a_second_active_key(app, session) -> None:
    store = key_store(session, app.config, "test")
    store.generate("VN-VGCL-24")
    with pytest.raises(Conflict, match="rotate"):
        store.generate("VN-VGCL-24")
