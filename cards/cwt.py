"""Strict CBOR decoding and the CWT time checks (claims 4 ``exp`` and 6 ``iat``)."""

from __future__ import annotations

import io
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


def loads_strict(data: bytes, *, allow_indefinite: bool = False, reason: str = "bad-cbor",
                 allow_duplicate_keys: bool = False) -> Any:
    """Decode exactly one CBOR item: no trailing bytes, no duplicate map keys (unless told).

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
        )
        value = decoder.decode()
    except Exception as e:  # cbor2 raises CBORDecodeError but also ValueError, OverflowError, ...
        raise MalformedCard("undecodable CBOR", reason=reason) from e
    if stream.tell() != len(data):
        raise MalformedCard("trailing bytes after CBOR item", reason=reason)
    return value


def has_tag(data: bytes) -> bool:
    """Whether the well-formed CBOR ``data`` holds a tag (major type 6) anywhere.

    Raises:
        MalformedCard: (``bad-cbor``) ``data`` is not well-formed after all.
    """
    pos, pending = 0, 1  # pending: items still to read (-1 per open indefinite container)
    stack: list[int] = []
    try:
        while pending or stack:
            if not pending:
                pending = stack.pop()
                continue
            head = data[pos]
            pos += 1
            major, info = head >> 5, head & 0x1F
            if head == 0xFF:  # break: closes the innermost indefinite container
                pending = stack.pop()
                continue
            pending -= 1
            if major == 6:
                return True
            if info < 24:
                value = info
            elif info <= 27:
                size = 1 << (info - 24)
                value = int.from_bytes(data[pos : pos + size], "big")
                pos += size
            elif info == 31 and major in (2, 3, 4, 5):
                stack.append(pending)
                pending = -1  # read until the break
                continue
            else:
                raise MalformedCard("reserved CBOR additional information", reason="bad-cbor")
            if major in (2, 3):
                pos += value
            elif major in (4, 5):
                stack.append(pending)
                pending = value * (2 if major == 5 else 1)
    except IndexError as e:
        raise MalformedCard("truncated CBOR", reason="bad-cbor") from e
    return False


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
