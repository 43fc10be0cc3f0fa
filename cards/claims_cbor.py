"""Reading a UC1 claims payload (docs/uc1.md §1 step 8): one well-formed CBOR item, then a
valid claims map, then its deterministic encoding; fast for the common, canonical case."""

from __future__ import annotations

import functools
from typing import Any

import cbor2

from cards.claims import CANONICAL_KEY_ORDER, CardClaims
from cards.cwt import MAX_DEPTH, is_deterministic, loads_strict
from cards.errors import MalformedCard

_ORDERS = (CANONICAL_KEY_ORDER[:-1], CANONICAL_KEY_ORDER)  # without and with the emergency core


class _NoTags(dict[int, Any]):
    """cbor2 ``semantic_decoders`` that refuse every tag: a claims payload has none, and a
    tag such as a bignum (2) or a shared value (28/29) could decode to the same value as an
    untagged item of the same length, which the size check below must never meet."""

    def __contains__(self, tag: object) -> bool:
        return True

    def __getitem__(self, tag: int) -> Any:
        return _refuse

    def get(self, tag: int, default: Any = None) -> Any:
        return _refuse


def _refuse(decoder: Any) -> Any:
    raise ValueError("a claims payload carries no CBOR tag")


_NO_TAGS = _NoTags()
#: Tags that cbor2 could give back as a plain int, str, bytes or list, plus a wide sweep.
_PROBED_TAGS = (*range(0, 1100), 55799, 1004, 1040, 25, 256, 28, 29, 2**16, 2**32, 2**63)


def _strict_loads(payload: bytes) -> Any:
    return cbor2.loads(payload, max_depth=MAX_DEPTH, allow_indefinite=False,
                       allow_duplicate_keys=False, semantic_decoders=_NO_TAGS)


@functools.cache
def size_check_is_sound() -> bool:
    """Whether the strict decoder refuses every tag (probed once): only then does an equal
    size prove the deterministic encoding. Otherwise claims are re-encoded and compared."""
    for tag in _PROBED_TAGS:
        tagged = cbor2.dumps(cbor2.CBORTag(tag, 1))
        try:
            _strict_loads(tagged)
        except Exception:
            continue
        return False
    return True


def _head(n: int) -> int:
    return 1 if n < 24 else 2 if n < 0x100 else 3 if n < 0x10000 else 5 if n < 2**32 else 9


def _text_size(text: str) -> int:
    n = len(text) if text.isascii() else len(text.encode("utf-8"))
    return _head(n) + n


def deterministic_size(claims: dict[int, Any]) -> int:
    """The size of the deterministic encoding of a *valid* claims map (§3 types only:
    unsigned and negative integers, text, bytes, the emergency array)."""
    total = 1 + len(claims)  # the map head (≤ 23 entries) and the one-byte keys
    for value in claims.values():
        kind = type(value)
        if kind is int:
            total += _head(value if value >= 0 else -1 - value)
        elif kind is str:
            total += _text_size(value)
        elif kind is bytes:
            total += _head(len(value)) + len(value)
        else:  # [blood group or null, [allergies], [conditions]]: three one-byte heads
            blood, allergies, conditions = value
            total += 3 + (1 if blood is None else 1 + len(blood))  # blood groups are ASCII
            for allergy in allergies:
                total += _text_size(allergy)
            for code in conditions:  # ICD-10 codes are ASCII, at most 8 characters
                total += 1 + len(code)
    return total


def read_claims(payload: bytes) -> CardClaims:
    """Decode a UC1 claims payload: well-formed, then valid, then canonical.

    Raises:
        MalformedCard: ``bad-cbor`` (not one well-formed item), ``bad-claims`` /
            ``bad-version`` (not a valid claims map: duplicate, unknown, missing or mistyped
            keys, tags, values breaking §3), ``non-canonical`` (valid claims in another
            encoding than the deterministic one).
    """
    # The common case: no tag, no indefinite length, no repeated key (the strict decoder
    # refuses them), keys in canonical order, valid claims, and exactly the size of their
    # deterministic encoding: any longer head or trailing byte makes it larger, so equal
    # size means equal bytes. Anything else takes the slower path that names the reason.
    try:
        raw = _strict_loads(payload)
    except Exception:
        raw = None
    if isinstance(raw, dict) and tuple(raw) in _ORDERS:
        try:
            claims = CardClaims.from_keyed_map(raw)
        except MalformedCard:
            pass  # the reason may be an earlier one (bad-cbor): diagnosed below
        else:
            if size_check_is_sound():
                if deterministic_size(raw) == len(payload):
                    return claims
            elif cbor2.dumps(raw) == payload:
                return claims
    return _diagnose(payload)


def _decode(payload: bytes) -> Any:
    # Tags stay uninterpreted (raw): a tag whose content its meaning forbids (tag 1 around a
    # text) is still well-formed, and a valid claims map holds no tag at all (bad-claims).
    try:
        return loads_strict(payload, allow_indefinite=True, raw_tags=True)
    except MalformedCard as error:
        try:  # well-formed, but a key repeats: a map that is not a valid claims map
            loads_strict(payload, allow_indefinite=True, allow_duplicate_keys=True,
                         raw_tags=True)
        except MalformedCard:
            raise error from None
        raise MalformedCard("a claim key appears twice", reason="bad-claims") from None


def _diagnose(payload: bytes) -> CardClaims:
    """The reason a payload that is not one canonical claims map is refused (or, should it
    be one after all, its claims)."""
    raw = _decode(payload)
    # Every tag is a raw CBORTag here, which no claim's type admits: a tag anywhere is
    # bad-claims (bad-version in the version) before the encoding is looked at.
    claims = CardClaims.from_cbor_map(raw)
    # One card, one encoding (RFC 8949 §4.2.1): shortest heads, definite lengths, and keys in
    # bytewise order (all UC1 claim keys are one byte, so that is 1, 4, 6, -1 ... -10).
    if not is_deterministic(payload):
        raise MalformedCard("claims are not in deterministic CBOR encoding",
                            reason="non-canonical")
    return claims
