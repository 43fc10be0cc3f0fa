"""The text layers: base45 (RFC 9285), zlib with size limits, prefix and length."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.encoding import (
    MAX_DECOMPRESSED_BYTES,
    MAX_TEXT_CHARS,
    b45decode,
    b45encode,
    decode_text,
    deflate,
    deflate_if_smaller,
    encode_text,
    inflate,
    maybe_inflate,
)
from cards.errors import MalformedCard

RFC9285_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
    (b"\x00", "00"),
    (b"\xff\xff", "FGW"),
]


@pytest.mark.parametrize(("raw", "text"), RFC9285_EXAMPLES)
def test_base45_matches_rfc_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize("n", [1, 2, 3, 31, 64, 255, 1000])
def test_base45_round_trips_random_bytes(n: int) -> None:
    data = os.urandom(n)
    assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # 65536: one above two bytes
        ":::",  # 91124
        "ZZ",  # 1574: above one byte
        "A",  # length 3k+1
        "0000",
        "aa0",  # lower case is not base45
        "é00",
        "00\n",
        "0=0",
    ],
)
def test_base45_rejects_invalid_text(text: str) -> None:
    with pytest.raises(MalformedCard) as info:
        b45decode(text)
    assert info.value.reason == "bad-base45"


def test_base45_rejects_non_text() -> None:
    with pytest.raises(MalformedCard):
        b45decode(b"BB8")  # type: ignore[arg-type]


def test_deflate_is_a_standard_zlib_stream_with_0x78_header() -> None:
    data = b"Nguyen Thi Kim Yen " * 20
    compressed = deflate(data)
    assert compressed[0] == 0x78
    assert zlib.decompress(compressed) == data
    assert inflate(compressed) == data


def test_deflate_only_when_smaller() -> None:
    random = os.urandom(200)
    assert deflate_if_smaller(random) == random
    repetitive = b"A" * 200
    assert deflate_if_smaller(repetitive)[0] == 0x78


def test_inflate_rejects_bomb() -> None:
    bomb = zlib.compress(b"\x00" * (10 * MAX_DECOMPRESSED_BYTES))
    with pytest.raises(MalformedCard) as info:
        inflate(bomb)
    assert info.value.reason == "too-large-decompressed"


def test_inflate_accepts_exactly_the_limit() -> None:
    data = b"\x01" * MAX_DECOMPRESSED_BYTES
    assert inflate(zlib.compress(data)) == data


@pytest.mark.parametrize(
    "data",
    [
        zlib.compress(b"hello world")[:-3],  # truncated
        zlib.compress(b"hello world") + b"x",  # trailing data
        b"\x78\x9c\xff\xff\xff",  # garbage after the header
        b"\x78",
    ],
)
def test_inflate_rejects_broken_streams(data: bytes) -> None:
    with pytest.raises(MalformedCard) as info:
        inflate(data)
    assert info.value.reason == "bad-zlib"


def test_maybe_inflate_passes_uncompressed_cose_through() -> None:
    assert maybe_inflate(b"\xd2\x84") == b"\xd2\x84"
    with pytest.raises(MalformedCard) as info:
        maybe_inflate(b"\xd2" * (MAX_DECOMPRESSED_BYTES + 1))
    assert info.value.reason == "too-large-decompressed"


def test_text_round_trip_and_prefix() -> None:
    message = b"\xd2\x84" + os.urandom(100)
    text = encode_text(message)
    assert text.startswith("UC1:")
    assert decode_text(text) == message
    with pytest.raises(MalformedCard) as info:
        decode_text("HC1:" + text[4:])
    assert info.value.reason == "bad-prefix"
    assert decode_text("HC1:" + text[4:], prefix="HC1:") == message


@pytest.mark.parametrize("text", ["", "UC1", "uc1:00", " UC1:00", "UC2:00"])
def test_text_rejects_wrong_prefix(text: str) -> None:
    with pytest.raises(MalformedCard) as info:
        decode_text(text)
    assert info.value.reason == "bad-prefix"


def test_text_rejects_over_4kb_before_decoding() -> None:
    with pytest.raises(MalformedCard) as info:
        decode_text("UC1:" + "0" * MAX_TEXT_CHARS)
    assert info.value.reason == "too-long"


def _naive_b45decode(text: str) -> bytes:
    """RFC 9285 §4.2 read literally, chunk by chunk (the reference for the fast decoder)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    if any(c not in alphabet for c in text) or len(text) % 3 == 1:
        raise ValueError("bad")
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [alphabet.index(c) for c in text[i : i + 3]]
        value = sum(d * 45**k for k, d in enumerate(chunk))
        if value > (0xFFFF if len(chunk) == 3 else 0xFF):
            raise ValueError("bad")
        out += value.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=120))
def test_fast_base45_decoder_agrees_with_the_rfc_read_literally(text: str) -> None:
    """The lane arithmetic of b45decode gives the bytes, and refuses the chunks, that a
    chunk-by-chunk decoder does (overflowing chunks included: 'GGW' is 65,535 + 1)."""
    try:
        expected: bytes | None = _naive_b45decode(text)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(MalformedCard):
            b45decode(text)
    else:
        assert b45decode(text) == expected
