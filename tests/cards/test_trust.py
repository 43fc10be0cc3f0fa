"""The trust bundle: build, sign with the root key, verify before use, staleness, rollback."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from cards import testing
from cards.errors import TrustError
from cards.keys import VerificationKey, generate_signing_key
from cards.trust import BUNDLE_TYP, STALE_WARNING, TrustBundle, load_bundle

NOW = testing.REFERENCE_NOW
DAY = 86400


def _load(text: str, **kwargs: object) -> TrustBundle:
    return load_bundle(text, testing.root_public_jwk(), now=NOW, **kwargs)  # type: ignore[arg-type]


def test_round_trip() -> None:
    revocation, suspension = testing.status_lists(revoked=(5,), suspended=(6,))
    retired = VerificationKey(testing.other_signing_key().public_key, "VN-VGCL-79", "retired")
    text = testing.bundle_text(keys=(testing.signing_key(), retired), lists=(revocation, suspension), version=42)
    bundle = _load(text)
    assert bundle.version == 42
    assert bundle.issued_at == int(NOW.timestamp())
    assert [k.status for k in bundle.keys] == ["active", "retired"]
    assert bundle.keys_for(testing.signing_key().short_kid)[0].issuer == "VN-VGCL-79"
    assert bundle.status_list(1, "revocation").get(5)  # type: ignore[union-attr]
    assert bundle.status_list(1, "suspension").get(6)  # type: ignore[union-attr]
    assert bundle.status_list(2, "revocation") is None
    assert jwt.get_unverified_header(text)["typ"] == BUNDLE_TYP


def test_root_jwk_may_be_json_text() -> None:
    assert load_bundle(testing.bundle_text(), json.dumps(testing.root_public_jwk()), now=NOW).version == 1


def _tamper(text: str, change: dict[str, object]) -> str:
    header, payload, signature = text.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body.update(change)
    new = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return ".".join((header, new, signature))


def test_tampered_bundle_is_rejected() -> None:
    with pytest.raises(TrustError) as info:
        _load(_tamper(testing.bundle_text(), {"version": 99}))
    assert info.value.reason == "bad-bundle-signature"


def test_bundle_signed_by_another_key_is_rejected() -> None:
    impostor = generate_signing_key("ROOT", now=NOW)
    text = testing.bundle_text()
    forged = jwt.api_jws.PyJWS().encode(
        base64.urlsafe_b64decode(text.split(".")[1] + "=="),
        impostor.private_key,
        algorithm="ES256",
        headers={"typ": BUNDLE_TYP},
    )
    with pytest.raises(TrustError) as info:
        _load(forged)
    assert info.value.reason == "bad-bundle-signature"


def test_unsigned_and_hmac_bundles_are_rejected() -> None:
    payload = base64.urlsafe_b64decode(testing.bundle_text().split(".")[1] + "==")
    unsigned = jwt.api_jws.PyJWS().encode(payload, None, algorithm="none", headers={"typ": BUNDLE_TYP})
    hmac = jwt.api_jws.PyJWS().encode(
        payload, "a-shared-secret-of-32-bytes-long!", algorithm="HS256", headers={"typ": BUNDLE_TYP}
    )
    for text in (unsigned, hmac, "not.a.jws", "", "a.b"):
        with pytest.raises(TrustError):
            _load(text)


def test_bad_root_key() -> None:
    with pytest.raises(TrustError) as info:
        load_bundle(testing.bundle_text(), {"kty": "oct"}, now=NOW)
    assert info.value.reason == "bad-root-key"


def test_stale_bundle_warns_but_still_loads() -> None:
    bundle = _load(testing.bundle_text(now=int(NOW.timestamp()) - 31 * DAY))
    assert bundle.warnings(NOW) == (STALE_WARNING,)
    fresh = _load(testing.bundle_text(now=int(NOW.timestamp()) - 29 * DAY))
    assert fresh.warnings(NOW) == ()
    short = _load(testing.bundle_text(now=int(NOW.timestamp()) - 2 * DAY), max_age=DAY)
    assert short.is_stale(NOW)


def test_future_bundle_and_rollback_are_rejected() -> None:
    with pytest.raises(TrustError) as future:
        _load(testing.bundle_text(now=int(NOW.timestamp()) + DAY))
    assert future.value.reason == "bundle-from-future"
    with pytest.raises(TrustError) as rollback:
        _load(testing.bundle_text(version=3), min_version=4)
    assert rollback.value.reason == "bundle-rollback"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"format": 1},
        {"format": 2, "version": 1, "iat": 1, "keys": [], "statusLists": []},
        {"format": 1, "version": -1, "iat": 1, "keys": [], "statusLists": []},
        {"format": 1, "version": 1, "iat": 1, "keys": [{"kty": "EC"}], "statusLists": []},
        {"format": 1, "version": 1, "iat": 1, "keys": [], "statusLists": [{"id": 1}]},
        {
            "format": 1,
            "version": 1,
            "iat": 1,
            "keys": [],
            "statusLists": [{"id": 1, "purpose": "expiry", "size": 8, "encodedList": "u"}],
        },
        {"format": 1, "version": 1, "iat": 1, "keys": [], "statusLists": [], "extra": 1},
    ],
)
def test_malformed_payloads(payload: object) -> None:
    with pytest.raises(TrustError) as info:
        TrustBundle.from_payload(payload)
    assert info.value.reason == "bad-bundle"
