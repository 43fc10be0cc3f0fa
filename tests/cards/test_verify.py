"""cards.issue and cards.verify: every status and reason, trust sources, and fuzzing."""

from __future__ import annotations

import dataclasses

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cards
from cards import cose, testing
from cards.encoding import PREFIX, b45encode, decode_text, encode_text
from cards.errors import CardTooLarge, ClaimsError, SigningKeyError
from cards.keys import KeyRing, VerificationKey, generate_signing_key
from cards.verify import Verification

NOW = testing.REFERENCE_NOW
T0 = int(NOW.timestamp())
SKEW = 300


@pytest.fixture(scope="module")
def bundle() -> cards.TrustBundle:
    return testing.trust_bundle()


@pytest.fixture(scope="module")
def text() -> str:
    return cards.issue(testing.reference_claims(), testing.signing_key(), now=NOW)


def test_valid_card(text: str, bundle: cards.TrustBundle) -> None:
    result = cards.verify(text, bundle, now=NOW)
    assert result == Verification(
        "valid",
        "ok",
        testing.reference_claims(),
        kid=result.kid,
        key_id=testing.signing_key().kid,
    )
    assert result.valid
    assert result.to_dict()["claims"]["name"] == "Nguyễn Thị Kim Yến"


def test_uc1_text_fits_the_qr_size_targets() -> None:
    key = testing.signing_key()
    plain = cards.issue(testing.reference_claims(), key, now=NOW)
    health = cards.issue(testing.reference_claims(emergency=testing.REFERENCE_EMERGENCY), key, now=NOW)
    assert len(plain) <= 311  # QR version 10, ECC M, alphanumeric
    assert len(health) <= 362  # QR version 11, ECC M, alphanumeric


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (-SKEW, "valid"),
        (-SKEW - 1, "not-yet-valid"),
        (5 * 365 * 86400 + SKEW, "valid"),
        (5 * 365 * 86400 + SKEW + 1, "expired"),
    ],
)
def test_clock_skew_edges(text: str, offset: int, status: str) -> None:
    bundle = testing.trust_bundle(now=T0 + offset - 86400)
    result = cards.verify(text, bundle, now=T0 + offset)
    assert (result.status, result.reason) == (status, "ok" if status == "valid" else status)
    assert result.claims is not None  # signature verified: claims are shown


def test_revoked_and_suspended_by_status_list(text: str) -> None:
    index = testing.reference_claims().status_index
    revoked = testing.trust_bundle(lists=testing.status_lists(revoked=(index,)))
    suspended = testing.trust_bundle(lists=testing.status_lists(suspended=(index,)))
    both = testing.trust_bundle(lists=testing.status_lists(revoked=(index,), suspended=(index,)))
    neighbour = testing.trust_bundle(lists=testing.status_lists(revoked=(index + 1,)))
    assert cards.verify(text, revoked, now=NOW).status == "revoked"
    assert cards.verify(text, suspended, now=NOW).status == "suspended"
    assert cards.verify(text, both, now=NOW).reason == "revoked"
    assert cards.verify(text, neighbour, now=NOW).valid


def test_revoked_wins_over_expired(text: str) -> None:
    index = testing.reference_claims().status_index
    later = T0 + 6 * 365 * 86400
    revoked = testing.trust_bundle(now=later, lists=testing.status_lists(revoked=(index,)))
    assert cards.verify(text, revoked, now=later).status == "revoked"


def test_compromised_key_revokes_every_card(text: str) -> None:
    compromised = VerificationKey(testing.signing_key().public_key, testing.TEST_ISSUER, "revoked")
    bundle = testing.trust_bundle(keys=(compromised,))
    result = cards.verify(text, bundle, now=NOW)
    assert (result.status, result.reason) == ("revoked", "key-compromise")


def test_retired_key_still_verifies(text: str) -> None:
    retired = VerificationKey(testing.signing_key().public_key, testing.TEST_ISSUER, "retired")
    assert cards.verify(text, testing.trust_bundle(keys=(retired,)), now=NOW).valid


def test_unknown_key(text: str) -> None:
    bundle = testing.trust_bundle(keys=(testing.other_signing_key(),))
    result = cards.verify(text, bundle, now=NOW)
    assert (result.status, result.reason, result.claims) == ("unknown-issuer", "unknown-kid", None)
    assert result.kid is not None


def test_key_of_another_issuer_cannot_sign_for_this_one(text: str) -> None:
    national = testing.signing_key("VN-VGCL")
    bundle = testing.trust_bundle(keys=(national,))
    result = cards.verify(text, bundle, now=NOW)
    assert (result.status, result.reason, result.claims) == ("invalid", "issuer-mismatch", None)


def test_stale_bundle_warns(text: str) -> None:
    stale = testing.trust_bundle(now=T0 - 40 * 86400)
    result = cards.verify(text, stale, now=NOW)
    assert result.valid and result.warnings == ("stale-trust-bundle",)


