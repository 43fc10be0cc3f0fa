"""The cases docs/uc1.md decides since issue 23, at the level of the library's parts (the
conformance vectors in docs/vectors/ check them end to end, here and in the browser):
what well-formed, nesting depth and deterministic encoding mean (§1 step 5), the order of
bad-version and bad-claims (§1 step 8.2), tags in claims, the birth date's upper bound
(§3), and the trust bundle's strict JSON and `typ` (§5)."""

from __future__ import annotations

from datetime import date

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import testing
from cards.claims import EmergencyCore
from cards.claims_cbor import read_claims
from cards.cwt import MAX_DEPTH, is_deterministic, loads_strict
from cards.errors import MalformedCard, TrustError
from cards.trust import BUNDLE_TYP, TrustBundle, is_bundle_typ, read_json


@pytest.mark.parametrize(("hex_item", "deterministic"), [
    ("a21818002000", True),   # {24: 0, -1: 0}: bytewise (18 18 < 20)
    ("a22000181800", False),  # {-1: 0, 24: 0}: RFC 7049 length-first order
    ("a201000100", False),    # a key twice is never ascending
    ("a20200 0100".replace(" ", ""), False),
    ("f93e00", True),         # 1.5 as a half
    ("fa3fc00000", False),    # 1.5 as a single: a half holds it
    ("fb3ff8000000000000", False),
    ("fa47c35000", True),     # 100000.0: a half cannot hold it
    ("fb3ff0000000000001", True),
    ("f97e00", True),         # NaN, the one deterministic NaN
    ("fb7ff8000000000000", False),
    ("f820", True),           # simple(32) needs two bytes
    ("1817", False),          # 23 in a one-byte head
    ("d81203", False),        # tag 18 in a longer head than needed
    ("5f4100ff", False),      # an indefinite-length byte string
    ("c163616263", True),     # tag 1 around a text: no business of determinism
])
def test_deterministic_encoding_is_rfc8949_core(hex_item: str, deterministic: bool) -> None:
    assert is_deterministic(bytes.fromhex(hex_item)) is deterministic


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.integers(-2**64 + 1, 2**64 - 1) | st.text(max_size=30)
                    | st.binary(max_size=30) | st.booleans() | st.none(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.integers(-300, 300) | st.text(max_size=4), inner,
                                      max_size=4), max_leaves=20))
def test_a_bytewise_sorted_encoding_is_deterministic(value: object) -> None:
    """Any value encoded with every map's keys sorted bytewise (shortest heads, definite
    lengths: cbor2's plain output) is deterministic; cbor2's canonical (length-first) output
    differs exactly where the two orders do."""
    def bytewise(item: object) -> object:
        if isinstance(item, dict):
            keys = sorted(item, key=cbor2.dumps)
            return {k: bytewise(item[k]) for k in keys}
        if isinstance(item, list):
            return [bytewise(x) for x in item]
        return item
    assert is_deterministic(cbor2.dumps(bytewise(value)))


