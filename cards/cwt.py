"""Strict CBOR decoding and the CWT time checks (claims 4 ``exp`` and 6 ``iat``)."""

from __future__ import annotations

import functools
import io
import math
import struct
from collections.abc import Mapping
from typing import Any

import cbor2

from cards.errors import ExpiredCard, MalformedCard, NotYetValid
from cards.timeutil import DEFAULT_SKEW, Instant, epoch_seconds

CWT_ISS = 1
CWT_EXP = 4
CWT_IAT = 6
#: The deepest nesting of CBOR items accepted (docs/uc1.md §1 step 5).
MAX_DEPTH = 16


class _RawTags(dict[int, Any]):
    """cbor2 ``semantic_decoders`` that interpret no tag: every tag decodes to a
    :class:`cbor2.CBORTag` around its content. Well-formedness (RFC 8949 §3, docs/uc1.md
    §1 steps 5 and 8) never depends on what a tag means, so a tag 1 around a text string or a
    tag 2 around an array is well-formed, and the claims check refuses it (a mistyped value)."""

    def __contains__(self, tag: object) -> bool:
        return True

    def __getitem__(self, tag: int) -> Any:
        return functools.partial(_raw_tag, tag)

    def get(self, tag: int, default: Any = None) -> Any:
        return self[tag]


def _raw_tag(tag: int, value: Any, immutable: bool = False) -> cbor2.CBORTag:
    return cbor2.CBORTag(tag, value)


_RAW_TAGS = _RawTags()


def loads_strict(data: bytes, *, allow_indefinite: bool = False, reason: str = "bad-cbor",
                 allow_duplicate_keys: bool = False, raw_tags: bool = False) -> Any:
    """Decode exactly one CBOR item: no trailing bytes, no duplicate map keys (unless told),
    at most :data:`MAX_DEPTH` arrays, maps and tags nested in each other.

    ``raw_tags`` keeps every tag as a :class:`cbor2.CBORTag` (UC1: well-formedness only);
    otherwise cbor2 interprets the tags it knows (a bignum, a date, ...).

    Raises:
        MalformedCard: (``reason``, default ``bad-cbor``) for anything cbor2 cannot decode.
    """
    if not isinstance(data, bytes | bytearray):
        raise MalformedCard("CBOR input must be bytes", reason=reason)
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            max_depth=MAX_DEPTH,
            allow_indefinite=allow_indefinite,
            allow_duplicate_keys=allow_duplicate_keys,
            semantic_decoders=_RAW_TAGS if raw_tags else None,
        )
        value = decoder.decode()
    except Exception as e:  # cbor2 raises CBORDecodeError but also ValueError, OverflowError, ...
        raise MalformedCard("undecodable CBOR", reason=reason) from e
    if stream.tell() != len(data):
        raise MalformedCard("trailing bytes after CBOR item", reason=reason)
    return value


def _float_is_shortest(info: int, raw: bytes) -> bool:
    """Whether the float of additional information ``info`` (25, 26, 27: half, single,
    double) with ``raw`` bytes is in its shortest form (RFC 8949 §4.2.1; NaN as f9 7e 00)."""
    value = struct.unpack({25: ">e", 26: ">f", 27: ">d"}[info], raw)[0]
    if math.isnan(value):
        return info == 25 and raw == b"\x7e\x00"
    if info == 25:
        return True
    for shorter, form in ((25, ">e"), (26, ">f")):
        if shorter >= info:
            break
        try:
            if struct.unpack(form, struct.pack(form, value))[0] == value:
                return False  # the shorter form holds the same value
        except OverflowError:
            pass
    return True


def is_deterministic(data: bytes) -> bool:
    """Whether the well-formed CBOR item ``data`` is in deterministic encoding (RFC 8949
    §4.2.1, docs/uc1.md §1 step 5): every head and float in its shortest form, definite
    lengths only, and the keys of every map in strictly ascending bytewise order of their
    encodings (not RFC 7049's length-first order: key -1 (20) comes after key 24 (18 18)).
    Anything not well-formed is ``False``."""
    try:
        end = _deterministic_item(data, 0)
    except (IndexError, ValueError, OverflowError, struct.error):
        return False
    return end == len(data)


_LEAST = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}


def _deterministic_item(data: bytes, pos: int, depth: int = 0) -> int:
    """The end of the deterministically encoded item at ``pos``; ValueError otherwise."""
    if depth > 4 * MAX_DEPTH:
        raise ValueError("nesting too deep")
    initial = data[pos]
    pos += 1
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        arg = info
    elif info <= 27:
        size = 1 << (info - 24)
        raw = data[pos : pos + size]
        if len(raw) != size:
            raise ValueError("truncated")
        pos += size
        if major == 7:
            if info == 24 and raw[0] < 32:
                raise ValueError("a two-byte simple value below 32 is not well-formed")
            if info > 24 and not _float_is_shortest(info, raw):
                raise ValueError("a float not in its shortest form")
            return pos
        arg = int.from_bytes(raw, "big")
        if arg < _LEAST[info]:
            raise ValueError("head not in its shortest form")
    else:
        raise ValueError("indefinite length or reserved additional information")
    if major in (2, 3):
        if pos + arg > len(data):
            raise ValueError("truncated")
        return pos + arg
    if major == 6:
        return _deterministic_item(data, pos, depth + 1)
    if major == 4:
        for _ in range(arg):
            pos = _deterministic_item(data, pos, depth + 1)
    elif major == 5:
        previous = b""
        for i in range(arg):
            start = pos
            pos = _deterministic_item(data, pos, depth + 1)
            key = data[start:pos]
            if i and key <= previous:
                raise ValueError("map keys not in bytewise ascending order")
            previous = key
            pos = _deterministic_item(data, pos, depth + 1)
    return pos


def dumps_canonical(value: Any) -> bytes:
    """Encode ``value`` as canonical (deterministic, RFC 8949 §4.2.3 length-first) CBOR."""
    return cbor2.dumps(value, canonical=True)


def _time_claim(claims: Mapping[Any, Any], key: int) -> int | None:
    value = claims.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedCard(f"CWT claim {key} is not a number", reason="bad-claims")
    return int(value)


def check_times(claims: Mapping[Any, Any], now: Instant, *, skew: int = DEFAULT_SKEW) -> None:
    """Check CWT ``iat`` (6) and ``exp`` (4) against ``now`` with ``skew`` seconds of slack.

    A card is not yet valid when ``now < iat - skew`` and expired when ``now > exp + skew``.

    Raises:
        NotYetValid: ``iat`` lies in the future.
        ExpiredCard: ``exp`` has passed.
        MalformedCard: (``bad-claims``) a time claim is not a number.
    """
    if not isinstance(claims, Mapping):
        raise MalformedCard("CWT claims must be a map", reason="bad-claims")
    t = epoch_seconds(now)
    iat = _time_claim(claims, CWT_IAT)
    exp = _time_claim(claims, CWT_EXP)
    if iat is not None and t < iat - skew:
        raise NotYetValid(f"issued at {iat}, now {t}")
    if exp is not None and t > exp + skew:
        raise ExpiredCard(f"expired at {exp}, now {t}")