def test_key_ring_is_a_trust_source_without_status_lists(text: str) -> None:
    ring = KeyRing([testing.signing_key()])
    result = cards.verify(text, ring, now=NOW)
    assert result.valid and result.warnings == ("status-list-missing",)
    index = testing.reference_claims().status_index
    revocation, suspension = testing.status_lists(revoked=(index,))
    ring = KeyRing(
        [testing.signing_key()],
        status_lists={(1, "revocation"): revocation, (1, "suspension"): suspension},
    )
    assert cards.verify(text, ring, now=NOW).status == "revoked"
    ring.revoke(testing.signing_key().kid)
    assert cards.verify(text, ring, now=NOW).reason == "key-compromise"


def _resign(payload: bytes, *, protected: dict[int, object] | None = None, unprotected: dict[int, object] | None = None) -> str:
    """A card text around ``payload`` signed by the test key, with optional header changes."""
    key = testing.signing_key()
    prot = cbor2.dumps(protected if protected is not None else {1: -7, 4: key.short_kid})
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.private_key.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return encode_text(cbor2.dumps(cbor2.CBORTag(18, [prot, unprotected or {}, payload, sig])))


def _claims_map() -> dict[int, object]:
    return testing.reference_claims().to_cbor_map()


def _invalid_cases() -> list[tuple[str, str]]:
    key = testing.signing_key()
    good = cards.issue(testing.reference_claims(), key, now=NOW)
    message = cbor2.loads(decode_text(good))
    body = list(message.value)
    short_sig = encode_text(cbor2.dumps(cbor2.CBORTag(18, body[:3] + [body[3][:63]])))
    bad_sig = encode_text(cbor2.dumps(cbor2.CBORTag(18, body[:3] + [bytes(64)])))
    non_canonical = dict(reversed(list(_claims_map().items())))
    with_null = {**_claims_map(), -10: None}
    extra = {**_claims_map(), -11: 1}
    import zlib

    return [
        ("", "bad-prefix"),
        ("HC1:" + good[4:], "bad-prefix"),
        (good.lower(), "bad-prefix"),
        ("UC1:" + "0" * 5000, "too-long"),
        ("UC1:abc", "bad-base45"),
        ("UC1:GGW", "bad-base45"),
        ("UC1:" + good[4:7] + "A", "bad-base45"),
        (PREFIX + b45encode(b"\x78\x9c\x00\x00"), "bad-zlib"),
        (PREFIX + b45encode(zlib.compress(b"\x00" * 100_000)), "too-large-decompressed"),
        (PREFIX + b45encode(decode_text(good)[:-10]), "bad-cose"),
        (PREFIX + b45encode(b"\xd2\x84\x40"), "bad-cose"),
        (PREFIX + b45encode(cbor2.dumps("hello")), "bad-cose"),
        (short_sig, "bad-signature-length"),
        (bad_sig, "bad-signature"),
        (_resign(cbor2.dumps(_claims_map()), protected={1: -37, 4: key.short_kid}), "unsupported-alg"),
        (_resign(cbor2.dumps(_claims_map()), protected={1: 5, 4: key.short_kid}), "unsupported-alg"),
        (_resign(cbor2.dumps(_claims_map()), protected={1: "none", 4: key.short_kid}), "unsupported-alg"),
        (_resign(cbor2.dumps(_claims_map()), protected={4: key.short_kid}), "unsupported-alg"),
        (_resign(cbor2.dumps(_claims_map()), protected={1: -7, 4: key.short_kid[:7]}), "bad-kid"),
        (_resign(cbor2.dumps(_claims_map()), protected={1: -7, 4: key.short_kid, 3: 0}), "bad-header"),
        (_resign(cbor2.dumps(_claims_map()), unprotected={4: key.short_kid}), "bad-header"),
        (_resign(b"\xa1\x01"), "bad-cbor"),
        (_resign(cbor2.dumps(_claims_map()) + b"\x00"), "bad-cbor"),
        (_resign(cbor2.dumps([1, 2])), "bad-claims"),
        (_resign(cbor2.dumps(non_canonical)), "non-canonical"),
        (_resign(cbor2.dumps(with_null)), "bad-claims"),
        (_resign(cbor2.dumps(extra)), "bad-claims"),
        (_resign(cbor2.dumps({**_claims_map(), -1: 2})), "bad-version"),
        (_resign(cbor2.dumps({**_claims_map(), -9: 2**31})), "bad-status-index"),
    ]


@pytest.mark.parametrize(("text", "reason"), _invalid_cases())
def test_invalid_inputs_have_specific_reasons(text: str, reason: str, bundle: cards.TrustBundle) -> None:
    result = cards.verify(text, bundle, now=NOW)
    assert (result.status, result.reason) == ("invalid", reason)
    assert result.claims is None