def _nested(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"


def test_nesting_depth_counts_arrays_maps_and_tags() -> None:
    assert MAX_DEPTH == 16
    for item in (_nested(16), b"\xc1" * 16 + b"\x00", b"\xa1\x01" * 16 + b"\x00",
                 b"\xd2" + b"\x81" * 15 + b"\x00"):
        loads_strict(item, raw_tags=True)  # 16 levels, a scalar inside the 16th: fine
    for item in (_nested(17), b"\xc1" * 17 + b"\x00", b"\xa1\x01" * 17 + b"\x00",
                 b"\xd2" + b"\x81" * 16 + b"\x00"):
        with pytest.raises(MalformedCard):
            loads_strict(item, raw_tags=True)


def test_a_tag_is_well_formed_whatever_its_content() -> None:
    """§1 step 5: tag 1 around a text, tag 2 around a text are well-formed (RFC 8949 §3);
    cbor2's own reading of them refuses them, which UC1 must not do."""
    for item in (b"\xc1\x63abc", b"\xc2\x61x", b"\xc0\x69yesterday", b"\xd8\x1d\x05"):
        value = loads_strict(item, raw_tags=True)
        assert isinstance(value, cbor2.CBORTag)
        with pytest.raises(MalformedCard):
            loads_strict(item)  # interpreted, as for the EU vectors: refused


def _payload(**changes: object) -> bytes:
    claims = testing.reference_claims().to_cbor_map()
    for key, value in changes.items():  # k1 -> claim 1, km5 -> claim -5
        claims[int(key.replace("k", "").replace("m", "-"))] = value
    return cbor2.dumps(claims)


def _reason(payload: bytes) -> str:
    with pytest.raises(MalformedCard) as info:
        read_claims(payload)
    return info.value.reason


def test_the_version_is_read_before_the_other_claims() -> None:
    assert _reason(_payload(km1=2, km11=1)) == "bad-version"  # a claim of version 2
    assert _reason(_payload(km1=2, km4="")) == "bad-version"
    assert _reason(_payload(km1=cbor2.CBORTag(2, b"\x01"))) == "bad-version"  # a bignum 1
    assert _reason(_payload(km1=1.0)) == "bad-version"
    assert _reason(_payload(km1=True)) == "bad-version"
    assert _reason(_payload(km11=1)) == "bad-claims"  # version 1, an unknown claim
    without = testing.reference_claims().to_cbor_map()
    del without[-1]
    assert _reason(cbor2.dumps(without)) == "bad-claims"


def test_a_tag_in_the_claims_is_bad_claims_never_bad_cbor() -> None:
    for change in ({"k6": cbor2.CBORTag(1, "abc")}, {"k4": cbor2.CBORTag(2, "x")},
                   {"km5": cbor2.CBORTag(0, "yesterday")},
                   {"km4": cbor2.CBORTag(99999, "Nguyễn Thị Kim Yến")}):
        assert _reason(_payload(**change)) == "bad-claims", change
    assert _reason(b"\xd9\xd9\xf7" + _payload()) == "bad-claims"


def test_the_birth_date_goes_up_to_9999_12_31() -> None:
    far = {"k6": 2**52, "k4": 2**53 - 1}
    last = (date(9999, 12, 31) - date(1970, 1, 1)).days
    assert read_claims(_payload(**far, km5=last)).birth_date == date(9999, 12, 31)
    assert read_claims(_payload(**far, km5=100_000)).birth_date == date(2243, 10, 17)
    assert _reason(_payload(**far, km5=last + 1)) == "bad-claims"


def test_allergies_have_no_surrounding_spaces() -> None:
    assert EmergencyCore(allergies=("Đậu  phộng",)).allergies == ("Đậu  phộng",)
    for allergy in (" Tôm", "Tôm ", " "):
        assert _reason(_payload(km10=[None, [allergy], []])) == "bad-claims"


@pytest.mark.parametrize("body", [
    b'\xef\xbb\xbf{"a": 1}',            # a byte-order mark
    b'{"a": 1, "a": 1}',                # a member twice, even with one value
    b'{"a": 1.0}', b'{"a": 1e0}', b'{"a": 10E-1}', b'{"a": -0.0}',
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
    b'{"a": 9007199254740992}', b'{"a": -9007199254740992}',
    b'{"a": "\xff"}',                   # not UTF-8
    b"[" * 3000 + b"]" * 3000,          # deeper than any parser: refused, not a crash
])
def test_bundle_json_is_strict(body: bytes) -> None:
    with pytest.raises(TrustError) as info:
        read_json(body)
    assert info.value.reason == "bad-bundle"


def test_bundle_json_layout_is_free() -> None:
    assert read_json(b' {\n "b" : [ 9007199254740991 , -3, "x" ], "a":{}}\r\n') == {
        "b": [2**53 - 1, -3, "x"], "a": {}}


def test_bundle_format_is_the_integer_one() -> None:
    payload = TrustBundle(1, 1, ()).to_payload()
    for value in (True, 1.0, "1"):
        with pytest.raises(TrustError):
            TrustBundle.from_payload({**payload, "format": value})
    assert TrustBundle.from_payload(payload).version == 1


@pytest.mark.parametrize(("typ", "accepted"), [
    (BUNDLE_TYP, True), ("application/unioncard-trust+jwt", True),
    ("UNIONCARD-TRUST+JWT", True), ("Application/UnionCard-Trust+Jwt", True),
    ("application/x-unioncard-trust+jwt", False), ("text/unioncard-trust+jwt", False),
    ("unioncard-trust+jwt; charset=utf-8", False), ("unioncard-trust+jwt ", False),
    ("JWT", False), ("", False), (None, False), (1, False), (["unioncard-trust+jwt"], False),
    ("unioncard-trust+jwt".replace("i", "\u0131"), False),  # a dotless i is not ASCII
])
def test_bundle_typ_is_compared_as_rfc7515_says(typ: object, accepted: bool) -> None:
    assert is_bundle_typ(typ) is accepted
