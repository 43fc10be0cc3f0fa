"""The claims reader's fast path: it accepts exactly the deterministic encoding, and the size
shortcut it takes is sound only because the strict decoder refuses every CBOR tag."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import testing
from cards.claims import EmergencyCore
from cards.claims_cbor import _strict_loads, deterministic_size, read_claims, size_check_is_sound
from cards.errors import MalformedCard


def test_the_strict_decoder_refuses_every_tag() -> None:
    """If a cbor2 release decoded some tag past ``semantic_decoders`` the reader would fall
    back to re-encoding; this pins that the fast path is in use and sound."""
    assert size_check_is_sound()
    for tag in (2, 3, 25, 28, 29, 256, 55799, 12345, 2**40):
        with pytest.raises(cbor2.CBORDecodeError):
            _strict_loads(cbor2.dumps(cbor2.CBORTag(tag, 1)))


_names = st.text(alphabet="abcdeyĐđậộễýỳ AÂ'", min_size=1, max_size=80).map(str.strip).filter(
    lambda s: bool(s) and "  " not in s)


@settings(max_examples=200, deadline=None)
@given(name=_names, index=st.integers(0, 2**32 - 1), list_id=st.integers(0, 2**32 - 1),
       iat=st.integers(0, 2**40), days=st.integers(1, 10**5), emergency=st.booleans())
def test_size_of_valid_claims_is_their_encoded_size(name: str, index: int, list_id: int,
                                                    iat: int, days: int,
                                                    emergency: bool) -> None:
    import unicodedata

    claims = testing.reference_claims(
        name=unicodedata.normalize("NFC", name), status_index=index, status_list_id=list_id,
        issued_at=iat + 10**9, expires_at=iat + 10**9 + days * 86400,
        emergency=EmergencyCore(blood_group="AB+", allergies=("Tôm", "Đậu phộng"),
                                conditions=("E11",)) if emergency else None)
    raw = claims.to_cbor_map()
    payload = cbor2.dumps(raw)
    assert deterministic_size(raw) == len(payload)
    assert read_claims(payload) == claims


@pytest.mark.parametrize("change, reason", [
    (lambda p: p.replace(b"\x06\x1a", b"\x06\x1b\x00\x00\x00\x00", 1), "non-canonical"),
    (lambda p: p + b"\x00", "bad-cbor"),
    (lambda p: b"\xbf" + p[1:] + b"\xff", "non-canonical"),
])
def test_every_other_encoding_is_refused(change, reason: str) -> None:
    payload = change(testing.reference_claims().to_cbor())
    with pytest.raises(MalformedCard) as refused:
        read_claims(payload)
    assert refused.value.reason == reason