def test_verify_never_raises_on_non_text(bundle: cards.TrustBundle) -> None:
    for value in (None, b"UC1:", 42, ["UC1:"]):
        result = cards.verify(value, bundle, now=NOW)  # type: ignore[arg-type]
        assert result.status == "invalid" and result.reason != "internal-error"


def test_issue_checks_key_issuer_and_time() -> None:
    claims = testing.reference_claims()
    with pytest.raises(SigningKeyError) as other:
        cards.issue(claims, testing.signing_key("VN-VGCL"), now=NOW)
    assert other.value.reason == "issuer-mismatch"
    young = generate_signing_key(testing.TEST_ISSUER, now=T0 + 10)
    with pytest.raises(SigningKeyError) as early:
        cards.issue(claims, young, now=NOW)
    assert early.value.reason == "key-not-usable"
    with pytest.raises(ClaimsError):
        cards.issue(claims, testing.signing_key(), now=claims.expires_at)


def test_issue_refuses_oversized_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cards.issuance.MAX_TEXT_CHARS", 100)
    with pytest.raises(CardTooLarge):
        cards.issue(testing.reference_claims(), testing.signing_key(), now=NOW)


def test_signatures_are_randomised_but_both_verify(bundle: cards.TrustBundle) -> None:
    a = cards.issue(testing.reference_claims(), testing.signing_key(), now=NOW)
    b = cards.issue(testing.reference_claims(), testing.signing_key(), now=NOW)
    assert a != b
    assert cards.verify(a, bundle, now=NOW).valid and cards.verify(b, bundle, now=NOW).valid


# --- fuzzing -------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_BUNDLE = testing.trust_bundle()
_TEXT = cards.issue(
    testing.reference_claims(emergency=testing.REFERENCE_EMERGENCY), testing.signing_key(), now=NOW
)
_MESSAGE = decode_text(_TEXT)
_SIGNED = cose.decode(_MESSAGE)


def _assert_safe(result: Verification) -> None:
    assert isinstance(result, Verification)
    assert result.reason != "internal-error"


@FUZZ
@given(st.text(max_size=600))
def test_fuzz_arbitrary_text(text: str) -> None:
    _assert_safe(cards.verify(text, _BUNDLE, now=NOW))
    _assert_safe(cards.verify(PREFIX + text, _BUNDLE, now=NOW))


def _mutate(data: bytes | str, op: str, position: int, value: int) -> bytes | str:
    pos = position % (len(data) + 1)
    if isinstance(data, str) and op == "flip" and not data:
        return data
    if isinstance(data, str):
        char = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"[value % 45]
        if op == "flip":
            pos = min(pos, len(data) - 1)
            return data[:pos] + char + data[pos + 1 :]
        if op == "truncate":
            return data[:pos]
        return data[:pos] + char + data[pos:]
    if op == "flip" and not data:
        return data
    if op == "flip":
        pos = min(pos, len(data) - 1)
        return data[:pos] + bytes([data[pos] ^ (value % 255 + 1)]) + data[pos + 1 :]
    if op == "truncate":
        return data[:pos]
    return data[:pos] + bytes([value % 256]) + data[pos:]


_OPS = st.lists(
    st.tuples(st.sampled_from(["flip", "truncate", "insert"]), st.integers(0, 10**6), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(_OPS)
def test_fuzz_mutated_base45_text(ops: list[tuple[str, int, int]]) -> None:
    text: bytes | str = _TEXT
    for op in ops:
        text = _mutate(text, *op)
    assert isinstance(text, str)
    result = cards.verify(text, _BUNDLE, now=NOW)
    _assert_safe(result)
    if result.valid:  # only possible if the signed bytes came through unchanged
        assert cose.decode(decode_text(text)).payload == _SIGNED.payload


@FUZZ
@given(_OPS, st.sampled_from(["message", "payload"]))
def test_fuzz_mutated_inner_bytes(ops: list[tuple[str, int, int]], layer: str) -> None:
    if layer == "message":
        data: bytes | str = _MESSAGE
        for op in ops:
            data = _mutate(data, *op)
        assert isinstance(data, bytes)
        text = encode_text(data)
    else:
        payload: bytes | str = _SIGNED.payload
        for op in ops:
            payload = _mutate(payload, *op)
        assert isinstance(payload, bytes)
        body = [_SIGNED.protected, {}, payload, _SIGNED.signature]
        text = encode_text(cbor2.dumps(cbor2.CBORTag(18, body)))
    result = cards.verify(text, _BUNDLE, now=NOW)
    _assert_safe(result)
    if result.valid:
        assert cose.decode(decode_text(text)).payload == _SIGNED.payload
        assert result.claims == dataclasses.replace(result.claims) == testing.reference_claims(
            emergency=testing.REFERENCE_EMERGENCY
        )
