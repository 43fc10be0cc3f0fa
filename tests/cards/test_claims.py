"""CardClaims and EmergencyCore: invariants, CBOR map form, strict decoding, compactness."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import cbor2
import pytest

from cards.claims import (
    CANONICAL_KEY_ORDER,
    CardClaims,
    EmergencyCore,
    new_serial,
)
from cards.errors import ClaimsError, MalformedCard
from cards.testing import REFERENCE_EMERGENCY, reference_claims


def test_reference_claims_round_trip() -> None:
    for claims in (reference_claims(), reference_claims(emergency=REFERENCE_EMERGENCY)):
        assert CardClaims.from_cbor_map(claims.to_cbor_map()) == claims
        assert cbor2.loads(claims.to_cbor()) == claims.to_cbor_map()


@pytest.mark.parametrize("emergency", [None, REFERENCE_EMERGENCY, EmergencyCore("AB-")])
def test_fast_encoding_equals_canonical_cbor(emergency: EmergencyCore | None) -> None:
    claims = reference_claims(emergency=emergency, status_index=131071, birth_date=date(1901, 1, 1))
    assert claims.to_cbor() == cbor2.dumps(claims.to_cbor_map(), canonical=True)


def test_cbor_keys_are_registered_cwt_and_small_negative() -> None:
    keys = list(reference_claims(emergency=REFERENCE_EMERGENCY).to_cbor_map())
    assert keys == list(CANONICAL_KEY_ORDER)
    assert keys[:3] == [1, 4, 6]


def test_claims_are_compact() -> None:
    assert len(reference_claims().to_cbor()) <= 115
    assert len(reference_claims(emergency=REFERENCE_EMERGENCY).to_cbor()) <= 150


def test_serials_are_random_base32() -> None:
    serials = {new_serial() for _ in range(100)}
    assert len(serials) == 100
    assert all(len(s) == 16 and s.isupper() for s in serials)


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"issuer": "vn-vgcl"},
        {"issuer": "VNVGCL"},
        {"serial": "K5Q2M7XRT4HZ3WB"},
        {"serial": "K5Q2M7XRT4HZ3WB1"},
        {"member_number": ""},
        {"member_number": "79 0001"},
        {"name": "Nguye\u0302\u0303n"},  # not NFC
        {"name": " Yến"},
        {"name": "Yến\n"},
        {"name": "x" * 81},
        {"birth_date": date(1899, 12, 31)},
        {"birth_date": date(2030, 1, 1)},
        {"union_code": "a"},
        {"province_code": "7"},
        {"province_code": "7A"},
        {"issued_at": -1},
        {"issued_at": True},
        {"expires_at": 1761984000},
        {"status_list_id": -1},
        {"status_index": 2**32},
        {"emergency": "O+"},
    ],
)
def test_construction_rejects_invalid_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ClaimsError) as info:
        reference_claims(**changes)
    assert isinstance(info.value, ValueError)
    assert info.value.reason == "bad-claims"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"blood_group": "0+"},
        {"blood_group": "AB"},
        {"allergies": ("a", "b", "c", "d")},
        {"allergies": ["Penicillin"]},
        {"allergies": ("",)},
        {"allergies": ("x" * 33,)},
        {"allergies": ("Penicillin", "Penicillin")},
        {"conditions": ("E11", "e11")},
        {"conditions": ("E1",)},
        {"conditions": ("E11.12345",)},
        {},
    ],
)
def test_emergency_core_invariants(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ClaimsError):
        EmergencyCore(**kwargs)


def test_emergency_core_accepts_icd10_forms() -> None:
    core = EmergencyCore(None, (), ("E11", "J45.9", "U07.1"))
    assert EmergencyCore.from_cbor(core.to_cbor()) == core


def _mutated(**changes: Any) -> dict[Any, Any]:
    claims = reference_claims(emergency=REFERENCE_EMERGENCY).to_cbor_map()
    for key, value in changes.items():
        k = int(key.replace("m", "-").removeprefix("k"))
        if value is dataclasses.MISSING:
            del claims[k]
        else:
            claims[k] = value
    return claims


@pytest.mark.parametrize(
    "claims",
    [
        [],
        {},
        _mutated(k99="extra"),
        _mutated(m2=dataclasses.MISSING),
        _mutated(k1=7),
        _mutated(k4="soon"),
        _mutated(k6=1.5),
        _mutated(m2=b"short"),
        _mutated(m2="K5Q2M7XRT4HZ3WBA"),
        _mutated(m4=b"name"),
        _mutated(m5="1994-03-08"),
        _mutated(m5=-10**9),
        _mutated(m9=-1),
        _mutated(m10=None),
        _mutated(m10=["O+", [], []] + [1]),
        _mutated(m10={"bg": "O+"}),
        _mutated(m10=["O+", "Penicillin", []]),
        _mutated(m10=[None, [], []]),
    ],
)
def test_strict_decoding_rejects_bad_maps(claims: Any) -> None:
    with pytest.raises(MalformedCard) as info:
        CardClaims.from_cbor_map(claims)
    assert info.value.reason == "bad-claims"


def test_decoding_rejects_other_versions_with_own_reason() -> None:
    with pytest.raises(MalformedCard) as info:
        CardClaims.from_cbor_map(_mutated(m1=2))
    assert info.value.reason == "bad-version"


def test_to_dict_is_json_ready() -> None:
    view = reference_claims(emergency=REFERENCE_EMERGENCY).to_dict()
    assert view["birth_date"] == "1994-03-08"
    assert view["emergency"] == {
        "blood_group": "O+",
        "allergies": ["Penicillin", "Đậu phộng"],
        "conditions": ["E11"],
    }
