"""The UC1 message layer (docs/uc1.md §1 steps 5–6, §2): the one canonical COSE_Sign1 form.

A UC1 message has exactly one encoding::

    d2 84 4d a2 01 26 04 48 <kid: 8 bytes> a0 <payload bstr> <signature bstr>

(tag 18, a definite 4-array, the 13-byte protected header ``{1: -7, 4: kid}``, an empty
unprotected map, byte strings with shortest lengths). Messages in that form are sliced
directly, without a CBOR decoder; everything else is decoded in full only to name the exact
reason it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from cards.cwt import is_deterministic, loads_strict
from cards.errors import MalformedCard, UnsupportedAlgorithm

ES256 = -7
HEADER_ALG = 1
HEADER_KID = 4
TAG_COSE_SIGN1 = 18
KID_BYTES = 8
#: Tag 18, array of 4, bstr(13) holding ``{1: -7, 4: bstr(8)}``; the kid follows.
HEAD = bytes.fromhex("d2844da201260448")
#: The protected header's bytes before the kid.
PROTECTED_HEAD = HEAD[3:]
_UNPROTECTED_EMPTY = 0xA0
_KID_END = len(HEAD) + KID_BYTES
# The Sig_structure ["Signature1", protected, h'', payload] up to the protected bstr.
_TBS_HEAD = b"\x84\x6aSignature1"


@dataclass(frozen=True, slots=True)
class ParsedCard:
    """A UC1 message in canonical form, not yet verified: its kid, payload and signature,
    and ``to_be_signed``, the exact ``Sig_structure`` bytes the signature covers."""

    kid: bytes
    payload: bytes
    signature: bytes
    to_be_signed: bytes


def _bstr_at(data: bytes, pos: int) -> tuple[int, int] | None:
    """(start, end) of the byte string whose shortest-form head is at ``pos``, else None."""
    if pos >= len(data):
        return None
    head = data[pos]
    if 0x40 <= head <= 0x57:
        start, size = pos + 1, head - 0x40
    elif head == 0x58 and pos + 1 < len(data) and data[pos + 1] >= 24:
        start, size = pos + 2, data[pos + 1]
    elif head == 0x59 and pos + 2 < len(data) and data[pos + 1]:
        start, size = pos + 3, int.from_bytes(data[pos + 1 : pos + 3], "big")
    else:  # longer than 65535 bytes cannot occur under the text limit (§1 step 4)
        return None
    end = start + size
    return (start, end) if end <= len(data) else None


def _fast(message: bytes) -> ParsedCard | None:
    """Slice a message that is exactly in canonical form; None for anything else."""
    size = len(message)
    if size < _KID_END + 4 or not message.startswith(HEAD) \
            or message[_KID_END] != _UNPROTECTED_EMPTY:
        return None
    # the payload's byte-string head: the common one-byte length inline, others generally
    if message[_KID_END + 1] == 0x58 and message[_KID_END + 2] >= 24:
        payload_start = _KID_END + 3
        payload_end = payload_start + message[_KID_END + 2]
    else:
        span = _bstr_at(message, _KID_END + 1)
        if span is None:
            return None
        payload_start, payload_end = span
    # the signature: 58 40 and 64 bytes to the end, or any other well-formed byte string
    if payload_end + 66 == size and message[payload_end] == 0x58 \
            and message[payload_end + 1] == 0x40:
        signature = message[payload_end + 2 :]
    else:
        span = _bstr_at(message, payload_end)
        if span is None or span[1] != size:
            return None
        signature = message[span[0] :]
    return ParsedCard(message[len(HEAD) : _KID_END], message[payload_start:payload_end],
                      signature,
                      _TBS_HEAD + message[2:_KID_END] + b"\x40"
                      + message[_KID_END + 1 : payload_end])


def _structure(message: bytes) -> tuple[bytes, Any, bytes, bytes]:
    """Step 5: one well-formed CBOR item, a tag-18 COSE_Sign1 array of four items."""
    item = loads_strict(message, reason="bad-cose", raw_tags=True)
    if not isinstance(item, cbor2.CBORTag) or item.tag != TAG_COSE_SIGN1:
        raise MalformedCard("a UC1 message is a COSE_Sign1 with tag 18 (nothing around it)",
                            reason="bad-cose")
    body = item.value
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise MalformedCard("not a COSE_Sign1 array of four items", reason="bad-cose")
    protected, unprotected, payload, signature = body
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        raise MalformedCard("protected header, payload and signature must be byte strings",
                            reason="bad-cose")
    if not isinstance(unprotected, Mapping):
        raise MalformedCard("the unprotected header is not a map", reason="bad-cose")
    if not is_deterministic(message):  # RFC 8949 §4.2.1: bytewise key order, short floats
        raise MalformedCard("the message is not in deterministic CBOR encoding",
                            reason="bad-cose")
    return protected, unprotected, payload, signature


def _header(protected: bytes, unprotected: Mapping[Any, Any]) -> bytes:
    """Step 6, in order: a map, ``alg`` -7, exactly the keys {1, 4} and nothing unprotected,
    an 8-byte kid, then the exact 13 bytes; returns the kid."""
    header = loads_strict(protected, reason="bad-header", raw_tags=True) if protected else {}
    if not isinstance(header, Mapping):
        raise MalformedCard("the protected header is not a map", reason="bad-header")
    alg = header.get(HEADER_ALG)
    if alg != ES256 or isinstance(alg, bool):
        raise UnsupportedAlgorithm(f"algorithm {alg!r} is not ES256")
    if set(header) != {HEADER_ALG, HEADER_KID} or unprotected:
        raise MalformedCard("UC1 header must be exactly {1: -7, 4: kid} and {}",
                            reason="bad-header")
    kid = header[HEADER_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_BYTES:
        raise MalformedCard("UC1 kid must be an 8-byte byte string", reason="bad-kid")
    if protected != PROTECTED_HEAD + kid:
        raise MalformedCard("the protected header is not a2 01 26 04 48 <kid>",
                            reason="bad-header")
    return kid


def parse_message(message: bytes) -> ParsedCard:
    """Parse a UC1 message (steps 5 and 6).

    Raises:
        MalformedCard: ``bad-cose`` (structure or encoding), ``bad-header``, ``bad-kid``.
        UnsupportedAlgorithm: ``alg`` missing or not ES256.
    """
    fast = _fast(message)
    if fast is not None:
        return fast
    protected, unprotected, _, _ = _structure(message)
    _header(protected, unprotected)
    # Passing every check above means the message is in the canonical form that _fast
    # slices, so this is unreachable; it keeps a second encoding from ever being accepted.
    raise MalformedCard("the message is not in the canonical UC1 form", reason="bad-cose")
